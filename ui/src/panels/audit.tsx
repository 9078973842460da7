/**
 * Recent audit events (every 5 s), newest first: a live tail of GET /v1/audit. The route pages oldest
 * first, so the panel asks for what happened since its last look (from an hour back at first), with a
 * 30 s overlap for events written a batch late, and keeps the newest 100 by sequence number. At most
 * five pages (5,000 events) a look: past that it skips ahead rather than fall behind.
 */
import { useRef } from 'preact/hooks';
import { getJson, query, type Result } from '../api.js';
import { Badge, Panel, Status } from '../panel.js';
import { usePollWith } from '../poll.js';
import { ms, time } from '../format.js';
import type { AuditEvent, AuditPage } from '../types.js';

const KEEP = 100;
const PAGE = 1000;
const PAGES = 5;
const OVERLAP_MS = 30_000;

interface Tail {
  since: number;
  rows: Map<number, AuditEvent>;
}

async function follow(tail: Tail, tenant: string | undefined, signal: AbortSignal): Promise<Result<AuditEvent[]>> {
  let cursor: string | undefined;
  let last: AuditEvent | undefined;
  for (let page = 0; page < PAGES; page++) {
    const result = await getJson<AuditPage>(
      `/v1/audit${query({ since: tail.since, limit: PAGE, cursor })}`,
      tenant,
      signal,
    );
    if (!result.ok) return result;
    for (const event of result.data.events) tail.rows.set(event.seq, event);
    last = result.data.events.at(-1) ?? last;
    cursor = result.data.nextCursor;
    if (!cursor) break;
  }
  const newest = [...tail.rows.values()].sort((a, b) => b.time - a.time || b.seq - a.seq).slice(0, KEEP);
  tail.rows = new Map(newest.map((e) => [e.seq, e]));
  if (last) tail.since = cursor ? last.time : Math.max(tail.since, last.time - OVERLAP_MS);
  return { ok: true, data: newest };
}

function Row(props: { event: AuditEvent }) {
  const e = props.event;
  return (
    <tr data-seq={e.seq}>
      <td class="num mono">{e.seq}</td>
      <td>{time(e.time)}</td>
      <td>{e.tenant}</td>
      <td>{e.agent}</td>
      <td class="mono">{e.method}</td>
      <td class="mono">{e.tool ?? ''}</td>
      <td>
        <Badge value={e.outcome} />
        {e.errorCode ? <span class="dim">{` ${e.errorCode}`}</span> : null}
      </td>
      <td class="num">{ms(e.latencyMs)}</td>
      <td class="mono dim" title={e.traceId}>
        {e.traceId ? e.traceId.slice(0, 8) : ''}
      </td>
    </tr>
  );
}

/** The audit panel. */
export function AuditPanel(props: { tenant: string | undefined }) {
  const tail = useRef<{ key: string; tail: Tail } | null>(null);
  const key = props.tenant ?? '';
  const result = usePollWith<AuditEvent[]>(`audit ${key}`, 5000, (signal) => {
    if (tail.current?.key !== key) tail.current = { key, tail: { since: Date.now() - 3_600_000, rows: new Map() } };
    return follow(tail.current.tail, props.tenant, signal);
  });
  return (
    <Panel id="audit" title="Recent audit events">
      <Status result={result} empty="No audit events in the last hour." isEmpty={(d) => d.length === 0}>
        {(events) => (
          <div class="scroll">
            <table class="table compact">
              <thead>
                <tr>
                  <th class="num">Seq</th>
                  <th>Time</th>
                  <th>Tenant</th>
                  <th>Agent</th>
                  <th>Method</th>
                  <th>Tool</th>
                  <th>Outcome</th>
                  <th class="num">Latency</th>
                  <th>Trace</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <Row key={e.seq} event={e} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Status>
    </Panel>
  );
}
