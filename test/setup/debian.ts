/**
 * Vitest global setup: the Debian packages the tests run real programs from are installed when a
 * command is missing (`apt-get update` once, then `apt-get install -y`), so a clean CI machine needs
 * nothing by hand. Nothing is skipped: when a package cannot be installed, the run stops here with
 * the reason instead of tests failing one by one later.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** Command the tests run -> the Debian package that provides it. */
const NEEDED: Readonly<Record<string, string>> = {
  openssl: 'openssl', // test/fixtures/certs.ts: the throwaway PKI of the TLS tests
  'redis-server': 'redis-server', // test/fixtures/redis.ts: the shared store of the rate-limit tests
  prometheus: 'prometheus', // test/fixtures/prometheus.ts: the real scraper of test/prometheus.test.ts
  promtool: 'prometheus', // test/prometheus.test.ts: checks and unit-tests deploy/prometheus/alerts.yml
  amtool: 'prometheus-alertmanager', // test/prometheus.test.ts: checks deploy/alertmanager/alertmanager.yml
};

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export default function setup(): void {
  const missing = Object.entries(NEEDED).filter(([command]) => !has(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  process.stderr.write(`test setup: installing Debian packages ${packages.join(', ')}\n`);
  try {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    throw new Error(
      `the tests need ${packages.join(', ')} (Debian) and installing failed: ${(error as Error).message}`,
    );
  }
  const still = missing.filter(([command]) => !has(command)).map(([command]) => command);
  if (still.length > 0) throw new Error(`installed, but still missing: ${still.join(', ')}`);
}
