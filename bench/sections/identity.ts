/**
 * What identity and policy cost (issue 11; goal: under 50 µs per call in process, and find_capability
 * with a policy hiding 90% of a 10k-tool catalog no slower than without), each against auth `none`
 * in the same run, with real components only: a real oidc-provider (test/fixtures/oidc.ts), API keys
 * over a SQLite file in a temp dir, a 50-rule Cedar policy loaded by PolicyFiles, and an in-process
 * hub (startHub) whose gateway federates ten stdio fixture servers of ~1,000 catalog tools each plus
 * one with the built-in tools.
 *
 * 1. `Authenticator.authenticate` per request: none, an API key (warm cache), a JWT (JWKS fetched once).
 * 2. The tool chain per call, built from the same stages in the same order as pipeline/chains.ts,
 *    with a terminal that returns at once (only the pipeline is timed; the request context, view
 *    lookup included, is built per call as agent-server.ts does), and end to end through the real
 *    chain to the stdio fixture (the difference to auth none is the overhead).
 * 3. find_capability at 10k tools through Capabilities.find with `visible: view.findable`, as
 *    agent-server.ts does, against no restriction; and the one-off cost of a view.
 *    The same index over HNSW as well (through routeNeed, the search Capabilities.find runs), since
 *    the hub's 'auto' index kind comes out exact here (see the markdown's note).
 * 4. tools/call over HTTP loopback, one hub process per row: auth none, API key + policy, JWT + policy.
 * Per-call samples are interleaved in blocks (A B C A B C ...) so background load lands on all alike.
 * The hub's store is kept between runs (see hubStore) so 10k tools are embedded once, not every run.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ApiKeys } from '../../src/auth/api-keys.js';
import { Authenticator, type Presented } from '../../src/auth/authenticator.js';
import { JwtVerifier } from '../../src/auth/jwt.js';
import { startHub, type Hub } from '../../src/compose.js';
import { buildConfig } from '../../src/config/load.js';
import { anonymousPrincipal, type Principal } from '../../src/core/principal.js';
import { AccessControl } from '../../src/gateway/access.js';
import { capabilityDoc, routeNeed } from '../../src/gateway/capabilities.js';
import { CapabilityIndex } from '../../src/index/capability-index.js';
import { Bm25fIndex } from '../../src/index/lexical/bm25f.js';
import { tokenize } from '../../src/index/lexical/tokenize.js';
import { createVectorIndex } from '../../src/index/vector/factory.js';
import { compose, type Stage } from '../../src/mcp/pipeline/chain.js';
import type { ToolResult } from '../../src/mcp/pipeline/context.js';
import { authorizeStage } from '../../src/mcp/pipeline/stages/authorize.js';
import { errorsStage } from '../../src/mcp/pipeline/stages/errors.js';
import { experimentStage } from '../../src/mcp/pipeline/stages/experiment.js';
import { hopsStage } from '../../src/mcp/pipeline/stages/hops.js';
import { learnStage } from '../../src/mcp/pipeline/stages/learn.js';
import { pinStage } from '../../src/mcp/pipeline/stages/pin.js';
import { resolveStage } from '../../src/mcp/pipeline/stages/resolve.js';
import { sizeStage } from '../../src/mcp/pipeline/stages/size.js';
import { validateStage } from '../../src/mcp/pipeline/stages/validate.js';
import { toolChain } from '../../src/mcp/pipeline/chains.js';
import { ArgumentValidator } from '../../src/mcp/validate.js';
import { PolicyFiles } from '../../src/policy/loader.js';
import { DEFAULT_DENSE_WEIGHT, DEFAULT_SCORER } from '../../src/router/calibration.js';
import { openDb } from '../../src/store/db.js';
import { SqliteEmbeddingCache } from '../../src/store/embedding-cache.js';
import { SqliteKeysRepo } from '../../src/store/keys-repo.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startOidcProvider } from '../../test/fixtures/oidc.js';
import { timeInterleaved } from '../lib/clients.js';
import { requestContextOf } from '../lib/pipeline.js';
import { fixtureArgs, ROOT, startHubProcess, stopAll } from '../lib/procs.js';
import { summarize, type Summary } from '../lib/stats.js';
import { loadSmitheryDistractors, loadSwitchboard } from '../quality/loaders.js';
import type { EvalServer } from '../quality/types.js';
import type { BenchOptions, SectionResult } from '../run.js';
import { loadDefaultEmbedder } from './quality.js';

const BUNDLES = 10;
const CATALOG_TOOLS = 10_000;
const ITERATIONS = 10_000;
/** Calls of the variants that ask Cedar on every call (about 0.5 ms each here). */
const SLOW = 2_000;
const ADMIN = 'bench-admin-token-0123456789';
/** The restricted principal: tenant acme, team-0 (the policy gives it bundle-0 and svc: ~10% of the catalog). */
const SCOPES = ['servers:bundle-0', 'servers:svc'];
const CLAIMS = { tenant: 'acme', groups: ['team-0'] };
/** Over HTTP the same grants in the default tenant (a hub refuses credentials of tenants it does not configure). */
const HTTP_CLAIMS = { groups: ['team-0'] };

