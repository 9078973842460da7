/**
 * How the dashboard reads the hub: GET requests to /v1 on this origin (the session cookie or an open
 * hub authenticates them), the tenant the operator picked sent as X-Switchboard-Tenant. Every answer is
 * a Result: a refusal or a missing route is data for the panel to show, never a thrown error, so the
 * console stays quiet for what is not a fault. A 401 means the session ended: back to the sign-in page.
 */

/** A read's outcome: the JSON body, or the status and the hub's message. */
export type Result<T> =
  { readonly ok: true; readonly data: T } | { readonly ok: false; readonly status: number; readonly message: string };

/** The error body of every /v1 refusal. */
interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** Query parameters, undefined ones left out. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** GETs `path` (under /v1) as JSON; `tenant` names the tenant a gateway admin looks at. */
export async function getJson<T>(path: string, tenant?: string, signal?: AbortSignal): Promise<Result<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: { accept: 'application/json', ...(tenant ? { 'x-switchboard-tenant': tenant } : {}) },
      credentials: 'same-origin',
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if (signal?.aborted) return { ok: false, status: 0, message: 'cancelled' };
    return { ok: false, status: 0, message: `the hub did not answer (${(error as Error).message})` };
  }
  if (res.status === 401) {
    location.assign('/ui/');
    return { ok: false, status: 401, message: 'signed out' };
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const message = (body as ErrorBody | undefined)?.error?.message ?? res.statusText;
    return { ok: false, status: res.status, message };
  }
  return { ok: true, data: body as T };
}

/** A refusal in words for a panel: 403 and 404 as what they mean here, the rest with the hub's message. */
export function describeError(result: { status: number; message: string }): string {
  if (result.status === 403) return `Not available to this credential: ${result.message}`;
  if (result.status === 404) return `Not available on this hub: ${result.message}`;
  if (result.status === 0) return result.message;
  return `${result.status}: ${result.message}`;
}
