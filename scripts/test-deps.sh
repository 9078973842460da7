#!/bin/sh
# The Debian packages the tests run real programs from, installed where a command is missing
# (`apt-get update` once, then `apt-get install -y` per missing package), so a clean CI machine needs
# nothing by hand. Run by the vitest global setup (test/setup/debian.ts) before any test; it may also
# be run by hand as root. Exits non-zero when a package cannot be installed: nothing is skipped.
#
#   openssl                  test/fixtures/certs.ts: the throwaway PKI of the TLS tests
#   redis-server             test/fixtures/redis.ts: the shared store of the rate-limit tests
#   prometheus (+ promtool)  test/fixtures/prometheus.ts, test/prometheus.test.ts: scraping, alert-rule tests
#   prometheus-alertmanager  test/prometheus.test.ts: amtool checks deploy/alertmanager/alertmanager.yml
#   chromium                 test/dashboard.test.ts: the dashboard in headless Chromium (playwright-core)
set -eu
has() { command -v "$1" >/dev/null 2>&1; }
if has openssl && has redis-server && has prometheus && has promtool && has amtool && has chromium; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
has openssl || apt-get install -y openssl
has redis-server || apt-get install -y redis-server
{ has prometheus && has promtool; } || apt-get install -y prometheus
has amtool || apt-get install -y prometheus-alertmanager
has chromium || apt-get install -y chromium
for command in openssl redis-server prometheus promtool amtool chromium; do
  has "$command" || { echo "test-deps: installed, but $command is still missing" >&2; exit 1; }
done
