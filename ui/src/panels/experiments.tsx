/**
 * Experiments (every 10 s): the configured ones with their state, and the chosen one's report: per
 * arm exposures, units, calls, success and error rates with intervals, latency, lift over the control
 * with p-values, and the sample-ratio check; plotted by experiment-charts.tsx.
 */
import { useState } from 'preact/hooks';
import { Badge, Note, Panel, Status } from '../panel.js';
import { usePoll } from '../poll.js';
import { ms, pct } from '../format.js';
import type { ExperimentReport, ExperimentView, Rate } from '../types.js';
import { LatencyChart, RateChart } from './experiment-charts.js';

/** A rate with its 95% interval: "12.3% [10.1%, 14.9%]". */
function interval(r: Rate): string {
  return `${pct(r.rate)} [${pct(r.low)}, ${pct(r.high)}]`;
}

function ArmTable(props: { report: ExperimentReport }) {
  return (
    <table class="table">
      <thead>
        <tr>
          <th>Arm</th>
          <th class="num">Weight</th>
          <th class="num">Exposures</th>
          <th class="num">Units</th>
          <th class="num">Calls</th>
          <th class="num">Success [95%]</th>
          <th class="num">Errors [95%]</th>
          <th class="num">p50</th>
          <th class="num">p95</th>
          <th class="num">Lift (p)</th>
        </tr>
      </thead>
      <tbody>
        {props.report.arms.map((a) => (
          <tr key={a.arm} data-arm={a.arm}>
            <td>
              {a.arm}
              {a.arm === props.report.control ? <span class="dim"> control</span> : null}
              {a.stopped ? <Badge value="stopped" title={a.stopped} /> : null}
            </td>
            <td class="num">{a.weight}</td>
            <td class="num">{a.exposures}</td>
            <td class="num">{a.units}</td>
            <td class="num">{a.calls}</td>
            <td class="num">{interval(a.successRate)}</td>
            <td class="num">{interval(a.errorRate)}</td>
            <td class="num">{ms(a.latencyMs.p50)}</td>
            <td class="num">{ms(a.latencyMs.p95)}</td>
            <td class="num">
              {a.vsControl
                ? `${a.vsControl.successLift >= 0 ? '+' : ''}${(a.vsControl.successLift * 100).toFixed(1)} pts (${a.vsControl.successP})`
                : '–'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Report(props: { name: string; tenant: string | undefined }) {
  const result = usePoll<ExperimentReport>(`/v1/experiments/${encodeURIComponent(props.name)}`, 10_000, props.tenant);
  return (
    <Status result={result}>
      {(r) => (
        <div class="report">
          {r.why !== 'running' ? <p class="dim">{r.why}</p> : null}
          {r.srm.mismatch ? (
            <Note kind="error">{`Sample ratio mismatch (p ${r.srm.pValue}): the split does not match the weights; do not trust the comparison.`}</Note>
          ) : null}
          <ArmTable report={r} />
          {r.srm.mismatch ? null : (
            <p class="dim">{`Sample ratio check: p ${r.srm.pValue} (the split matches the weights).`}</p>
          )}
          {r.arms.some((a) => a.calls > 0) ? (
            <div class="charts">
              <RateChart arms={r.arms} kind="successRate" />
              <RateChart arms={r.arms} kind="errorRate" />
              <LatencyChart arms={r.arms} />
            </div>
          ) : (
            <Note>No calls in this experiment yet: the plots appear with the first outcomes.</Note>
          )}
        </div>
      )}
    </Status>
  );
}

/** The experiments panel. */
export function ExperimentsPanel(props: { tenant: string | undefined }) {
  const result = usePoll<{ experiments: ExperimentView[] }>('/v1/experiments', 10_000, props.tenant);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  return (
    <Panel id="experiments" title="Experiments">
      <Status result={result} empty="No experiments are configured." isEmpty={(d) => d.experiments.length === 0}>
        {(d) => {
          const name = d.experiments.some((e) => e.name === chosen) ? chosen! : d.experiments[0]!.name;
          return (
            <>
              <div class="tabs" role="tablist">
                {d.experiments.map((e) => (
                  <button
                    key={e.name}
                    type="button"
                    role="tab"
                    aria-selected={e.name === name}
                    class={e.name === name ? 'tab active' : 'tab'}
                    onClick={() => setChosen(e.name)}
                  >
                    {e.name} <Badge value={e.running ? 'running' : 'stopped'} />
                  </button>
                ))}
              </div>
              <Report key={name} name={name} tenant={props.tenant} />
            </>
          );
        }}
      </Status>
    </Panel>
  );
}
