/**
 * Firing and pending alerts of the built-in alert engine (GET /v1/alerts, every 5 s), firing first as
 * the engine sorts them. A hub without the engine (no `alerts` section: `enabled: false`, or a build
 * without the route: 404) shows "alert engine off"; Prometheus users alert from the shipped rules.
 */
import { Badge, Note, Panel, Status } from '../panel.js';
import { usePoll } from '../poll.js';
import { time } from '../format.js';
import type { Alert, AlertsAnswer } from '../types.js';

function AlertRow(props: { alert: Alert }) {
  const a = props.alert;
  const where = [a.labels.tenant, a.labels.server, a.labels.instance].filter(Boolean).join(' / ');
  return (
    <tr data-alert={a.id} class={`alert-${a.state}`}>
      <td>
        <Badge value={a.state} />
      </td>
      <td>
        <Badge value={a.severity} />
      </td>
      <td class="mono">{a.rule}</td>
      <td>{where || '–'}</td>
      <td>{a.summary}</td>
      <td class="num">{Number.isInteger(a.value) ? a.value : a.value.toFixed(3)}</td>
      <td>{time(a.firingSince ?? a.activeSince)}</td>
      <td class="num">{a.step}</td>
      <td>{a.notified.join(', ') || '–'}</td>
    </tr>
  );
}

/** The alerts panel. */
export function AlertsPanel(props: { tenant: string | undefined }) {
  const result = usePoll<AlertsAnswer>('/v1/alerts', 5000, props.tenant);
  const off = result && (result.ok ? !result.data.enabled : result.status === 404);
  const body = off ? (
    <Note kind="off">Alert engine off (no alerts section in the config).</Note>
  ) : (
    <Status result={result} empty="No alerts pending or firing." isEmpty={(d) => d.alerts.length === 0}>
      {(d) => (
        <table class="table compact">
          <thead>
            <tr>
              <th>State</th>
              <th>Severity</th>
              <th>Rule</th>
              <th>Where</th>
              <th>Summary</th>
              <th class="num">Value</th>
              <th>Since</th>
              <th class="num">Step</th>
              <th>Notified</th>
            </tr>
          </thead>
          <tbody>
            {d.alerts.map((a) => (
              <AlertRow key={a.id} alert={a} />
            ))}
          </tbody>
        </table>
      )}
    </Status>
  );
  const firing = result?.ok ? result.data.alerts.filter((a) => a.state === 'firing').length : 0;
  return (
    <Panel id="alerts" title="Alerts" aside={firing ? <Badge value={`${firing} firing`} class="badge-firing" /> : null}>
      {body}
    </Panel>
  );
}
