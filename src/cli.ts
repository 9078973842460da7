#!/usr/bin/env node
/**
 * Process entry: argv + env -> config -> compose -> serve, and the signal handling around it.
 *
 *   switchboard serve --config F [--host H] [--port P]   hub: Streamable HTTP at /mcp
 *   switchboard stdio --config F                         sidecar: one agent over stdio
 *   switchboard check --config F                         validate a config file and exit
 *   switchboard experiments report NAME --config F       an experiment's results from the store
 *   switchboard compat matrix --config F                 tool versions against backends
 */
import { parseArgs } from 'node:util';
import { loadConfigFile, type Config } from './config/load.js';
import { GatewayError } from './core/errors.js';
import { startHub, startSidecar } from './compose.js';
import { VERSION } from './version.js';
import { silentLogger } from './telemetry/logger.js';
import { resolve } from 'node:path';
import { unwatchFile, watchFile } from 'node:fs';
import { buildReport, renderReport } from './experiments/report.js';
import { CompatTracker } from './gateway/compat.js';
import { openDb } from './store/db.js';
import { SqliteCompatStore } from './store/compat-repo.js';
import { SqliteExperimentStore } from './store/experiments-repo.js';
import { createLogger } from './telemetry/logger.js';

/** Downloads a model from the hub into `modelsDir/<id>/` and checks that it embeds. */
async function pullModel(id: string, modelsDir: string): Promise<void> {
  process.stderr.write(`switchboard: fetching ${id} into ${modelsDir}/${id}/ ...\n`);
  try {
    // Imported here, not at the top: transformers.js costs start-up time that serve and stdio must not pay first.
    const { TransformersEmbedder } = await import('./index/embedder/transformers.js');
    const embedder = await TransformersEmbedder.load({ model: id, modelsDir, allowRemote: true });
    process.stdout.write(
      `ok: ${id} (${embedder.dim} dimensions) is in ${modelsDir}/${id}/; select it with routing.model: ${id}\n`,
    );
    await embedder.close();
  } catch (error) {
    fail(
      `could not fetch ${id}: ${(error as Error).message}\nThis machine may have no route to the model hub. On a machine that has one, run this command there and copy ${modelsDir}/${id}/ (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) here.`,
      1,
    );
  }
}

