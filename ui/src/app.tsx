/**
 * The dashboard: a header (the hub, the tenant in view, sign-out when this browser holds a session) over
 * one panel per concern. The tenant selector appears for the gateway admin of a hub with several tenants
 * (GET /v1/tenants lists every tenant to the default tenant's admins, only its own to a tenant's admin);
 * the choice is sent as X-Switchboard-Tenant by every panel's reads.
 */
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';
import { usePoll } from './poll.js';
import type { Tenant } from './types.js';
import { AlertsPanel } from './panels/alerts.js';
import { AuditPanel } from './panels/audit.js';
import { CatalogPanel } from './panels/catalog.js';
import { CompatPanel } from './panels/compat.js';
import { ExperimentsPanel } from './panels/experiments.js';
import { PlaygroundPanel } from './panels/playground.js';
import { ServersPanel } from './panels/servers.js';
import { UsagePanel } from './panels/usage.js';

const SECTIONS = [
  ['alerts', 'Alerts'],
  ['servers', 'Servers'],
  ['playground', 'Playground'],
  ['catalog', 'Catalog'],
  ['experiments', 'Experiments'],
  ['compat', 'Compatibility'],
  ['usage', 'Usage'],
  ['audit', 'Audit'],
] as const;

async function signOut(): Promise<void> {
  await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined);
  location.assign('/ui/');
}

function Header(props: { tenants: readonly Tenant[]; tenant: string | undefined; onTenant: (t: string) => void }) {
  const [session, setSession] = useState(false);
  useEffect(() => {
    void getJson<{ session: boolean }>('/ui/session').then((r) => setSession(r.ok && r.data.session));
  }, []);
  return (
    <header class="top">
      <h1>Switchboard</h1>
      <nav>
        {SECTIONS.map(([id, label]) => (
          <a key={id} href={`#${id}`}>
            {label}
          </a>
        ))}
      </nav>
      <div class="top-right">
        {props.tenants.length > 1 ? (
          <label>
            Tenant{' '}
            <select
              aria-label="Tenant"
              value={props.tenant ?? props.tenants[0]?.name}
              onChange={(e) => props.onTenant(e.currentTarget.value)}
            >
              {props.tenants.map((t) => (
                <option key={t.name} value={t.name}>
                  {`${t.name} (${t.servers} servers${t.ready ? '' : ', starting'})`}
                </option>
              ))}
            </select>
          </label>
        ) : props.tenants[0] ? (
          <span class="dim">tenant {props.tenants[0].name}</span>
        ) : null}
        {session ? (
          <button type="button" class="link" onClick={() => void signOut()}>
            Sign out
          </button>
        ) : null}
      </div>
    </header>
  );
}

/** The whole page. */
export function App() {
  const tenantList = usePoll<{ tenants: Tenant[] }>('/v1/tenants', 30_000);
  const tenants = tenantList?.ok ? tenantList.data.tenants : [];
  const [tenant, setTenant] = useState<string | undefined>(undefined);
  // Only the gateway admin names a tenant; a tenant's admin is bound to its own whatever it sends.
  const inView = tenants.length > 1 ? tenant : undefined;
  return (
    <>
      <Header tenants={tenants} tenant={tenant} onTenant={setTenant} />
      <main class="grid">
        <AlertsPanel tenant={inView} />
        <ServersPanel tenant={inView} />
        <PlaygroundPanel tenant={inView} />
        <CatalogPanel tenant={inView} />
        <ExperimentsPanel tenant={inView} />
        <CompatPanel tenant={inView} />
        <UsagePanel tenant={inView} tenants={tenants} />
        <AuditPanel tenant={inView} />
      </main>
    </>
  );
}
