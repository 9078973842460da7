/**
 * The frame every panel shares: a titled section with an anchor, and Status, which renders a read that
 * has not answered yet, failed (403 and 404 as short messages: a credential or hub without that feature,
 * not a fault) or came back empty, so each panel only draws the data it got; and ChartFigure, the
 * captioned canvas every chart is drawn in.
 */
import type { ChartConfiguration, ChartType } from 'chart.js';
import type { ComponentChildren } from 'preact';
import { describeError, type Result } from './api.js';
import { useChart } from './charts.js';

/** A titled panel; `id` is its anchor and test handle. */
export function Panel(props: { id: string; title: string; aside?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="panel" id={props.id} aria-labelledby={`${props.id}-title`}>
      <header class="panel-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.aside ? <div class="panel-aside">{props.aside}</div> : null}
      </header>
      <div class="panel-body">{props.children}</div>
    </section>
  );
}

/** A short line in place of data: loading, a refusal, nothing yet. */
export function Note(props: { kind?: 'muted' | 'error' | 'off'; children: ComponentChildren }) {
  return <p class={`note note-${props.kind ?? 'muted'}`}>{props.children}</p>;
}

/**
 * Renders `children(data)` once `result` holds data that is not empty; otherwise the matching note.
 * `isEmpty` decides what empty means for the panel (absent: data is never empty), `empty` says so.
 */
export function Status<T>(props: {
  result: Result<T> | undefined;
  empty?: string;
  isEmpty?: (data: T) => boolean;
  children: (data: T) => ComponentChildren;
}) {
  const { result } = props;
  if (!result) return <Note>Loading…</Note>;
  if (!result.ok)
    return <Note kind={result.status === 403 || result.status === 404 ? 'off' : 'error'}>{describeError(result)}</Note>;
  if (props.isEmpty?.(result.data)) return <Note>{props.empty}</Note>;
  return <>{props.children(result.data)}</>;
}

/** A chart drawn from `config` in a captioned figure; `chart` is its data-chart handle, `label` its name. */
export function ChartFigure<T extends ChartType, D>(props: {
  chart: string;
  caption: string;
  label: string;
  config: ChartConfiguration<T, D>;
  data?: Record<`data-${string}`, string>;
}) {
  const canvas = useChart(props.config);
  return (
    <figure class="chart" data-chart={props.chart} {...props.data}>
      <figcaption>{props.caption}</figcaption>
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </figure>
  );
}

/** A coloured word for a state (health, circuit, verdict, outcome): its class is `badge badge-<value>`. */
export function Badge(props: { value: string; class?: string; title?: string }) {
  return (
    <span class={`badge badge-${props.value}${props.class ? ` ${props.class}` : ''}`} title={props.title}>
      {props.value}
    </span>
  );
}
