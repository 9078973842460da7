/**
 * The dashboard's entry point (bundled by src/http/ui-assets.ts): registers the chart pieces and renders
 * the app into #app.
 */
import { render } from 'preact';
import { App } from './app.js';
import { registerCharts } from './charts.js';

registerCharts();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
