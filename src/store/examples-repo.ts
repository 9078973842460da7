/**
 * Example needs learned from use: when an agent calls a tool that a find_capability decision
 * offered, and the call succeeds, the need becomes an example phrasing of that tool. Bounded per
 * tool (oldest dropped first) and removable through the admin API.
 */
import type { Db } from './db.js';

/** A learned example. */
export interface LearnedExample {
  readonly id: number;
  readonly tool: string;
  readonly need: string;
  readonly decisionId: string | null;
  readonly createdAt: string;
}

/** SQLite store of learned examples. */
export class SqliteExampleStore {
  readonly #db: Db;
  readonly #perTool: number;

  constructor(db: Db, perTool = 20) {
    this.#db = db;
    this.#perTool = perTool;
  }

  /** Adds an example (ignored if the same need is already stored for the tool); returns true when added. */
  add(tool: string, need: string, decisionId: string | undefined): boolean {
    return this.#db.transaction(() => {
      const inserted =
        this.#db
          .prepare('INSERT OR IGNORE INTO learned_examples (tool, need, decision_id) VALUES (?, ?, ?)')
          .run(tool, need, decisionId ?? null).changes > 0;
      if (inserted) {
        this.#db
          .prepare(
            'DELETE FROM learned_examples WHERE tool = ? AND id NOT IN (SELECT id FROM learned_examples WHERE tool = ? ORDER BY id DESC LIMIT ?)',
          )
          .run(tool, tool, this.#perTool);
      }
      return inserted;
    })();
  }

  /** Every example, optionally for one tool. */
  list(tool?: string): LearnedExample[] {
    const rows = (
      tool
        ? this.#db
            .prepare('SELECT id, tool, need, decision_id, created_at FROM learned_examples WHERE tool = ? ORDER BY id')
            .all(tool)
        : this.#db.prepare('SELECT id, tool, need, decision_id, created_at FROM learned_examples ORDER BY id').all()
    ) as { id: number; tool: string; need: string; decision_id: string | null; created_at: string }[];
    return rows.map((r) => ({
      id: r.id,
      tool: r.tool,
      need: r.need,
      decisionId: r.decision_id,
      createdAt: r.created_at,
    }));
  }

  /** Removes one example by id. */
  remove(id: number): boolean {
    return this.#db.prepare('DELETE FROM learned_examples WHERE id = ?').run(id).changes > 0;
  }
}