// ---- The 50-rule policy ----

const act = (...names: string[]) => `[${names.map((n) => `Switchboard::Action::"${n}"`).join(', ')}]`;
const USE = act('list', 'find', 'call');
const CALL = 'action == Switchboard::Action::"call"';
const group = (g: string) => `principal in Switchboard::Group::"${g}"`;
const server = (s: string) => `resource in Switchboard::Server::"${s}"`;
/** Rules that read tool attributes and apply to `list` (prompts and resources too) must say `is Tool`. */
const toolOf = (s: string) => `resource is Switchboard::Tool in Switchboard::Server::"${s}"`;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka', 'tyrell', 'cyberdyne'];

/** 50 rules: permits per group per server, forbids of destructive tools per tenant, time and (optionally) argument conditions. */
function policyText(readsArgs: boolean): string {
  const r: string[] = [];
  for (let i = 0; i < BUNDLES; i++)
    r.push(`permit (${group(`team-${i}`)}, action in ${USE}, ${server(`bundle-${i}`)});`);
  r.push(`permit (principal, action in ${USE}, ${server('svc')});`);
  r.push(`permit (${group('platform')}, action, resource);`);
  r.push(`permit (${group('auditors')}, action == Switchboard::Action::"list", resource);`);
  for (const t of TENANTS)
    r.push(`forbid (principal in Switchboard::Tenant::"${t}", ${CALL}, resource) when { resource.destructive };`);
  r.push(
    `forbid (${group('contractors')}, ${CALL}, resource) unless { context.hour >= 7 && context.hour < 19 };`,
    `forbid (${group('interns')}, ${CALL}, resource) when { context.weekday == 0 || context.weekday == 6 };`,
    `permit (${group('oncall')}, action in ${USE}, resource) when { context.hour < 6 || context.hour >= 22 };`,
    `forbid (${group('team-3')}, ${CALL}, ${server('bundle-3')}) when { context.hour >= 1 && context.hour < 3 };`,
    `forbid (principal, ${CALL}, ${server('bundle-9')}) unless { principal has user };`,
    `permit (principal == Switchboard::Agent::"acme/deploy-bot", ${CALL}, ${server('bundle-1')}) when { resource.idempotent };`,
    `permit (principal == Switchboard::Agent::"globex/etl", action in ${USE}, ${toolOf('bundle-2')}) when { resource.readOnly };`,
    `forbid (principal, ${CALL}, ${server('svc')}) when { resource.name == "crash" || resource.name == "hang" };`,
    `forbid (principal, ${CALL}, ${server('svc')}) when { resource.name == "charge" && !(${group('billing')}) };`,
    `forbid (${group('sandboxed')}, ${CALL}, resource) when { resource.openWorld };`,
    `forbid (principal, action in ${USE}, ${server('bundle-8')}) when { principal.source == "config" };`,
  );
  for (let k = 1; k < BUNDLES; k++)
    r.push(
      `forbid (${group(`team-${k}`)}, action == Switchboard::Action::"find", ${server(`bundle-${k}`)}) when { resource.destructive && !resource.idempotent };`,
    );
  r.push(
    `permit (${group('ml')}, action in ${act('list', 'find')}, ${server('bundle-5')});`,
    `permit (${group('ml')}, ${CALL}, ${server('bundle-5')}) when { resource.readOnly };`,
    `forbid (${group('suspended')}, action, resource);`,
    `permit (${group('support')}, action in ${USE}, ${toolOf('bundle-7')}) when { resource.readOnly || resource.idempotent };`,
    `forbid (principal in Switchboard::Tenant::"cyberdyne", action, ${server('bundle-6')});`,
  );
  if (readsArgs)
    r.push(
      `forbid (principal, ${CALL}, resource) when { context has args && context.args.hasTag("text") && context.args.getTag("text") like "*DROP TABLE*" };`,
      `forbid (${group('team-0')}, ${CALL}, resource) when { context has intArgs && context.intArgs.hasTag("count") && context.intArgs.getTag("count") > 1000 };`,
    );
  else
    r.push(
      `forbid (${group('readonly')}, ${CALL}, resource) unless { resource.readOnly };`,
      `permit (${group('release-managers')}, ${CALL}, ${server('bundle-4')}) when { context.weekday >= 1 && context.weekday <= 5 };`,
    );
  if (r.length !== 50) throw new Error(`the policy has ${r.length} rules, not 50`);
  return r.map((rule, i) => `@id("rule-${i + 1}")\n${rule}`).join('\n');
}

// ---- Helpers ----

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const us = (s: Summary) => `${s.p50} / ${s.p99}`;
const ratio = (a: Summary, b: Summary) => round(a.p50 / b.p50, 2);

/** One thing to time per call, `n` times (default: the interleave's `n`). */
type Variant = ((i: number) => Promise<unknown>) | { run: (i: number) => Promise<unknown>; n: number };

