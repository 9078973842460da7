/**
 * The compatibility matrix (every 30 s): each tool's schema versions as the hub has seen them, and per
 * instance whether what it serves now is that version (compatible), an additive change, a breaking
 * one, or absent. A tool whose instances disagree is what pins and failover care about.
 */
import { Badge, Panel, Status } from '../panel.js';
import { usePoll } from '../poll.js';
import { time } from '../format.js';
import type { MatrixRow } from '../types.js';

/** The compatibility panel. */
export function CompatPanel(props: { tenant: string | undefined }) {
  const result = usePoll<{ matrix: MatrixRow[] }>('/v1/compat/matrix', 30_000, props.tenant);
  return (
    <Panel id="compat" title="Compatibility matrix">
      <Status result={result} empty="No schema versions recorded yet." isEmpty={(d) => d.matrix.length === 0}>
        {(d) => (
          <div class="scroll">
            <table class="table compact">
              <thead>
                <tr>
                  <th>Server</th>
                  <th>Tool</th>
                  <th class="num">Version</th>
                  <th>Fingerprint</th>
                  <th>Last seen</th>
                  <th title="each instance's verdict and the version it serves now">Instances</th>
                </tr>
              </thead>
              <tbody>
                {d.matrix.map((row) => (
                  <tr key={`${row.server}/${row.tool}/${row.version}`} data-compat={`${row.server}/${row.tool}`}>
                    <td>{row.server}</td>
                    <td class="mono">{row.tool}</td>
                    <td class="num">
                      v{row.version}
                      {row.declaredVersion ? <span class="dim">{` (${row.declaredVersion})`}</span> : null}
                    </td>
                    <td class="mono dim" title={row.fingerprint}>
                      {row.fingerprint.slice(0, 12)}
                    </td>
                    <td>{time(row.lastSeen)}</td>
                    <td>
                      {row.backends.map((b) => (
                        <span key={b.instance} class="cell">
                          <span class="mono">{b.instance}</span> <Badge value={b.verdict} />
                          {b.current !== undefined ? <span class="dim">{` v${b.current}`}</span> : null}
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Status>
    </Panel>
  );
}
