/**
 * The published MCP servers whose tool lists become training pairs (tool name + parameter names vs
 * description). Picked by hand from npm's most used MCP server packages; versions are pinned so a
 * rebuild sees the same tool lists. Servers that need credentials to start, that need a browser
 * download, or whose licence is not permissive simply drop out at harvest time (corpus-mcp.ts
 * records why), so the list may hold more than are used.
 *
 * `args`/`env` only ever carry non-secret settings (a scratch folder, a loopback URL, a demo flag).
 * The token `{scratch}` is replaced by a per-server empty folder.
 */

/** One candidate server package. */
export interface McpServerCandidate {
  readonly pkg: string;
  readonly version: string;
  /** Which bin to start when the package has several (default: the first). */
  readonly bin?: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** Licences we accept for tool text in a model we ship (SPDX ids, compared case-insensitively). */
export const PERMISSIVE_LICENCES = [
  'MIT',
  'ISC',
  'Apache-2.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  '0BSD',
  'Unlicense',
  'CC0-1.0',
];

const c = (
  pkg: string,
  version: string,
  extra: Omit<McpServerCandidate, 'pkg' | 'version'> = {},
): McpServerCandidate => ({ pkg, version, ...extra });

/** The candidates, most used first. */
export const MCP_SERVER_CANDIDATES: readonly McpServerCandidate[] = [
  c('@playwright/mcp', '0.0.83'),
  c('chrome-devtools-mcp', '1.11.0'),
  c('@upstash/context7-mcp', '4.1.1'),
  c('@modelcontextprotocol/server-filesystem', '2026.8.31', { args: ['{scratch}'] }),
  c('@modelcontextprotocol/server-memory', '2026.8.31', { env: { MEMORY_FILE_PATH: '{scratch}/memory.jsonl' } }),
  c('@modelcontextprotocol/server-everything', '2026.8.31', { args: ['stdio'] }),
  c('@modelcontextprotocol/server-sequential-thinking', '2026.8.31'),
  c('@modelcontextprotocol/server-github', '2025.4.8'),
  c('@modelcontextprotocol/server-gitlab', '2025.4.25'),
  c('@modelcontextprotocol/server-slack', '2025.4.25'),
  c('@modelcontextprotocol/server-postgres', '0.6.2', { args: ['postgresql://127.0.0.1:1/none'] }),
  c('@modelcontextprotocol/server-brave-search', '0.6.2'),
  c('@modelcontextprotocol/server-google-maps', '0.6.2'),
  c('@modelcontextprotocol/server-puppeteer', '2025.5.12'),
  c('@modelcontextprotocol/server-redis', '2025.4.25', { args: ['redis://127.0.0.1:1'] }),
  c('@modelcontextprotocol/server-gdrive', '2025.1.14'),
  c('@modelcontextprotocol/server-aws-kb-retrieval', '0.6.2'),
  c('@modelcontextprotocol/server-everart', '0.6.2'),
  c('@modelcontextprotocol/server-pdf', '2.0.4', { args: ['--stdio'] }),
  c('@azure-devops/mcp', '2.10.0', { args: ['example-org'] }),
  c('@notionhq/notion-mcp-server', '2.5.2'),
  c('@circleci/mcp-server-circleci', '0.20.0'),
  c('mongodb-mcp-server', '3.0.4'),
  c('tavily-mcp', '0.2.22'),
  c('@zereight/mcp-gitlab', '2.1.64'),
  c('firecrawl-mcp', '3.26.0'),
  c('@wonderwhy-er/desktop-commander', '0.2.52'),
  c('@executeautomation/playwright-mcp-server', '1.0.12'),
  c('@eslint/mcp', '0.3.13'),
  c('@antv/mcp-server-chart', '0.9.10'),
  c('@bytebase/dbhub', '1.4.0', { args: ['--demo'] }),
  c('@drawio/mcp', '1.6.1'),
  c('@mobilenext/mobile-mcp', '1.0.4'),
  c('mcp-server-code-runner', '0.1.8'),
  c('@aashari/mcp-server-atlassian-jira', '3.3.0'),
  c('@browsermcp/mcp', '0.1.3'),
  c('exa-mcp-server', '3.4.1'),
  c('@softeria/ms-365-mcp-server', '0.155.0'),
  c('mcp-server-kubernetes', '4.1.7'),
  c('mcp-mermaid', '0.4.1'),
  c('@openbnb/mcp-server-airbnb', '0.3.0'),
  c('@cyanheads/git-mcp-server', '2.15.3'),
  c('@pinecone-database/mcp', '0.3.0'),
  c('@agentdeskai/browser-tools-mcp', '2.0.2'),
  c('fetcher-mcp', '0.3.9'),
  c('@mui/mcp', '0.1.6'),
  c('mcp-deepwiki', '0.0.10'),
  c('reddit-mcp-buddy', '1.1.14'),
  c('@negokaz/excel-mcp-server', '0.12.0'),
  c('@sylphx/pdf-reader-mcp', '2.4.0'),
  c('mcp-searxng', '2.4.0', { env: { SEARXNG_URL: 'http://127.0.0.1:1' } }),
  c('next-devtools-mcp', '0.4.0'),
  c('nx-mcp', '0.25.0'),
  c('@doist/todoist-ai', '9.0.0'),
  c('@sentry/mcp-server', '0.39.0'),
  c('@supabase/mcp-server-supabase', '0.13.0'),
  c('@stripe/mcp', '0.3.3'),
  c('@hubspot/mcp-server', '0.4.0'),
  c('airtable-mcp-server', '1.14.0'),
  c('linear-mcp', '1.2.0'),
  c('@heroku/mcp-server', '1.2.8'),
  c('@benborla29/mcp-server-mysql', '2.0.9'),
  c('@google-cloud/cloud-run-mcp', '1.10.0'),
  c('@winor30/mcp-server-datadog', '1.8.0'),
  c('argocd-mcp', '0.9.0', { args: ['stdio'] }),
  c('kubernetes-mcp-server', '0.0.67'),
  c('@line/line-bot-mcp-server', '0.5.0'),
  c('@roychri/mcp-server-asana', '1.8.0'),
  c('replicate-mcp', '0.9.0'),
  c('@launchdarkly/mcp-server', '0.6.2', { args: ['start'] }),
  c('@cablate/mcp-google-map', '0.0.63'),
  c('@dangahagan/weather-mcp', '1.23.0'),
  c('time-mcp', '1.0.6'),
  c('@kimtaeyoon83/mcp-server-youtube-transcript', '0.1.1'),
  c('mcp-fetch-server', '1.1.2'),
  c('@kazuph/mcp-fetch', '1.6.3'),
  c('@j0hanz/filesystem-mcp', '2.5.0', { args: ['{scratch}'] }),
  c('@cyanheads/pubmed-mcp-server', '2.7.4'),
  c('mcp-obsidian', '1.0.0', { args: ['{scratch}'] }),
  c('todoist-mcp', '1.3.4'),
  c('@delorenj/mcp-server-trello', '1.8.1'),
  c('@elastic/mcp-server-elasticsearch', '0.3.1'),
  c('@henkey/postgres-mcp-server', '1.0.7'),
  c('github-mcp-server', '1.8.7'),
  c('octocode-mcp', '19.1.0'),
  c('@codefuturist/email-mcp', '0.2.0'),
  c('@digitalocean/mcp', '1.0.70'),
  c('@agent-infra/mcp-server-browser', '1.2.29'),
  c('@agent-infra/mcp-server-filesystem', '1.2.29', { args: ['--allowed-directories', '{scratch}'] }),
  c('@atlassian-dc-mcp/jira', '0.34.0'),
  c('@atlassian-dc-mcp/confluence', '0.34.0'),
  c('@atlassian-dc-mcp/bitbucket', '0.34.0'),
  c('@nexus2520/bitbucket-mcp-server', '3.0.0'),
  c('@kimsungwhee/apple-docs-mcp', '1.0.26'),
  c('mcp-local-rag', '0.19.1'),
  c('@berthojoris/mcp-mysql-server', '1.43.2'),
  c('@masonator/coolify-mcp', '3.5.0'),
  c('@mondaydotcomorg/monday-api-mcp', '3.3.0'),
  c('@larksuiteoapi/lark-mcp', '0.5.1'),
  c('@brave/brave-search-mcp-server', '2.1.4'),
  c('@perplexity-ai/mcp-server', '1.2.1'),
  c('@cocal/google-calendar-mcp', '2.6.3'),
  c('@mapbox/mcp-server', '0.14.0'),
  c('@modelcontextprotocol/server-map', '2.0.3', { args: ['--stdio'] }),
  c('@modelcontextprotocol/server-system-monitor', '2.0.3', { args: ['--stdio'] }),
];
