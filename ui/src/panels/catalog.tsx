/**
 * The federated catalog (every 15 s): the tools agents see, filtered as the operator types (by id,
 * server, title or description), with the counts of prompts, resources and name conflicts.
 */
import { useMemo, useState } from 'preact/hooks';
import { Note, Panel, Status } from '../panel.js';
import { usePoll } from '../poll.js';
import type { Catalog, CatalogTool } from '../types.js';

const SHOWN = 200;

function matches(tool: CatalogTool, words: readonly string[]): boolean {
  const text = `${tool.id} ${tool.server} ${tool.title ?? ''} ${tool.description ?? ''}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

function ToolTable(props: { catalog: Catalog; filter: string }) {
  const words = useMemo(() => props.filter.toLowerCase().split(/\s+/).filter(Boolean), [props.filter]);
  const tools = props.catalog.tools.filter((t) => matches(t, words));
  if (tools.length === 0) return <Note>No tool matches “{props.filter}”.</Note>;
  return (
    <>
      <div class="scroll">
        <table class="table">
          <thead>
            <tr>
              <th>Tool</th>
              <th>Server</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {tools.slice(0, SHOWN).map((t) => (
              <tr key={t.id} data-tool={t.id}>
                <td class="mono">{t.id}</td>
                <td>{t.server}</td>
                <td class="clip">
                  {t.title ? `${t.title}: ` : ''}
                  {t.description ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {tools.length > SHOWN ? <Note>{`Showing ${SHOWN} of ${tools.length}; narrow the filter.`}</Note> : null}
    </>
  );
}

/** The catalog panel. */
export function CatalogPanel(props: { tenant: string | undefined }) {
  const result = usePoll<Catalog>('/v1/catalog', 15_000, props.tenant);
  const [filter, setFilter] = useState('');
  const aside = result?.ok ? (
    <span class="dim">
      {`v${result.data.version} · ${result.data.tools.length} tools · ${result.data.prompts.length} prompts · ${result.data.resources.length} resources`}
      {result.data.conflicts.length ? ` · ${result.data.conflicts.length} conflicts` : ''}
    </span>
  ) : null;
  return (
    <Panel id="catalog" title="Catalog" aside={aside}>
      <input
        class="filter"
        type="search"
        placeholder="Filter tools by name, server or description"
        aria-label="Filter tools"
        value={filter}
        onInput={(e) => setFilter(e.currentTarget.value)}
      />
      <Status
        result={result}
        empty="The catalog is empty: no server offers a tool yet."
        isEmpty={(d) => d.tools.length === 0}
      >
        {(d) => <ToolTable catalog={d} filter={filter} />}
      </Status>
    </Panel>
  );
}
