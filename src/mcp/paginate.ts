/**
 * Cursor pagination for the agent-facing list methods. A cursor names the catalog version and an
 * offset; a cursor from an older catalog version restarts from the top rather than skipping or
 * repeating entries of a list that changed under it (the agent also got `list_changed`).
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';

/** Items per page; large enough that most catalogs fit in one. */
export const PAGE_SIZE = 500;

/** One page and the cursor of the next (if any). */
export function paginate<T>(
  items: readonly T[],
  version: number,
  cursor: unknown,
  pageSize = PAGE_SIZE,
): { items: readonly T[]; nextCursor: string | undefined } {
  let offset = 0;
  // The cursor comes straight from the agent's params: an object or a number is its error, not ours.
  if (cursor !== undefined && typeof cursor !== 'string')
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `invalid cursor: expected a string, got ${typeof cursor}`);
  if (cursor !== undefined) {
    const match = /^v(\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!match)
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `invalid cursor "${cursor.length > 100 ? `${cursor.slice(0, 100)}…` : cursor}"`,
      );
    offset = Number(match[1]) === version ? Number(match[2]) : 0;
  }
  const end = offset + pageSize;
  return {
    items: items.slice(offset, end),
    nextCursor: end < items.length ? Buffer.from(`v${version}:${end}`).toString('base64url') : undefined,
  };
}
