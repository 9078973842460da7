/**
 * What the store commands (`switchboard keys`, `audit`, `usage`: cli-keys.ts, cli-audit.ts, cli-usage.ts)
 * share: where they write, how they parse flags and load the config, and how a failure becomes an exit code.
 *
 * Each command keeps its own usage text and flags; this file holds only the plumbing, so the three
 * answer a wrong flag, a bad config or a missing store the same way (one line on stderr, exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfigFile, type Config } from './config/load.js';
import { GatewayError } from './core/errors.js';

/** Where a command writes (process streams by default; tests may pass others). */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The operator's mistake (a flag missing or malformed): exit 2 with the message and the command's usage hint. */
export class UsageError extends Error {}

/** The process streams; `endOnEpipe` ends the process quietly when stdout's reader goes away. */
export function defaultIo(options: { readonly endOnEpipe?: boolean } = {}): CliIo {
  if (options.endOnEpipe) {
    // `... | head` closes the pipe early: that ends the command, it is not an error.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(0);
    });
  }
  return { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };
}

/** A command's flags, as parseArgs takes them (node:util does not export this type by name). */
type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** The parseArgs config every command uses: its argv, its flags, positionals allowed. */
type CommandArgs<O extends CommandOptions> = { args: string[]; allowPositionals: true; options: O };

/** Parses a command's argv (after its name); an unknown or malformed flag throws a {@link UsageError}. */
export function parseFlags<O extends CommandOptions>(
  argv: readonly string[],
  options: O,
): ReturnType<typeof parseArgs<CommandArgs<O>>> {
  try {
    return parseArgs<CommandArgs<O>>({ args: [...argv], allowPositionals: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Prints the usage text for `--help`; returns exit code 0. */
export function printUsage(io: CliIo, usage: string): number {
  io.stdout(`${usage}\n`);
  return 0;
}

/** The config file at `path`; any problem with it (missing, bad YAML, invalid fields) is a CONFIG_INVALID error. */
export function loadCliConfig(path: string): Config {
  try {
    return loadConfigFile(path);
  } catch (error) {
    // Every config problem is the operator's to fix: exit 2 with its message (see exitCodeFor).
    if (error instanceof GatewayError && error.code === 'CONFIG_INVALID') throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new GatewayError('CONFIG_INVALID', message, undefined, { cause: error });
  }
}

/**
 * The exit code for an error a command threw, after one line on stderr: 2 for a {@link UsageError} (its
 * message followed by `usageHint`) and for a BAD_REQUEST or CONFIG_INVALID GatewayError. Anything else is
 * rethrown (a bug keeps its stack), unless `others` is 'exit': then it too is one line and exit 2.
 */
export function exitCodeFor(
  error: unknown,
  io: CliIo,
  usageHint: string,
  others: 'rethrow' | 'exit' = 'rethrow',
): number {
  if (error instanceof UsageError) {
    io.stderr(`switchboard: ${error.message}${usageHint}\n`);
    return 2;
  }
  const operators = error instanceof GatewayError && (error.code === 'BAD_REQUEST' || error.code === 'CONFIG_INVALID');
  if (!operators && others === 'rethrow') throw error;
  io.stderr(`switchboard: ${error instanceof Error ? error.message : String(error)}\n`);
  return 2;
}