/**
 * Per-call µs of each variant, interleaved in `blocks` rounds (A B C A B C ...) after a warm-up of a
 * tenth of its calls each; a variant with fewer calls (a slow one) does proportionally fewer per round,
 * so its samples still spread over the whole run.
 */
async function interleave(variants: readonly Variant[], n: number, blocks = 20): Promise<Summary[]> {
  const list = variants.map((v) => (typeof v === 'function' ? { run: v, n } : v));
  for (const { run, n: count } of list) for (let i = 0; i < Math.ceil(count / 10); i++) await run(i);
  const samples = list.map(() => [] as number[]);
  for (let b = 0; b < blocks; b++)
    for (const [k, { run, n: count }] of list.entries()) {
      const size = Math.ceil(count / blocks);
      for (let i = b * size; i < Math.min(count, (b + 1) * size); i++) {
        const t0 = performance.now();
        await run(i);
        samples[k]!.push((performance.now() - t0) * 1000);
      }
    }
  return samples.map((s) => summarize(s));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** ms of `work`, median of `reps` runs. */
function timeOnce(work: () => void, reps: number): number {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    work();
    times.push(performance.now() - t0);
  }
  return round(median(times), 3);
}

/** A tool name the SDK accepts, unique within its bundle. */
function toolName(server: string, tool: string, taken: Set<string>): string {
  const base = `${server}_${tool}`
    .replace(/^smithery:/, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .slice(0, 60);
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

/** Scalar-typed properties only: crawl schemas vary, and the fixture turns each into a validator. */
function simpleSchema(schema: unknown): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const raw = (schema as { properties?: Record<string, { type?: unknown; description?: unknown }> })?.properties;
  for (const [key, value] of Object.entries(raw && typeof raw === 'object' ? raw : {})) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) continue;
    const type = ['string', 'number', 'integer', 'boolean'].includes(value?.type as string) ? value.type : 'string';
    properties[key] = { type, ...(typeof value?.description === 'string' ? { description: value.description } : {}) };
  }
  return { type: 'object', properties };
}

/** Our catalog plus Smithery distractors up to 10k tools, dealt round-robin by source server into ten bundles. */
function bundledCatalog(evalDir: string | undefined): { servers: EvalServer[]; needs: string[]; tools: number } {
  const base = loadSwitchboard(join(ROOT, 'data/eval/switchboard'));
  const smithery = join(resolve(evalDir ?? join(ROOT, '../shared/eval')), 'toolgym-smithery/smithery_metadata');
  let pool: readonly EvalServer[];
  try {
    pool = loadSmitheryDistractors(smithery, 20_000);
  } catch {
    pool = base.servers.map((s) => ({ ...s, name: `${s.name}-copy` }));
  }
  const bundles = Array.from({ length: BUNDLES }, (_, i) => ({
    name: `bundle-${i}`,
    tools: [] as { name: string; description?: string; inputSchema: unknown }[],
    taken: new Set<string>(),
  }));
  let count = 0;
  let k = 0;
  for (let round_ = 0; count < CATALOG_TOOLS; round_++)
    for (const s of round_ === 0 ? [...base.servers, ...pool] : pool) {
      if (count >= CATALOG_TOOLS) break;
      const bundle = bundles[k++ % BUNDLES]!;
      for (const t of s.tools.slice(0, CATALOG_TOOLS - count)) {
        const name = toolName(round_ === 0 ? s.name : `${s.name}_${round_}`, t.name, bundle.taken);
        bundle.tools.push({
          name,
          ...(t.description ? { description: t.description.slice(0, 1_000) } : {}),
          inputSchema: simpleSchema(t.inputSchema),
        });
        count++;
      }
    }
  return {
    servers: bundles.map(({ name, tools }) => ({ name, tools })),
    needs: base.queries.map((q) => q.query),
    tools: count,
  };
}

// ---- 1. Authentication ----

interface Credentials {
  none: Authenticator;
  both: Authenticator;
  key: string;
  jwt: string;
}

async function authentication(creds: Credentials) {
  const noneP: Presented = {};
  const keyP: Presented = { authorization: `Bearer ${creds.key}` };
  const jwtP: Presented = { authorization: `Bearer ${creds.jwt}` };
  const [none, apiKey, jwt] = await interleave(
    [() => creds.none.authenticate(noneP), () => creds.both.authenticate(keyP), () => creds.both.authenticate(jwtP)],
    ITERATIONS,
  );
  return { none: none!, apiKey: apiKey!, jwt: jwt! };
}

// ---- 2. The tool chain ----

const RESULT: ToolResult = { content: [{ type: 'text', text: 'x' }] };
const ARGS = { text: 'hello' };

/**
 * The tool chain as compose.ts builds it (`real`, ending in the upstream call), and the same stages in
 * the order chains.ts declares, taken from `real.stages`, around `terminal` (`noop`).
 */
