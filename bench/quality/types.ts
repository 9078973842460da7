/**
 * The evaluation data shape every loader produces (DESIGN.md §4): a catalog of servers with tools,
 * and queries whose `relevant` lists "server/tool" ids ([] = no tool fits).
 */

/** A tool in an evaluation catalog. */
export interface EvalTool {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly inputSchema?: unknown;
  /** MCP tool annotations (readOnlyHint, destructiveHint), where the set has them. */
  readonly annotations?: unknown;
}

/** A server in an evaluation catalog. */
export interface EvalServer {
  readonly name: string;
  readonly description?: string;
  readonly tools: readonly EvalTool[];
}

/** A query with its acceptable answers. */
export interface EvalQuery {
  readonly id: string;
  readonly query: string;
  readonly relevant: readonly string[];
}

/** A data set: catalog, queries, and where it came from. */
export interface EvalSet {
  readonly name: string;
  readonly servers: readonly EvalServer[];
  readonly queries: readonly EvalQuery[];
  readonly notes: string;
}
