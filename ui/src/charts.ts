/**
 * Chart.js for the dashboard: only the pieces the panels draw with are registered (bars, lines, points,
 * the two scales, tooltips and legends), so the bundle carries nothing else; animation is off (panels
 * redraw every few seconds and a screenshot should show the data, not a transition). useChart binds a
 * chart to a canvas and updates it in place when its data changes.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
  type DefaultDataPoint,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

/** Registers what the panels use (called once by main.tsx, before the first render). */
export function registerCharts(): void {
  Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale);
  Chart.register(Tooltip, Legend);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.color = '#475569';
}

/** A palette that reads on white, one colour per series (arms, tenants). */
const COLORS = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#475569'];

/** The colour of series `i`, with `alpha` (0..1) for fills. */
export function color(i: number, alpha = 1): string {
  const hex = COLORS[i % COLORS.length] ?? '#475569';
  if (alpha >= 1) return hex;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Binds a chart built from `config` to the returned canvas ref; later configs update it in place. */
export function useChart<T extends ChartType = ChartType, D = DefaultDataPoint<T>>(config: ChartConfiguration<T, D>) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<T, D> | null>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return undefined;
    if (!chart.current) {
      chart.current = new Chart(element, config);
    } else {
      chart.current.data = config.data;
      if (config.options) chart.current.options = config.options;
      chart.current.update();
    }
    return undefined;
  }, [config]);
  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = null;
    },
    [],
  );
  return canvas;
}
