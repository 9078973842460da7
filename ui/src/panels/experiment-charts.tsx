/**
 * An experiment report's plots: per arm, the success rate and the error rate (one plot each, so every
 * point sits on its own bar) as floating bars over their 95% Wilson intervals [low, high] with the rate
 * as a point, and the latency distribution as p50 and p95 (what the report returns per arm).
 */
import { useMemo } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { color } from '../charts.js';
import { ChartFigure } from '../panel.js';
import type { ArmReport } from '../types.js';

type Interval = [number, number];
type RateChart = ChartConfiguration<'bar' | 'line', (number | Interval)[], string>;

/** Which rate a plot shows. */
type RateKind = 'successRate' | 'errorRate';

const RATE_LABEL: Record<RateKind, string> = { successRate: 'success rate', errorRate: 'error rate' };

/** One rate per arm: a floating bar over [low, high] and a point at the rate, centred on the arm. */
function rateConfig(arms: readonly ArmReport[], kind: RateKind): RateChart {
  const shade = kind === 'successRate' ? 0 : 1;
  const pctTick = (value: string | number) => `${Math.round(Number(value) * 100)}%`;
  return {
    type: 'bar',
    data: {
      labels: arms.map((a) => a.arm),
      datasets: [
        {
          type: 'bar',
          label: `${RATE_LABEL[kind]}, 95% interval`,
          data: arms.map((a): Interval => [a[kind].low, a[kind].high]),
          backgroundColor: color(shade, 0.25),
          borderColor: color(shade),
          borderWidth: 1,
          barPercentage: 0.5,
        },
        {
          type: 'line',
          label: RATE_LABEL[kind],
          data: arms.map((a) => a[kind].rate),
          showLine: false,
          pointRadius: 6,
          pointHoverRadius: 7,
          borderColor: color(shade),
          backgroundColor: color(shade),
        },
      ],
    },
    options: {
      scales: { y: { min: 0, max: 1, ticks: { callback: pctTick } } },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}

function latencyConfig(arms: readonly ArmReport[]): ChartConfiguration<'bar', (number | null)[], string> {
  return {
    type: 'bar',
    data: {
      labels: arms.map((a) => a.arm),
      datasets: [
        { label: 'p50 ms', data: arms.map((a) => a.latencyMs.p50), backgroundColor: color(2, 0.7) },
        { label: 'p95 ms', data: arms.map((a) => a.latencyMs.p95), backgroundColor: color(3, 0.7) },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}

/** One rate of every arm, with its intervals. */
export function RateChart(props: { arms: readonly ArmReport[]; kind: RateKind }) {
  const config = useMemo(() => rateConfig(props.arms, props.kind), [props.arms, props.kind]);
  return (
    <ChartFigure
      chart={props.kind}
      caption={`${RATE_LABEL[props.kind]} per arm, 95% Wilson interval`}
      label={`${RATE_LABEL[props.kind]} per arm with 95% intervals`}
      config={config}
    />
  );
}

/** The latency plot of a report. */
export function LatencyChart(props: { arms: readonly ArmReport[] }) {
  const config = useMemo(() => latencyConfig(props.arms), [props.arms]);
  return (
    <ChartFigure
      chart="latency"
      caption="Latency per arm (p50, p95)"
      label="Latency p50 and p95 per arm"
      config={config}
    />
  );
}