function chainOf(hub: Hub, access: AccessControl, terminal: () => Promise<ToolResult>) {
  const { gateway, capabilities, experiments } = hub;
  const { maxRequestBytes, maxHops } = gateway.config.gateway;
  const validator = new ArgumentValidator();
  const real = toolChain({ gateway, access, validator, maxRequestBytes, maxHops, capabilities, experiments });
  const factories: Record<string, () => Stage<ToolResult>> = {
    errors: () => errorsStage(),
    hops: () => hopsStage(maxHops),
    resolve: () => resolveStage(gateway, access),
    authorize: () => authorizeStage(access),
    size: () => sizeStage(maxRequestBytes),
    pin: () => pinStage(gateway),
    validate: () => validateStage(validator),
    learn: () => learnStage(capabilities),
    experiment: () => experimentStage(gateway, experiments),
  };
  const stages = real.stages.map((name) => {
    const make = factories[name];
    if (!make) throw new Error(`chains.ts has a stage this benchmark does not know: ${name}`);
    return make();
  });
  return { noop: compose(stages, terminal), real };
}

/** The request context of one call, as agent-server.ts builds it (`principal` undefined: auth none). */
const contextOf = (hub: Hub, access: AccessControl, principal: Principal | undefined) =>
  requestContextOf(hub, access, principal ?? anonymousPrincipal('bench', undefined), 'svc__echo', ARGS);

async function pipeline(hub: Hub, creds: Credentials, policy: PolicyFiles, argsPolicy: PolicyFiles, calls: number) {
  const open = new AccessControl();
  const cached = new AccessControl(policy);
  const uncached = new AccessControl(argsPolicy);
  const terminal = async () => RESULT;
  const chains = {
    none: chainOf(hub, open, terminal),
    cached: chainOf(hub, cached, terminal),
    uncached: chainOf(hub, uncached, terminal),
  };
  const principal = (await creds.both.authenticate({ authorization: `Bearer ${creds.key}` }))!;
  const jwtP: Presented = { authorization: `Bearer ${creds.jwt}` };
  const keyP: Presented = { authorization: `Bearer ${creds.key}` };
  const check = (r: ToolResult) => {
    if (r.isError) throw new Error(`the call was refused: ${JSON.stringify(r.content)}`);
  };
  // The first call of a principal builds its view of the 10k catalog: timed on its own, and kept out of the loops.
  const firstCall = (access: AccessControl) => {
    const t0 = performance.now();
    access.view(principal, hub.gateway.catalog);
    return round(performance.now() - t0, 3);
  };
  const firstViewMs = { cached: firstCall(cached), uncached: firstCall(uncached) };
  const [none, withPolicy, withArgsPolicy] = await interleave(
    [
      async () => check(await chains.none.noop(contextOf(hub, open, undefined))),
      async () => check(await chains.cached.noop(contextOf(hub, cached, principal))),
      { run: async () => check(await chains.uncached.noop(contextOf(hub, uncached, principal))), n: SLOW },
    ],
    ITERATIONS,
  );
  // Authentication and chain together, per request, as the HTTP edge and agent server run them.
  const [fullNone, fullKey, fullJwt, fullJwtArgs] = await interleave(
    [
      async () => {
        const p = await creds.none.authenticate({});
        check(await chains.none.noop(contextOf(hub, open, p)));
      },
      async () => check(await chains.cached.noop(contextOf(hub, cached, await creds.both.authenticate(keyP)))),
      async () => check(await chains.cached.noop(contextOf(hub, cached, await creds.both.authenticate(jwtP)))),
      {
        run: async () =>
          check(await chains.uncached.noop(contextOf(hub, uncached, await creds.both.authenticate(jwtP)))),
        n: SLOW,
      },
    ],
    ITERATIONS,
  );
  // Through the real chain to the stdio fixture: the call itself dominates; the p50 difference is the overhead.
  const [e2eNone, e2ePolicy] = await interleave(
    [
      async () => check(await chains.none.real(contextOf(hub, open, undefined))),
      async () => check(await chains.cached.real(contextOf(hub, cached, principal))),
    ],
    calls,
  );
  return {
    iterations: ITERATIONS,
    slowIterations: SLOW,
    stages: { none: chains.none.noop.stages, restricted: chains.cached.noop.stages },
    chainUs: { none: none!, policyCacheable: withPolicy!, policyReadsArgs: withArgsPolicy! },
    authAndChainUs: { none: fullNone!, apiKeyPolicy: fullKey!, jwtPolicy: fullJwt!, jwtArgsPolicy: fullJwtArgs! },
    firstViewMs,
    throughStdioFixtureUs: {
      none: e2eNone!,
      policy: e2ePolicy!,
      p50DifferenceUs: round(e2ePolicy!.p50 - e2eNone!.p50, 1),
    },
  };
}

// ---- 3. find_capability at 10k tools ----

type Visible = ((id: string) => boolean) | undefined;

/**
 * Runs every need through `find` once per variant (after a warm-up on a few), the variants' order
 * rotating per need so none always runs first; ms per find, per variant.
 */
