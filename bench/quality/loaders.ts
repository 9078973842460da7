/**
 * Loaders turning evaluation data into the agreed shape (bench/quality/types.ts): our own set in
 * the agreed format, and the public sets in ../shared/eval in their own formats (read in place,
 * never copied). Tools whose name several servers share count as relevant on every such server,
 * as the sets' README advises ("score by tool name").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalQuery, EvalServer, EvalSet } from './types.js';

/** Reads a catalog.json + queries.jsonl pair (DESIGN.md §4). Several pairs may be merged. */
export function loadAgreed(name: string, pairs: readonly { catalog: string; queries: string }[]): EvalSet {
  const servers: EvalServer[] = [];
  const queries: EvalQuery[] = [];
  for (const pair of pairs) {
    const catalog = JSON.parse(readFileSync(pair.catalog, 'utf8')) as { servers: EvalServer[] };
    servers.push(...catalog.servers);
    queries.push(...readQueries(pair.queries));
  }
  return { name, servers, queries, notes: pairs.map((p) => p.catalog).join(', ') };
}

/**
 * Our own evaluation set under data/eval/switchboard: each catalog-X.json with its queries-X.jsonl
 * and any further queries-X.<part>.jsonl (needs written later, e.g. "actions" for issue 15). With
 * `holdout`, the queries are those of holdout/queries-X.jsonl instead: needs kept unseen while the
 * ranking was changed, measured only at the end; with `firstPartOnly`, only queries-X.jsonl (the
 * set as it was before issue 15, which the quality-floor test guards).
 */
export function loadSwitchboard(dir: string, options: { holdout?: boolean; firstPartOnly?: boolean } = {}): EvalSet {
  const catalogs = readdirSync(dir)
    .filter((f) => /^catalog(-[a-z0-9]+)?\.json$/.test(f))
    .sort();
  const servers: EvalServer[] = [];
  const queries: EvalQuery[] = [];
  for (const catalog of catalogs) {
    const part = catalog.replace(/^catalog/, '').replace(/\.json$/, '');
    const files = options.holdout
      ? [join(dir, 'holdout', `queries${part}.jsonl`)].filter((f) => existsSync(f))
      : readdirSync(dir)
          .filter(
            (f) =>
              f === `queries${part}.jsonl` ||
              (!options.firstPartOnly && f.startsWith(`queries${part}.`) && f.endsWith('.jsonl')),
          )
          .sort()
          .map((f) => join(dir, f));
    if (!files.length) continue;
    const set = loadAgreed('switchboard', [{ catalog: join(dir, catalog), queries: files[0] ?? '' }]);
    servers.push(...set.servers);
    queries.push(...set.queries);
    for (const file of files.slice(1)) queries.push(...readQueries(file));
  }
  return {
    name: options.holdout ? 'switchboard-holdout' : 'switchboard',
    servers,
    queries,
    notes: `${dir}${options.holdout ? ' (holdout)' : ''}`,
  };
}

function readQueries(path: string): EvalQuery[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as EvalQuery);
}

/** Every "server/tool" id of tools named `tool` in the catalog. */
function byName(servers: readonly EvalServer[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const s of servers)
    for (const t of s.tools) index.set(t.name, [...(index.get(t.name) ?? []), `${s.name}/${t.name}`]);
  return index;
}

