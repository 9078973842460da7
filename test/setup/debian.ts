/**
 * Vitest global setup: runs scripts/test-deps.sh, which installs the Debian packages the tests run real
 * programs from (openssl, redis-server, prometheus with promtool, prometheus-alertmanager, chromium) where a
 * command is missing, so a clean CI machine needs nothing by hand. Nothing is skipped: when a package
 * cannot be installed, the run stops here with the reason instead of tests failing one by one later.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const SCRIPT = join(import.meta.dirname, '../../scripts/test-deps.sh');

export default function setup(): void {
  try {
    execFileSync('sh', [SCRIPT], { stdio: 'inherit' });
  } catch (error) {
    throw new Error(`the tests need Debian packages and ${SCRIPT} failed: ${(error as Error).message}`);
  }
}