async function timeFinds(
  needs: readonly string[],
  variants: readonly Visible[],
  find: (need: string, visible: Visible) => Promise<unknown>,
): Promise<Summary[]> {
  for (const need of needs.slice(0, 30)) for (const visible of variants) await find(need, visible);
  const samples = variants.map(() => [] as number[]);
  for (const [q, need] of needs.entries())
    for (let j = 0; j < variants.length; j++) {
      const k = (q + j) % variants.length;
      const t0 = performance.now();
      await find(need, variants[k]);
      samples[k]!.push(performance.now() - t0);
    }
  return samples.map((s) => summarize(s));
}

/** A principal of tenant acme as an API key names it (`subject` tells credentials apart). */
const keyPrincipal = (scopes: string[], groups: string[], subject: string): Principal => ({
  tenant: 'acme',
  agent: 'ci-bot',
  groups,
  scopes,
  source: 'apiKey',
  subject,
});

/** find_capability over an HNSW index of the same catalog. */
interface HnswFinds {
  readonly buildS: number;
  readonly findMs: { none: Summary; policy: Summary; nothingHidden: Summary };
  readonly ratioP50: { policy: number; nothingHidden: number };
}

async function find(
  hub: Hub,
  policy: PolicyFiles,
  allPolicy: PolicyFiles,
  needs: readonly string[],
  storePath: string,
) {
  const snapshot = hub.gateway.catalog;
  const byPolicy = new AccessControl(policy).view(keyPrincipal(['*'], ['team-0'], 'p'), snapshot);
  const byScopes = new AccessControl().view(keyPrincipal(SCOPES, [], 's'), snapshot);
  const nothingHidden = new AccessControl(allPolicy).view(keyPrincipal(['*'], ['platform'], 'a'), snapshot);
  const total = snapshot.tools.length;
  const fraction = (v: typeof byPolicy) => round(snapshot.tools.filter((t) => v.findable(t.id)).length / total, 3);
  // What agent-server.ts findCapability does: the caller's view as `visible`, none when it finds every tool.
  const visibleOf = (v: typeof byPolicy): Visible => (v.findsAll ? undefined : v.findable);
  const [none, byPolicyS, byScopesS, nothingHiddenS] = await timeFinds(
    needs,
    [undefined, visibleOf(byPolicy), visibleOf(byScopes), visibleOf(nothingHidden)],
    (capability, visible) => hub.capabilities.find({ capability, k: 5, ...(visible ? { visible } : {}) }),
  );
  // The index kind the hub's 'auto' chose, from what it saves (the index is private to Capabilities).
  hub.capabilities.flush();
  const manifest = join(dirname(storePath), 'vectors', `${hub.capabilities.model ?? 'none'}.manifest.json`);
  const saved = existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, 'utf8')) as { kind?: string; size?: number })
    : undefined;

  // The same docs, needs and views over an HNSW index (what 'auto' is meant to pick at 10k tools),
  // through routeNeed, the search Capabilities.find runs; vectors come from the hub's embedding cache.
  let hnsw: HnswFinds | undefined;
  const embedder = hub.capabilities.model ? await loadDefaultEmbedder() : undefined;
  if (embedder) {
    const db = openDb(storePath);
    try {
      const index = new CapabilityIndex({
        lexical: new Bm25fIndex(),
        vectors: (dim, expectedSize) => createVectorIndex({ dim, kind: 'hnsw', expectedSize }),
        cache: new SqliteEmbeddingCache(db),
        tokenize: (text) => tokenize(text, { stem: true, stopwords: 'conversational' }),
        embedder,
      });
      const t0 = performance.now();
      await index.sync(snapshot.tools.map((t) => capabilityDoc(t, undefined, [])));
      const buildS = round((performance.now() - t0) / 1000, 1);
      const route = { k: 5, denseWeight: DEFAULT_DENSE_WEIGHT, scorer: DEFAULT_SCORER, signals: new Map() };
      const [n, p, a] = await timeFinds(
        needs,
        [undefined, visibleOf(byPolicy), visibleOf(nothingHidden)],
        (need, visible) => routeNeed(index, need, { ...route, ...(visible ? { visible } : {}) }),
      );
      hnsw = {
        buildS,
        findMs: { none: n!, policy: p!, nothingHidden: a! },
        ratioP50: { policy: ratio(p!, n!), nothingHidden: ratio(a!, n!) },
      };
    } finally {
      db.close();
    }
  }

  // One-off cost of a view of the 10k catalog: a new AccessControl (cold decisions) per run; then a
  // new credential of the same agent (warm decisions, new view); then a cached view (every call).
  const reps = 5;
  let n = 0;
  const coldPolicy = timeOnce(
    () => new AccessControl(policy).view(keyPrincipal(['*'], ['team-0'], `c${n++}`), snapshot),
    reps,
  );
  const coldScopes = timeOnce(() => new AccessControl().view(keyPrincipal(SCOPES, [], `s${n++}`), snapshot), reps);
  const shared = new AccessControl(policy);
  const principal = keyPrincipal(['*'], ['team-0'], 'w');
  shared.view(principal, snapshot);
  const warmDecisions = timeOnce(() => shared.view(keyPrincipal(['*'], ['team-0'], `w${n++}`), snapshot), reps);
  const lookups = 10_000;
  const cachedViewMs = timeOnce(() => {
    for (let i = 0; i < lookups; i++) shared.view(principal, snapshot);
  }, 3);
  return {
    tools: total,
    needs: needs.length,
    model: hub.capabilities.model ?? 'none (lexical only)',
    hubVectorIndex: saved ? `${saved.kind} (${saved.size} vectors)` : 'none',
    findableFraction: {
      policy: fraction(byPolicy),
      scopes: fraction(byScopes),
      nothingHidden: fraction(nothingHidden),
    },
    findMs: { none: none!, policy: byPolicyS!, scopes: byScopesS!, nothingHidden: nothingHiddenS! },
    ratioP50: {
      policy: ratio(byPolicyS!, none!),
      scopes: ratio(byScopesS!, none!),
      nothingHidden: ratio(nothingHiddenS!, none!),
    },
    hnsw,
    viewMs: { coldPolicy, coldScopes, warmDecisionsNewView: warmDecisions },
    cachedViewLookupUs: round((cachedViewMs * 1000) / lookups, 2),
  };
}