/** LiveMCPBench: its 70-server catalog, and task steps aligned with their tools where counts match. */
export function loadLiveMcpBench(dir: string): EvalSet {
  type Raw = {
    name: string;
    description?: string;
    tools: Record<string, { tools: { name: string; description?: string; inputSchema?: unknown }[] }>;
  };
  const raw = JSON.parse(readFileSync(join(dir, 'tools.json'), 'utf8')) as Raw[];
  const servers: EvalServer[] = raw.map((s) => ({
    name: s.name,
    ...(s.description ? { description: s.description } : {}),
    tools: Object.values(s.tools).flatMap((t) => t.tools),
  }));
  const names = byName(servers);
  type Task = { task_id: string; 'Annotator Metadata': { Steps: string; Tools: string } };
  const tasks = JSON.parse(readFileSync(join(dir, 'all_annotations.json'), 'utf8')) as Task[];
  const numbered = (text: string) =>
    text
      .split('\n')
      .map((l) => /^\s*\d+\.\s*(.+?)\s*$/.exec(l)?.[1])
      .filter((x): x is string => Boolean(x));
  const queries: EvalQuery[] = [];
  for (const task of tasks) {
    const steps = numbered(task['Annotator Metadata'].Steps);
    const tools = numbered(task['Annotator Metadata'].Tools);
    if (steps.length !== tools.length) continue;
    steps.forEach((step, i) => {
      const relevant = names.get(tools[i] ?? '') ?? [];
      if (relevant.length) queries.push({ id: `${task.task_id}-${i + 1}`, query: step, relevant });
    });
  }
  return {
    name: 'livemcpbench-steps',
    servers,
    queries,
    notes: 'task steps aligned by position with annotated tools (tasks with #steps == #tools)',
  };
}

/** MCPToolBench++ single-call queries over the union of their candidate tools (the malformed map file is skipped). */
export function loadMcpToolBench(dir: string): EvalSet {
  type Rec = {
    uuid: string;
    query: string;
    tools: { name: string; description?: string; input_schema?: unknown }[];
    mcp_tools_dict: Record<string, string[]>;
    function_call_label: { name: string; mcp_server: string }[];
  };
  const tools = new Map<string, Map<string, { name: string; description?: string; inputSchema?: unknown }>>();
  const queries: EvalQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => /_single.*\.json$/.test(f))) {
    let records: Rec[];
    try {
      records = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Rec[];
    } catch {
      continue; // map_single_demo.json is not valid JSON (see the sets' README)
    }
    for (const r of records) {
      const defs = new Map(r.tools.map((t) => [t.name, t]));
      for (const [server, list] of Object.entries(r.mcp_tools_dict)) {
        const map =
          tools.get(server) ?? new Map<string, { name: string; description?: string; inputSchema?: unknown }>();
        for (const name of list) {
          const def = defs.get(name);
          map.set(name, {
            name,
            ...(def?.description ? { description: def.description } : {}),
            ...(def?.input_schema ? { inputSchema: def.input_schema } : {}),
          });
        }
        tools.set(server, map);
      }
      const label = r.function_call_label[0];
      if (label) queries.push({ id: r.uuid, query: r.query, relevant: [`${label.mcp_server}/${label.name}`] });
    }
  }
  const servers = [...tools].map(([name, map]) => ({ name, tools: [...map.values()] }));
  const names = byName(servers);
  // Equivalent tools of the same name on another server of the pool are also right answers.
  const widened = queries.map((q) => ({
    ...q,
    relevant: [...new Set(q.relevant.flatMap((id) => names.get(id.split('/')[1] ?? '') ?? [id]))],
  }));
  return {
    name: 'mcptoolbench++',
    servers,
    queries: widened,
    notes: 'single-call queries; catalog = union of the candidate tools',
  };
}

/** Smithery crawl servers as distractors (never relevant), up to `maxTools` tools, in file order. */
export function loadSmitheryDistractors(dir: string, maxTools: number): EvalServer[] {
  const servers: EvalServer[] = [];
  let count = 0;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    if (count >= maxTools) break;
    const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      qualifiedName: string;
      description?: string;
      tools?: { name: string; description?: string; inputSchema?: unknown }[];
    };
    const list = (d.tools ?? []).filter((t) => t.name).slice(0, maxTools - count);
    if (!list.length) continue;
    servers.push({
      name: `smithery:${d.qualifiedName}`,
      ...(d.description ? { description: d.description } : {}),
      tools: list,
    });
    count += list.length;
  }
  return servers;
}

/** Adds distractor servers to a set (their tools are never relevant). */
export function withDistractors(set: EvalSet, distractors: readonly EvalServer[]): EvalSet {
  const tools = distractors.reduce((a, s) => a + s.tools.length, 0);
  return {
    ...set,
    name: `${set.name}+${tools} distractors`,
    servers: [...set.servers, ...distractors],
    notes: `${set.notes}; plus ${tools} Smithery distractor tools`,
  };
}
