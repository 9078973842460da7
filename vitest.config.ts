import { defineConfig } from 'vitest/config';

// Tests spawn real MCP servers and bind real loopback ports, so they get generous
// timeouts and run files in parallel processes (two cores on CI).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs the Debian packages whose programs tests run (openssl), when missing.
    globalSetup: ['test/setup/debian.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