const USAGE = `switchboard ${VERSION}: an MCP gateway

usage:
  switchboard serve --config FILE [--host HOST] [--port PORT]   run the hub (Streamable HTTP at /mcp)
  switchboard stdio --config FILE                                run as a stdio sidecar for one agent
  switchboard check --config FILE                                validate a config file
  switchboard model pull HUB-ID [--models-dir DIR]               fetch a transformers.js ONNX sentence model into models/
  switchboard experiments report NAME --config FILE [--json]     an experiment's results (from the store in the config)
  switchboard compat matrix --config FILE [--json]               tool versions against the backends that serve them
  switchboard keys create --config FILE --tenant T --agent A --scope S [--scope S2] [--group G] [--expires 30d]
  switchboard keys list --config FILE [--tenant T] [--json]      API keys (never their secrets)
  switchboard keys revoke --config FILE ID                       revoke an API key at once
  switchboard audit verify --config FILE                         check the audit trail's hash chain
  switchboard audit tail|query|export --config FILE [filters]    read the audit trail (switchboard audit -h)
  switchboard usage report --config FILE --tenant T --from ISO --to ISO [--group-by tool|server|agent|day] [--format csv|json]

serve and stdio re-read FILE on SIGHUP or when it changes: experiments and pins apply without a restart.

FILE is YAML or JSON; an mcpServers file from Claude Desktop, Cursor or VS Code works as is.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(code);
}

function load(path: string | undefined): Config {
  if (!path) fail(`--config FILE is required\n\n${USAGE}`);
  let config: Config;
  try {
    config = loadConfigFile(path);
  } catch (error) {
    fail(error instanceof GatewayError ? error.message : String(error));
  }
  // Never a temporary store without saying so.
  if (config.store.path === ':memory:')
    process.stderr.write(
      'switchboard: store.path is ":memory:": runtime registrations, learned examples and experiment results are lost at exit\n',
    );
  return config;
}

/** Re-reads the config on SIGHUP and when the file changes; a bad edit is reported and ignored. */
function watchConfig(path: string, reload: (config: Config) => void): void {
  const log = createLogger({ level: 'info' }).child({ component: 'config' });
  const apply = (why: string) => {
    try {
      reload(loadConfigFile(path));
      log.info(
        { file: resolve(path), why },
        'config reloaded (experiments and pins applied; other changes need a restart)',
      );
    } catch (error) {
      log.error(
        { file: resolve(path), why, err: (error as Error).message },
        'config reload failed; keeping the running config',
      );
    }
  };
  process.on('SIGHUP', () => apply('SIGHUP'));
  watchFile(path, { interval: 500, persistent: false }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs) apply('file changed');
  });
  process.once('exit', () => unwatchFile(path));
}

/** Prints an experiment's report from the store the config names. */
function experimentReport(config: Config, name: string | undefined, json: boolean): void {
  if (!name) fail('usage: switchboard experiments report <name> --config FILE');
  const experiment = config.experiments[name];
  if (!experiment)
    fail(
      `no experiment "${name}" in ${config.source}; configured: ${Object.keys(config.experiments).join(', ') || 'none'}`,
    );
  const db = openDb(config.store.path);
  try {
    const store = new SqliteExperimentStore(db);
    const report = buildReport(name, experiment.arms, store.armStats(name), store.states().get(name)?.stoppedArms);
    process.stdout.write(`${json ? JSON.stringify(report, null, 2) : renderReport(report)}\n`);
  } finally {
    db.close();
  }
}

/** Prints the compatibility matrix from the store the config names. */
function compatMatrix(config: Config, json: boolean): void {
  const db = openDb(config.store.path);
  try {
    const tracker = new CompatTracker(new SqliteCompatStore(db), createLogger({ level: 'silent' }));
    tracker.seedFromStore();
    const matrix = tracker.matrix();
    if (json) return void process.stdout.write(`${JSON.stringify(matrix, null, 2)}\n`);
    if (matrix.length === 0)
      return void process.stdout.write('no tool versions recorded yet (run the gateway first)\n');
    const lines = ['server / tool @ version | backends (current version: verdict)'];
    for (const row of matrix)
      lines.push(
        `${row.server} / ${row.tool} @ v${row.version}${row.declaredVersion ? ` (${row.declaredVersion})` : ''} | ${row.backends.map((b) => `${b.instance}${b.current !== undefined ? ` v${b.current}` : ''}: ${b.verdict}`).join(', ')}`,
      );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    db.close();
  }
}

/** Closes on SIGTERM/SIGINT (a second signal exits at once). */
function onSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`switchboard: ${signal}, shutting down\n`);
    close().then(
      () => process.exit(0),
      (error: unknown) => fail(`shutdown failed: ${String(error)}`, 1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  // `keys` has its own flags (--tenant, --scope, ...): src/cli-keys.ts parses them.
  if (argv[0] === 'keys')
    return void (process.exitCode = (await import('./cli-keys.js')).runKeysCommand(argv.slice(1)));
  // `audit` too (filters, --follow, --format): src/cli-audit.ts.
  if (argv[0] === 'audit')
    return void (process.exitCode = await (await import('./cli-audit.js')).runAuditCommand(argv.slice(1)));
  // `usage` too (--tenant, --from, --to, ...): src/cli-usage.ts.
  if (argv[0] === 'usage')
    return void (process.exitCode = (await import('./cli-usage.js')).runUsageCommand(argv.slice(1)));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      'models-dir': { type: 'string' },
      version: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals[0];
  if (values.help || !command) return void process.stdout.write(`${USAGE}\n`);

  if (command === 'model') {
    const [, action, id] = positionals;
    if (action !== 'pull' || !id) fail(`usage: switchboard model pull <hub-id> (for example Xenova/all-MiniLM-L6-v2)`);
    await pullModel(id, resolve(values['models-dir'] ?? 'models'));
    return;
  }
  if (command === 'experiments') {
    if (positionals[1] !== 'report') fail('usage: switchboard experiments report <name> --config FILE [--json]');
    experimentReport(load(values.config), positionals[2], values.json === true);
    return;
  }
  if (command === 'compat') {
    if (positionals[1] !== 'matrix') fail('usage: switchboard compat matrix --config FILE [--json]');
    compatMatrix(load(values.config), values.json === true);
    return;
  }
  if (command === 'check') {
    const config = load(values.config);
    // Policy files are parsed and validated against the entity schema too (every problem with file:line:col).
    if (config.policy.files.length > 0) {
      const { PolicyFiles } = await import('./policy/loader.js');
      try {
        const policy = await PolicyFiles.open({ paths: config.policy.files, log: silentLogger(), pollMs: 0 });
        const size = policy.current()?.size ?? 0;
        policy.close();
        process.stdout.write(`ok: ${size} policy rule(s) in ${config.policy.files.join(', ')}\n`);
      } catch (error) {
        fail((error as Error).message);
      }
    }
    process.stdout.write(`ok: ${config.servers.length} server(s) in ${config.source}\n`);
    return;
  }
  if (command === 'serve') {
    const config = load(values.config);
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
      fail(`--port must be an integer from 0 to 65535, got "${values.port}"`);
    try {
      const hub = await startHub(config, {
        ...(values.host ? { host: values.host } : {}),
        ...(port !== undefined ? { port } : {}),
      });
      onSignals(() => hub.close());
      watchConfig(values.config!, (next) => hub.reload(next));
      await hub.ready;
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error), 1);
    }
    return;
  }
  if (command === 'stdio') {
    const config = load(values.config);
    const sidecar = await startSidecar(config);
    onSignals(() => sidecar.close());
    watchConfig(values.config!, (next) => sidecar.reload(next));
    // The agent closing our stdin ends the session.
    process.stdin.on('end', () => {
      sidecar.close().then(
        () => process.exit(0),
        (error: unknown) => fail(`shutdown failed: ${String(error)}`, 1),
      );
    });
    await sidecar.ready;
    return;
  }
  fail(`unknown command "${command}"\n\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error), 1));
