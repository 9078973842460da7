/**
 * `GET /v1/alerts`: the built-in alert engine's pending and firing alerts (alerts/engine.ts), behind the
 * /v1 guard. `{ enabled, alerts }`: `enabled` false and no alerts when the config has no `alerts`
 * section. Sorted firing first, then by severity (critical, warning, info), then oldest first.
 *
 * A tenant's admin sees only alerts labelled with its own tenant; alerts without a tenant label (the
 * audit queue, dropped audit events) concern the whole gateway and are shown to the gateway's admins
 * (the default tenant's) only, who see every alert.
 */
import type { FastifyInstance } from 'fastify';
import type { Alert } from '../alerts/engine.js';
import { DEFAULT_TENANT } from '../core/principal.js';
import { adminTenantOf, type AdminGuard } from './auth-hook.js';

/** What the route reads (absent: the engine is off). */
export interface AlertsSource {
  list(): Alert[];
}

/** The alerts an admin of `tenant` may see. */
export function visibleAlerts(alerts: readonly Alert[], tenant: string): Alert[] {
  return tenant === DEFAULT_TENANT ? [...alerts] : alerts.filter((a) => a.labels.tenant === tenant);
}

/** Registers `GET /v1/alerts` behind `guard`. */
export function registerAlertsRoute(app: FastifyInstance, source: AlertsSource | undefined, guard: AdminGuard): void {
  app.get('/v1/alerts', { onRequest: guard }, async (request) => ({
    enabled: source !== undefined,
    alerts: source ? visibleAlerts(source.list(), adminTenantOf(request)) : [],
  }));
}
