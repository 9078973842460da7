/**
 * The find_capability playground: a need in words, sent to GET /v1/capabilities/search (the REST twin
 * of the meta-tool, so the same index, scorer and rate limits answer), and the ranked matches shown
 * with their scores, relevance, reasons and equivalent tools on other servers, plus whether the answer
 * was confident. Searches run on submit, not per keystroke: each one is a real, admitted find.
 */
import { useState } from 'preact/hooks';
import { getJson, query, type Result } from '../api.js';
import { Badge, Note, Panel, Status } from '../panel.js';
import { score } from '../format.js';
import type { FindResult, Match } from '../types.js';

function MatchItem(props: { match: Match; rank: number }) {
  const m = props.match;
  return (
    <li class="match" data-tool={m.tool}>
      <div class="match-head">
        <span class="rank">{props.rank}</span>
        <span class="mono match-tool">{m.tool}</span>
        <span class="dim">on {m.server}</span>
        <span class="match-score" title="score (relevance adjusted by health, latency and compatibility)">
          {score(m.score)}
        </span>
        <span class="dim" title="relevance to the need alone">
          relevance {score(m.relevance)}
        </span>
      </div>
      {m.description ? <p class="match-desc">{m.description}</p> : null}
      {m.reasons.length ? (
        <ul class="reasons">
          {m.reasons.map((r) => (
            <li key={r} class="chip">
              {r}
            </li>
          ))}
        </ul>
      ) : null}
      {m.alternatives.length ? (
        <p class="equivalents">
          Equivalents:{' '}
          {m.alternatives.map((a) => (
            <span key={`${a.server}/${a.tool}`} class="chip mono" title={a.reasons.join('; ')}>
              {a.tool} ({score(a.score)})
            </span>
          ))}
        </p>
      ) : null}
    </li>
  );
}

function Matches(props: { found: FindResult }) {
  const { found } = props;
  return (
    <>
      <p class="find-summary">
        <Badge value={found.confident ? 'confident' : 'not-confident'} class="confidence" />
        <span class="dim">
          {` confidence ${score(found.confidence)} · decision ${found.decisionId} · catalog v${found.catalogVersion}`}
        </span>
      </p>
      <ol class="matches">
        {found.matches.map((m, i) => (
          <MatchItem key={`${m.server}/${m.tool}`} match={m} rank={i + 1} />
        ))}
      </ol>
    </>
  );
}

/** The playground panel. */
export function PlaygroundPanel(props: { tenant: string | undefined }) {
  const [need, setNeed] = useState('');
  const [k, setK] = useState(5);
  const [result, setResult] = useState<Result<FindResult> | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const search = async (event: Event) => {
    event.preventDefault();
    if (!need.trim()) return;
    setBusy(true);
    setResult(await getJson<FindResult>(`/v1/capabilities/search${query({ q: need.trim(), k })}`, props.tenant));
    setBusy(false);
  };
  return (
    <Panel id="playground" title="find_capability playground">
      <form class="find" onSubmit={(e) => void search(e)}>
        <input
          type="search"
          name="need"
          placeholder="Describe a need, e.g. “add two numbers”"
          aria-label="Need"
          value={need}
          onInput={(e) => setNeed(e.currentTarget.value)}
        />
        <label>
          k{' '}
          <select value={String(k)} onChange={(e) => setK(Number(e.currentTarget.value))} aria-label="Matches">
            {[3, 5, 10, 20].map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy}>
          Find
        </button>
      </form>
      {result === undefined ? (
        <Note>Ranked matches appear here, with their scores and reasons.</Note>
      ) : (
        <Status result={result} empty="No tool matches that need." isEmpty={(d) => d.matches.length === 0}>
          {(d) => <Matches found={d} />}
        </Status>
      )}
    </Panel>
  );
}
