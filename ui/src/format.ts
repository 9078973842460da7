/** Small formatters the panels share: percentages, milliseconds, times, scores. */

/** 0.1234 -> "12.3%". */
export function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

/** Milliseconds, short: "0.8 ms", "12 ms", "3.4 s"; "–" when unknown. */
export function ms(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x >= 1000) return `${(x / 1000).toFixed(1)} s`;
  return x < 10 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`;
}

/** An epoch-ms or ISO time as local "HH:MM:SS" (with the date when it is not today). */
export function time(at: number | string): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return String(at);
  const clock = date.toLocaleTimeString([], { hour12: false });
  return date.toDateString() === new Date().toDateString() ? clock : `${date.toLocaleDateString()} ${clock}`;
}

/** A score to three decimals. */
export function score(x: number): string {
  return x.toFixed(3);
}
