/**
 * Example needs learned from use: when an agent calls a tool that a find_capability decision
 * offered, and the call succeeds, the need becomes an example phrasing of that tool. Bounded per
 * tool (oldest dropped first) and removable through the admin API. A store is bound to one tenant:
 * one tenant's agents never teach another's router, and the bound counts each tenant's rows alone.
 */
import { DEFAULT_TENANT } from '../core/principal.js';
import type { Db } from './db.js';

/** A learned example. */
export interface LearnedExample {
  readonly id: number;
  readonly tool: string;
  readonly need: string;
  readonly decisionId: string | null;
  readonly createdAt: string;
}

interface Row {
  id: number;
  tool: string;
  need: string;
  decision_id: string | null;
  created_at: string;
}

const COLUMNS = 'id, tool, need, decision_id, created_at';

/** SQLite store of learned examples, for one tenant. */
export class SqliteExampleStore {
  /** The tenant whose examples this instance reads and writes. */
  readonly tenant: string;
  readonly #db: Db;
  readonly #perTool: number;

  constructor(db: Db, perTool = 20, tenant: string = DEFAULT_TENANT) {
    this.#db = db;
    this.#perTool = perTool;
    this.tenant = tenant;
  }

  /** Adds an example (ignored if the same need is already stored for the tool); returns true when added. */
  add(tool: string, need: string, decisionId: string | undefined): boolean {
    const tenant = this.tenant;
    return this.#db.transaction(() => {
      const inserted =
        this.#db
          .prepare('INSERT OR IGNORE INTO learned_examples (tenant, tool, need, decision_id) VALUES (?, ?, ?, ?)')
          .run(tenant, tool, need, decisionId ?? null).changes > 0;
      if (inserted) {
        this.#db
          .prepare(
            `DELETE FROM learned_examples WHERE tenant = @tenant AND tool = @tool AND id NOT IN
               (SELECT id FROM learned_examples WHERE tenant = @tenant AND tool = @tool ORDER BY id DESC LIMIT @limit)`,
          )
          .run({ tenant, tool, limit: this.#perTool });
      }
      return inserted;
    })();
  }

  /** Every example, optionally for one tool. */
  list(tool?: string): LearnedExample[] {
    const rows = (
      tool
        ? this.#db
            .prepare(`SELECT ${COLUMNS} FROM learned_examples WHERE tenant = ? AND tool = ? ORDER BY id`)
            .all(this.tenant, tool)
        : this.#db.prepare(`SELECT ${COLUMNS} FROM learned_examples WHERE tenant = ? ORDER BY id`).all(this.tenant)
    ) as Row[];
    return rows.map((r) => ({
      id: r.id,
      tool: r.tool,
      need: r.need,
      decisionId: r.decision_id,
      createdAt: r.created_at,
    }));
  }

  /** Removes one example by id (false when no example of this tenant has that id). */
  remove(id: number): boolean {
    return (
      this.#db.prepare('DELETE FROM learned_examples WHERE tenant = ? AND id = ?').run(this.tenant, id).changes > 0
    );
  }
}