// ---- 4. End to end over HTTP ----

async function client(url: string, token?: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1.0.0' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), token ? { authProvider: { token: async () => token } } : {}),
  );
  return c;
}

async function overHttp(
  dir: string,
  issuer: string,
  resource: string,
  policyDir: string,
  calls: number,
  mint: () => Promise<string>,
) {
  const configFile = (name: string, extra: Record<string, unknown>) => {
    const file = join(dir, `${name}.json`);
    const servers = { svc: { command: process.execPath, args: fixtureArgs('svc') } };
    const store = { path: join(dir, `${name}.sqlite`) };
    writeFileSync(file, JSON.stringify({ log: { level: 'warn' }, store, servers, ...extra }));
    return file;
  };
  // One hub per client: timeInterleaved runs 50 calls per target in turn, and a target on the process
  // the previous one just used would find it warm, the others a process that sat idle.
  const guarded = (name: string) =>
    configFile(name, {
      http: { adminToken: ADMIN },
      auth: { mode: ['apiKey', 'jwt'], resource, jwt: { issuer } },
      policy: { files: [policyDir] },
    });
  const [open, keyed, jwtHub] = await Promise.all([
    startHubProcess(configFile('open', {})),
    startHubProcess(guarded('keyed')),
    startHubProcess(guarded('jwt')),
  ]);
  const created = await fetch(`${keyed}/v1/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ tenant: 'default', agent: 'http-bot', scopes: SCOPES, groups: ['team-0'] }),
  });
  if (created.status !== 201) throw new Error(`POST /v1/keys: ${created.status} ${await created.text()}`);
  const { key } = (await created.json()) as { key: string };
  const clients = [
    await client(`${open}/mcp`),
    await client(`${keyed}/mcp`, key),
    await client(`${jwtHub}/mcp`, await mint()),
  ];
  try {
    const [none, apiKey, jwt] = await timeInterleaved(
      clients.map((c) => ({ client: c, tool: 'svc__echo' })),
      { text: 'x' },
      calls,
      100,
      50,
    );
    const [n, k, j] = [summarize(none!), summarize(apiKey!), summarize(jwt!)];
    const diff = (s: Summary) => round((s.p50 - n.p50) * 1000, 0);
    return {
      none: n,
      apiKeyPolicy: k,
      jwtPolicy: j,
      p50DifferenceUs: { apiKeyPolicy: diff(k), jwtPolicy: diff(j) },
      ratioP50: { apiKeyPolicy: ratio(k, n), jwtPolicy: ratio(j, n) },
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    // The hubs write their stores as they stop: stopped here, before the section removes its folder.
    await stopAll();
  }
}

// ---- The section ----

/**
 * The hub's store, kept between runs in the temp folder under a name derived from the catalog and
 * the model: embedding 10k tools takes longer than everything measured here, and a restarted hub
 * reads them from this cache too. The saved vector index is removed, so each run builds its own.
 */
function hubStore(catalogJson: string): string {
  const hash = createHash('sha256').update(catalogJson).digest('hex').slice(0, 12);
  const folder = join(tmpdir(), `switchboard-bench-identity-cache-${hash}`);
  rmSync(join(folder, 'vectors'), { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  return join(folder, 'hub.sqlite');
}

/** The identity section. */
export async function identity(options: BenchOptions): Promise<SectionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-identity-'));
  const log = silentLogger();
  const calls = Math.min(options.calls, 1_000);
  const resource = 'http://127.0.0.1/bench-identity/mcp';
  const oidc = await startOidcProvider({
    resource,
    scopes: [...SCOPES, 'tools:*'],
    clients: [
      { clientId: 'ci-bot', clientSecret: 'ci-secret', claims: CLAIMS },
      { clientId: 'http-bot', clientSecret: 'http-secret', claims: HTTP_CLAIMS },
    ],
    ttlSec: 3_600,
  });
  const db = openDb(join(dir, 'keys.sqlite'));
  const closers: (() => unknown)[] = [
    () => oidc.close(),
    () => db.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  let hub: Hub | undefined;
  try {
    // A folder of its own per policy (PolicyFiles reads every *.cedar in a folder).
    const policyDir = (name: string, text: string) => {
      const folder = mkdtempSync(join(dir, `${name}-`));
      writeFileSync(join(folder, `${name}.cedar`), text);
      return folder;
    };
    const dirs = {
      cached: policyDir('policy', policyText(false)),
      args: policyDir('args-policy', policyText(true)),
      all: policyDir('permit-all', `@id("all")\npermit (principal, action, resource);`),
    };
    const open = (paths: string[]) => PolicyFiles.open({ paths, log, pollMs: 0 });
    const [policy, argsPolicy, allPolicy] = await Promise.all([
      open([dirs.cached]),
      open([dirs.args]),
      open([dirs.all]),
    ]);
    closers.push(
      () => policy.close(),
      () => argsPolicy.close(),
      () => allPolicy.close(),
    );

    const keys = new ApiKeys(new SqliteKeysRepo(db));
    const { key } = keys.create({ tenant: 'acme', agent: 'ci-bot', scopes: SCOPES, groups: ['team-0'] });
    const jwt = await oidc.token('ci-bot', { scope: SCOPES.join(' ') });
    const verifier = new JwtVerifier({ issuer: oidc.issuer, audience: resource }, { log });
    const creds: Credentials = {
      none: new Authenticator({ modes: ['none'] }),
      both: new Authenticator({ modes: ['apiKey', 'jwt'], keys, jwt: verifier }),
      key,
      jwt,
    };
    await creds.both.authenticate({ authorization: `Bearer ${jwt}` }); // discovery and the JWKS fetch, once

    process.stderr.write('bench: identity: authentication ...\n');
    const auth = await authentication(creds);

    process.stderr.write('bench: identity: starting a hub of 10k tools ...\n');
    const catalog = bundledCatalog(options.evalDir);
    const catalogJson = JSON.stringify({ servers: catalog.servers });
    const storePath = hubStore(catalogJson);
    const catalogFile = join(dir, 'catalog.json');
    writeFileSync(catalogFile, catalogJson);
    const servers: Record<string, unknown> = { svc: { command: process.execPath, args: fixtureArgs('svc') } };
    for (const s of catalog.servers)
      servers[s.name] = { command: process.execPath, args: fixtureArgs(s.name, ['--catalog', catalogFile]) };
    const started = performance.now();
    hub = await startHub(
      buildConfig({
        http: { port: 0 },
        gateway: { connectTimeoutMs: 120_000, healthIntervalMs: 600_000 },
        routing: { modelsDir: join(ROOT, 'models') },
        store: { path: storePath },
        log: { level: 'silent' },
        servers,
      }),
      { log, host: '127.0.0.1' },
    );
    await hub.ready;
    await hub.capabilities.refresh();
    const hubStartS = round((performance.now() - started) / 1000, 1);
    if (hub.gateway.catalog.tools.length < catalog.tools)
      throw new Error(`the hub lists ${hub.gateway.catalog.tools.length} tools, expected ${catalog.tools}+`);

    process.stderr.write('bench: identity: pipeline ...\n');
    const chain = await pipeline(hub, creds, policy, argsPolicy, calls);
    process.stderr.write('bench: identity: find_capability ...\n');
    const finds = await find(hub, policy, allPolicy, catalog.needs, storePath);
    await hub.close();
    hub = undefined;

    process.stderr.write('bench: identity: over HTTP ...\n');
    // Hub processes: a failure here (a hub that does not start) is reported, not allowed to lose the rest.
    const http = await overHttp(dir, oidc.issuer, resource, dirs.cached, calls, () =>
      oidc.token('http-bot', { scope: SCOPES.join(' ') }),
    ).catch((error: unknown) => ({ failed: error instanceof Error ? error.message : String(error) }));

    const results = { targetUs: 50, auth, pipeline: chain, find: { ...finds, hubStartS }, http };
    return { results, rows: [], notes: [], markdown: markdown(results) };
  } finally {
    await hub?.close();
    for (const close of closers) await close();
  }
}

type Results = {
  auth: Awaited<ReturnType<typeof authentication>>;
  pipeline: Awaited<ReturnType<typeof pipeline>>;
  find: Awaited<ReturnType<typeof find>> & { hubStartS: number };
  http: Awaited<ReturnType<typeof overHttp>> | { failed: string };
};

const plus = (a: Summary, b: Summary) => `+${round(a.p50 - b.p50, 1)} µs`;

function markdown({ auth, pipeline: p, find: f, http }: Results): string[] {
  const c = p.chainUs;
  const a = p.authAndChainUs;
  const e = p.throughStdioFixtureUs;
  const h = f.hnsw;
  return [
    '',
    `**Identity and policy** (issue 11; target: under 50 µs per call in process). In process, ${p.iterations} interleaved calls per row (${p.slowIterations} for the rows that ask Cedar on every call), µs p50 / p99; "policy" is 50 Cedar rules, the principal an API key or JWT of tenant acme, group team-0, scopes ${SCOPES.join(' ')}.`,
    '',
    '| per request | µs p50 / p99 | vs none (p50) |',
    '|---|---|---|',
    `| authenticate: none | ${us(auth.none)} | |`,
    `| authenticate: API key (SQLite, warm cache) | ${us(auth.apiKey)} | ${plus(auth.apiKey, auth.none)} |`,
    `| authenticate: JWT RS256 (JWKS cached) | ${us(auth.jwt)} | ${plus(auth.jwt, auth.none)} |`,
    `| tool chain, auth none: full view (${p.stages.none.join(' → ')}) | ${us(c.none)} | |`,
    `| tool chain, scopes + policy, decision cached | ${us(c.policyCacheable)} | ${plus(c.policyCacheable, c.none)} |`,
    `| tool chain, scopes + policy reading the arguments (uncacheable) | ${us(c.policyReadsArgs)} | ${plus(c.policyReadsArgs, c.none)} |`,
    `| **authenticate + chain: none** | ${us(a.none)} | |`,
    `| **authenticate + chain: API key + policy** | ${us(a.apiKeyPolicy)} | **${plus(a.apiKeyPolicy, a.none)}** |`,
    `| **authenticate + chain: JWT + policy** | ${us(a.jwtPolicy)} | **${plus(a.jwtPolicy, a.none)}** |`,
    `| authenticate + chain: JWT + policy reading the arguments | ${us(a.jwtArgsPolicy)} | ${plus(a.jwtArgsPolicy, a.none)} |`,
    `| the real chain to a stdio fixture (${e.none.n} calls): none vs API-key principal + policy | ${us(e.none)} vs ${us(e.policy)} | ${e.p50DifferenceUs} µs |`,
    '',
    `A principal's view of the ${f.tools}-tool catalog is built on its first call (per catalog version): ${f.viewMs.coldPolicy} ms with the policy (cold decisions), ${f.viewMs.warmDecisionsNewView} ms for another credential of the same agent (decisions cached), ${f.viewMs.coldScopes} ms with scopes only (medians of 5); the very first one in this process took ${p.firstViewMs.cached} ms (warm-up included). Every later call looks it up: ${f.cachedViewLookupUs} µs.`,
    '',
    `**find_capability at ${f.tools} tools** (model ${f.model}; ${f.needs} needs, one find each per row, interleaved; the hub (ten stdio servers of ~1,000 tools and one fixture) was ready and indexed in ${f.hubStartS} s, its vector index: ${f.hubVectorIndex}), ms p50 / p99:`,
    '',
    `| restriction | findable | Capabilities.find (hub) | ratio p50 | ${h ? 'routeNeed over HNSW | ratio p50 |' : ''}`,
    `|---|---|---|---|${h ? '---|---|' : ''}`,
    `| none (auth none, no policy) | 1 | ${us(f.findMs.none)} | 1 | ${h ? `${us(h.findMs.none)} | 1 |` : ''}`,
    `| policy hides ~90% (team-0 sees bundle-0 and svc) | ${f.findableFraction.policy} | ${us(f.findMs.policy)} | ${f.ratioP50.policy} | ${h ? `${us(h.findMs.policy)} | ${h.ratioP50.policy} |` : ''}`,
    `| scopes hide ~90%, no policy | ${f.findableFraction.scopes} | ${us(f.findMs.scopes)} | ${f.ratioP50.scopes} | ${h ? '| |' : ''}`,
    `| permit-all policy (hides nothing: no filter passed) | ${f.findableFraction.nothingHidden} | ${us(f.findMs.nothingHidden)} | ${f.ratioP50.nothingHidden} | ${h ? `${us(h.findMs.nothingHidden)} | ${h.ratioP50.nothingHidden} |` : ''}`,
    '',
    ...(f.hubVectorIndex.startsWith('exact')
      ? [
          "The hub's routing.vectorIndex 'auto' chose exact search at 10k tools: the kind is fixed at the index's first sync, when only the first server to connect was listed; the HNSW column is what 'auto' is meant to give at this size.",
          '',
        ]
      : []),
    'failed' in http
      ? `Over HTTP loopback: not measured (${http.failed.split('\n')[0]}).`
      : `Over HTTP loopback (hub processes, ${http.none.n} interleaved tools/call each, ms p50 / p99): auth none ${us(http.none)}; API key + policy ${us(http.apiKeyPolicy)} (ratio ${http.ratioP50.apiKeyPolicy}, ${http.p50DifferenceUs.apiKeyPolicy} µs); JWT + policy ${us(http.jwtPolicy)} (ratio ${http.ratioP50.jwtPolicy}, ${http.p50DifferenceUs.jwtPolicy} µs). One hub process per row; differences this small are within the noise of the machine.`,
  ];
}
