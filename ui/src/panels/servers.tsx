/**
 * Servers and their instances, live (every 3 s): each server's health (the best of its instances),
 * state, tools, latency and error rate, and per instance its health, circuit (state, opens, recent
 * failures), connection state and last error. Disabled registrations are listed as such.
 */
import { Badge, Note, Panel, Status } from '../panel.js';
import { usePoll } from '../poll.js';
import { ms, pct } from '../format.js';
import type { Instance, Server } from '../types.js';

function InstanceRow(props: { instance: Instance }) {
  const i = props.instance;
  return (
    <>
      <tr data-instance={i.instance}>
        <td class="mono">{i.instance}</td>
        <td>
          <Badge value={i.health} class="health" />
        </td>
        <td>{i.state}</td>
        <td>
          <Badge
            value={i.circuit.state}
            class="circuit"
            title={`${i.circuit.consecutiveFailures} consecutive failures, ${pct(i.circuit.failureRate)} of ${i.circuit.windowCalls} recent calls failed`}
          />
          {i.circuit.opens > 0 ? <span class="dim">{` opened ${i.circuit.opens}×`}</span> : null}
        </td>
        <td class="num">{i.tier}</td>
        <td class="num">{ms(i.latencyMs)}</td>
        <td class="num">{pct(i.errorRate)}</td>
        <td class="num">{i.inFlight}</td>
        <td class="num">{i.connects}</td>
      </tr>
      {i.lastError ? (
        <tr class="last-error">
          <td colSpan={9} class="error-text">{`last error: ${i.lastError}`}</td>
        </tr>
      ) : null}
    </>
  );
}

function ServerCard(props: { server: Server }) {
  const s = props.server;
  const health = s.health ?? (s.state === 'disabled' ? 'disabled' : 'down');
  return (
    <article class={`server server-${health}`} data-server={s.name}>
      <header class="server-head">
        <h3>{s.name}</h3>
        <Badge value={health} class="health" />
        <span class="dim">
          {s.kind ?? ''} · {s.source}
          {s.instances && s.instances.length > 1 ? ` · ${s.instances.length} instances (${s.balance ?? ''})` : ''}
        </span>
        <span class="server-stats">
          {s.tools ?? 0} tools · {ms(s.latencyMs)} · {pct(s.errorRate ?? 0)} errors · {s.inFlight ?? 0} in flight
        </span>
      </header>
      {s.instances ? (
        <table class="table compact">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Health</th>
              <th>State</th>
              <th>Circuit</th>
              <th class="num">Tier</th>
              <th class="num">Latency</th>
              <th class="num">Errors</th>
              <th class="num">In flight</th>
              <th class="num">Connects</th>
            </tr>
          </thead>
          <tbody>
            {s.instances.map((i) => (
              <InstanceRow key={i.instance} instance={i} />
            ))}
          </tbody>
        </table>
      ) : (
        <Note>Registered with disabled: true (not connected).</Note>
      )}
    </article>
  );
}

/** The servers panel. */
export function ServersPanel(props: { tenant: string | undefined }) {
  const result = usePoll<{ servers: Server[] }>('/v1/servers', 3000, props.tenant);
  const servers = result?.ok ? result.data.servers : [];
  const down = servers.filter((s) => s.health === 'down').length;
  return (
    <Panel
      id="servers"
      title="Servers"
      aside={result?.ok ? <span class="dim">{`${servers.length} servers${down ? `, ${down} down` : ''}`}</span> : null}
    >
      <Status result={result} empty="No servers are configured or registered." isEmpty={(d) => d.servers.length === 0}>
        {(d) => (
          <div class="servers">
            {d.servers.map((s) => (
              <ServerCard key={s.name} server={s} />
            ))}
          </div>
        )}
      </Status>
    </Panel>
  );
}
