/**
 * Usage (every 15 s), from the metered requests of GET /v1/usage: calls and errors per tenant over the
 * last 30 days (one report grouped by tenant, covering every tenant the credential may see), and calls
 * per hour over the last 24 hours for the tenant in view (the gateway admin's default view: every tenant).
 */
import { useMemo } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { getJson, query, type Result } from '../api.js';
import { color } from '../charts.js';
import { ChartFigure, Panel, Status } from '../panel.js';
import { usePoll, usePollWith } from '../poll.js';
import type { Tenant, UsageReport } from '../types.js';

const HOUR = 3_600_000;

interface TenantUsage {
  readonly tenant: string;
  readonly calls: number;
  readonly errors: number;
}

/** One report grouped by tenant (every tenant the credential may see), with a zero for each tenant without usage. */
async function perTenant(tenants: readonly string[], signal: AbortSignal): Promise<Result<TenantUsage[]>> {
  const report = await getJson<UsageReport>(`/v1/usage${query({ groupBy: 'tenant' })}`, undefined, signal);
  if (!report.ok) return report;
  const byTenant = new Map(report.data.lines.map((line) => [line.key, line]));
  return {
    ok: true,
    data: tenants.map((tenant) => ({
      tenant,
      calls: byTenant.get(tenant)?.calls ?? 0,
      errors: byTenant.get(tenant)?.errors ?? 0,
    })),
  };
}

function TenantChart(props: { usage: readonly TenantUsage[] }) {
  const config = useMemo(
    (): ChartConfiguration<'bar', number[], string> => ({
      type: 'bar',
      data: {
        labels: props.usage.map((u) => u.tenant),
        datasets: [
          { label: 'calls', data: props.usage.map((u) => u.calls), backgroundColor: color(0, 0.75) },
          { label: 'errors', data: props.usage.map((u) => u.errors), backgroundColor: color(1, 0.75) },
        ],
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
    }),
    [props.usage],
  );
  return (
    <ChartFigure
      chart="tenants"
      caption="Calls per tenant, last 30 days"
      label="Calls and errors per tenant"
      config={config}
      data={{ 'data-usage': props.usage.map((u) => `${u.tenant}:${u.calls}:${u.errors}`).join(',') }}
    />
  );
}

function HourlyChart(props: { report: UsageReport; from: number }) {
  const config = useMemo((): ChartConfiguration<'line', number[], string> => {
    const byHour = new Map(props.report.lines.map((l) => [Date.parse(l.key), l]));
    const hours = Array.from({ length: 25 }, (_, i) => props.from + i * HOUR);
    const label = (at: number) => `${String(new Date(at).getHours()).padStart(2, '0')}:00`;
    return {
      type: 'line',
      data: {
        labels: hours.map(label),
        datasets: [
          {
            label: 'calls',
            data: hours.map((h) => byHour.get(h)?.calls ?? 0),
            borderColor: color(0),
            backgroundColor: color(0, 0.15),
            fill: false,
            tension: 0.2,
          },
          {
            label: 'errors',
            data: hours.map((h) => byHour.get(h)?.errors ?? 0),
            borderColor: color(1),
            backgroundColor: color(1, 0.15),
            tension: 0.2,
          },
        ],
      },
      options: {
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 9 } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    };
  }, [props.report, props.from]);
  return (
    <ChartFigure
      chart="hourly"
      caption="Calls per hour, last 24 hours"
      label="Calls and errors per hour"
      config={config}
    />
  );
}

/** The usage panel; `tenants` are those the credential may see. */
export function UsagePanel(props: { tenant: string | undefined; tenants: readonly Tenant[] }) {
  const names = props.tenants.map((t) => t.name);
  const tenants = usePollWith<TenantUsage[]>(names.length ? `usage ${names.join(',')}` : undefined, 15_000, (signal) =>
    perTenant(names, signal),
  );
  const from = Math.floor(Date.now() / HOUR) * HOUR - 24 * HOUR;
  const hourly = usePoll<UsageReport>(`/v1/usage${query({ groupBy: 'hour', from })}`, 15_000, props.tenant);
  return (
    <Panel id="usage" title="Usage">
      <div class="charts">
        <Status result={tenants} empty="No tenants." isEmpty={(d) => d.length === 0}>
          {(d) => <TenantChart usage={d} />}
        </Status>
        <Status result={hourly}>{(d) => <HourlyChart report={d} from={from} />}</Status>
      </div>
    </Panel>
  );
}
