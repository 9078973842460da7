/**
 * Writes models/<MODEL_ID>/README.md from the build report: what the model is, the exact command,
 * settings, sizes, timings, measured quality (beside the shipped baseline when measured), and every
 * source with its licence (WordNet's notice in full, as its licence requires on all copies).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Corpus } from './corpus.js';
import type { ActionProbe, SetResult } from './evaluate.js';
import { MODEL_ID, PATHS } from './paths.js';

/** What build.ts hands over. */
export interface BuildReport {
  readonly settings: Record<string, unknown>;
  readonly stats: Record<string, unknown>;
  readonly losses: readonly number[];
  readonly timings: Readonly<Record<string, number>>;
  readonly sizes: Readonly<Record<string, number>>;
  readonly verification: Readonly<Record<string, number>>;
  readonly evaluation: readonly SetResult[] | undefined;
  /** The shipped model measured on the same sets, for the side-by-side table. */
  readonly baseline?: { readonly model: string; readonly results: readonly SetResult[] } | undefined;
  /** The action probe (evaluate.ts) of this model and of the baseline. */
  readonly probe?: { readonly model: ActionProbe; readonly baseline?: ActionProbe } | undefined;
  readonly svdCached: boolean;
}

/** Dense-only figures of this model beside the baseline's, set by set. */
function baselineTable(report: BuildReport): string {
  const b = report.baseline;
  if (!b || !report.evaluation?.length) return '';
  const byName = new Map(b.results.map((r) => [r.set, r]));
  const cell = (x: SetResult['dense']) => `${f1(x.top1)} / ${f1(x.recall5)}`;
  const delta = (x: SetResult['dense'], y: SetResult['dense']) =>
    `${x.top1 - y.top1 >= 0 ? '+' : ''}${f1(x.top1 - y.top1)} / ${x.recall5 - y.recall5 >= 0 ? '+' : ''}${f1(x.recall5 - y.recall5)}`;
  const rows = report.evaluation.flatMap((r) => {
    const old = byName.get(r.set);
    if (!old) return [];
    const out = [
      `| ${r.set} | ${r.queries} | ${cell(old.dense)} | ${cell(r.dense)} | ${delta(r.dense, old.dense)} | ${cell(old.fused)} | ${cell(r.fused)} |`,
    ];
    if (r.unseen && old.unseen)
      out.push(
        `| ↳ not in the training pairs | ${r.unseen.queries} | ${cell(old.unseen.dense)} | ${cell(r.unseen.dense)} | ${delta(r.unseen.dense, old.unseen.dense)} | ${cell(old.unseen.fused)} | ${cell(r.unseen.fused)} |`,
      );
    return out;
  });
  return `

Beside the shipped \`${b.model}\` on the same sets (top-1 / R@5 in percent; same evaluation code):

| set | queries | ${b.model} dense | ${MODEL_ID} dense | change | ${b.model} z-fused 0.5 | ${MODEL_ID} z-fused 0.5 |
|---|---|---|---|---|---|---|
${rows.join('\n')}`;
}

/** The action probe's figures, this model beside the baseline. */
function probeText(report: BuildReport): string {
  const p = report.probe;
  if (!p) return '';
  const f = (x: ActionProbe) => `${f1(x.accuracy)}% (mean margin ${x.margin.toFixed(3)})`;
  return `

Action probe (\`actionProbe\` in scripts/model/evaluate.ts; no eval set involved): ${p.model.texts} texts "<verb> a <object>"
over 12 objects that are no word of a training tool name's object and 4 actions x 4 verbs (add/insert/create/register,
delete/remove/erase/drop, update/edit/modify/change, get/show/fetch/view); a text is right when its nearest
neighbour among its object's texts states the same action: ${MODEL_ID} ${f(p.model)}${p.baseline && report.baseline ? `, ${report.baseline.model} ${f(p.baseline)}` : ''}.`;
}

/** The v2 training changes, as the settings record them. */
function hardNegativeText(s: Record<string, unknown>, st: Record<string, unknown>): string {
  const parts: string[] = [];
  if (s.hardNegatives)
    parts.push(
      `explicit hard negatives (${st.pairsWithNegatives} pairs carry them): each tool name is read as action + object with the product's action lexicon (src/router/actions.ts), and each draw of a tool pair brings one tool with the same object but another action (its own server's first: create_issue vs close_issue / delete_issue) into the batch as an extra column of the InfoNCE denominator, for both directions; a tool pair's draws also alternate between its server's run and a run of every server's tools sharing its object`,
    );
  if (s.actionPairs)
    parts.push(
      `${st.actionPairs} action pairs generated from the lexicon's clusters over the objects of the training servers' tool names ("add the record" / "insert the record", with other actions on the object, "delete the record", as hard negatives; ${JSON.stringify(s.actionPairs)} per object and action)`,
    );
  if (!parts.length) return '';
  return `\nv2 training changes: ${parts.join('; and ')}. Pairs or negatives that mean the same (two pairs for one action on one object, a negative that is the row's own tool) are masked out of each other's denominators.`;
}

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const f1 = (n: number) => n.toFixed(1);

function wordnetNotice(): string {
  try {
    const copyright = readFileSync(
      join(PATHS.work, 'debs', 'x', 'wordnet-base', 'usr', 'share', 'doc', 'wordnet-base', 'copyright'),
      'utf8',
    );
    const m = /License: WordNet3\.0\n([\s\S]*?)\n\nFiles:/.exec(copyright);
    if (m)
      return m[1]!
        .split('\n')
        .map((l) => (l.trim() === '.' ? '' : l.replace(/^ /, '')))
        .join('\n');
  } catch {
    // fall through to the pointer below
  }
  return 'See the WordNet 3.0 licence at https://wordnet.princeton.edu/license-and-commercial-use';
}

function qualityTable(results: readonly SetResult[] | undefined): string {
  if (!results?.length) return '_Not measured in this build (run without `--no-eval`)._';
  const cells = (x: { bm25: SetResult['bm25']; dense: SetResult['dense']; fused: SetResult['fused'] }) =>
    `${f1(x.bm25.top1)} / ${f1(x.bm25.recall5)} | ${f1(x.dense.top1)} / ${f1(x.dense.recall5)} | ${f1(x.fused.top1)} / ${f1(x.fused.recall5)}`;
  const rows = results.flatMap((r) => [
    `| ${r.set} | ${r.tools} | ${r.queries} | ${cells(r)} |`,
    ...(r.unseen
      ? [`| ↳ only queries whose tools were not in the training pairs | | ${r.unseen.queries} | ${cells(r.unseen)} |`]
      : []),
  ]);
  return [
    '| set | tools | queries | BM25 reference top-1 / R@5 | dense only top-1 / R@5 | BM25 + dense (z-fused 0.5) top-1 / R@5 |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** One sentence on dense-only vs BM25, from the figures rather than from hope. */
function verdict(results: readonly SetResult[] | undefined): string {
  if (!results?.length) return 'a static model mostly buys recall, not first-place precision (DESIGN.md §7).';
  const below = results.filter((r) => r.dense.top1 < r.bm25.top1).length;
  const fusedBetter = results.filter((r) => r.fused.recall5 >= r.bm25.recall5).length;
  return `dense-only top-1 is below the reference BM25 on ${below} of ${results.length} sets below, while the z-fused combination reaches at least BM25's Recall@5 on ${fusedBetter} of ${results.length}: what the model adds is recall for needs phrased in other words than the tool's description.`;
}

/** Writes the README next to the model files. */
export function writeReadme(report: BuildReport, corpus: Corpus): void {
  const s = report.settings;
  const st = report.stats;
  const total = Object.values(report.sizes).reduce((a, b) => a + b, 0);
  const used = corpus.mcp.filter((r) => !r.skipped);
  const skipped = corpus.mcp.filter((r) => r.skipped);
  const text = `# ${MODEL_ID}

Switchboard's default embedding model: a **static word-embedding model** (one vector per vocabulary
row, no attention), built from public sources by \`npm run model:build\` and loaded offline by the
product's \`TransformersEmbedder\` through the transformers.js \`feature-extraction\` pipeline with
\`pooling: 'mean', normalize: true\`. A text's vector is the normalised, IDF-weighted sum of its words'
vectors (the IDF weights are baked into the rows, so mean pooling yields the weighted direction).

It is meant to be **fused with the lexical index**, not to route alone: ${verdict(report.evaluation)}

## Files

| file | size |
|---|---|
${Object.entries(report.sizes)
  .map(([k, v]) => `| ${k} | ${mb(v)} |`)
  .join('\n')}
| **total** | **${mb(total)}** |

- \`onnx/model.onnx\`: hand-encoded ONNX (opset 17): \`Gather\` of an int8 table [${st.rows} x ${s.dim}] and of a
  float32 per-row scale [${st.rows} x 1] by \`input_ids\`, \`Cast\`, \`Mul\`, then \`Mul\` by \`attention_mask\`
  -> \`last_hidden_state\` [batch, sequence, ${s.dim}]. Int8 with a per-row scale (symmetric, max |x| -> 127).
- \`tokenizer.json\`: WordLevel vocabulary of ${st.surfaceForms} surface forms mapping to ${st.rows} rows (rows are
  Porter2 stems: "create", "creates", "created" share one row); normaliser NFKD + strip accents + lowercase;
  pre-tokenizer Whitespace (\`\\w+|[^\\w\\s]+\`); a \`[CLS]\` prefix whose row is tiny (norm ${s.clsNorm}) so a text with
  no known word gets a fixed vector instead of NaN. Rows 0-2: \`[PAD]\`, \`[UNK]\` (zero), \`[CLS]\`. Stopwords
  (the lexical index's conversational list) and unknown words map to \`[UNK]\` and weigh nothing.
- \`config.json\`: \`model_type: "bert"\` (only so AutoModel picks an encoder; the graph has no layers), hidden size ${s.dim}.
- Dimension **${s.dim}**; model_max_length ${s.maxLength} tokens.

## How it was built

\`\`\`
npm run model:build          # = tsx scripts/model/build.ts  (root: apt runs with its lists redirected)
\`\`\`

Downloads are cached in \`data/model-build/\` (Debian lists and .deb files, harvested tool lists, an SVD
cache); npm installs of MCP servers go to \`$TMPDIR/switchboard-model-build\`, never into the project.
Steps: corpus -> vocabulary (stems with document frequency >= ${s.minDf}, top ${s.maxRows} rows, plus every stem
of the MCP tool texts so product names stay) -> PPMI (window ${s.window}, 1/distance weights, context
smoothing 0.75) + randomised SVD (${s.svdIterations} power iterations) -> contrastive training -> export ->
verification -> evaluation. Training: symmetric InfoNCE with in-batch negatives, temperature ${s.temperature},
batch ${s.batch}, lazy sparse Adam lr ${s.lr}, ${s.epochs} epochs; pairs per epoch by source ${JSON.stringify(s.perEpoch)}, sources drawn several times per epoch ${JSON.stringify(s.repeat)};
the tool pairs of one MCP server are batched together in runs of up to ${s.groupRun}, so sibling tools
(create_issue / update_issue) are each other's hard negatives;
seed ${s.seed}; single-threaded and deterministic.${hardNegativeText(s, st)} Loss per epoch${s.hardNegatives ? " (hard negatives in the denominator: not comparable to v1's)" : ''}: ${report.losses.map((l) => l.toFixed(3)).join(', ')}.

Timings of this build on 2 cores (seconds, downloads cached${report.svdCached ? ', SVD from the cache' : ''}): ${Object.entries(
    report.timings,
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}.
Downloads on a fresh machine add about 11 minutes (measured for v1; 20 minutes for v2 on a busier machine): apt lists ~2 s, ~210 .deb files
(~400 MB, only man pages and copyright files unpacked) ~1 min, npm install + tools/list of the candidate
MCP servers ~10 min, three at a time (each install is deleted once its tool list is cached).

Verification (build step): transformers.js tokenizer ids = build tokenizer ids (${report.verification.tokenMismatches} mismatches),
onnxruntime output vs TypeScript table max |diff| ${report.verification.ortMaxDiff?.toExponential(1)}, TransformersEmbedder vs TypeScript
minimum cosine ${report.verification.minCosine?.toFixed(6)}, unit norm within ${report.verification.maxNormError?.toExponential(1)}.

## Training data

| source | pairs | what a pair is |
|---|---|---|
| Debian package descriptions (bookworm Translation-en, ${st.debianPackages} packages) | ${st.debianPairs} | synopsis vs first long-description paragraph (paragraphs shared by several packages kept once) |
| WordNet 3.0 (Debian wordnet-base) | ${st.wordnetPairs} | lemmas vs definition |
| man pages of ${st.manPackages} Debian packages (${st.manPages} pages) | ${st.manPairs} | NAME line vs first DESCRIPTION paragraph |
| ${st.mcpServers} MCP servers from npm (${st.mcpTools} tools) | ${st.mcpPairs} | tool name + parameter names vs description; tool + parameter name vs parameter description |
${st.actionPairs ? `| action lexicon (src/router/actions.ts) x objects of those tool names | ${Number(st.actionPairs)} | one action on one object stated with two synonym verbs; other actions on the object as negatives |\n` : ''}
Pairs after tokenisation (both sides non-empty): ${JSON.stringify(st.pairsBySource)}.
Never trained on: anything under \`../shared/eval\` (LiveMCPBench, MCPToolBench++, the Smithery crawl) or
\`data/eval\`; those are only measured on.

## Measured quality

Dense-only retrieval with this model vs the reference BM25 of DESIGN.md §7 (split name + description +
parameter names, k1 1.2, b 0.75, no stemming, small stoplist), top-1 and Recall@5 in percent, answerable
queries only; tool text embedded as the product does (\`capabilityDoc\`: name, description, parameter
names). Quick script: \`npx tsx scripts/model/evaluate.ts\`; the lead's \`npm run bench\` is the real benchmark.
The public sets reuse published servers' tools (MCPToolBench++ is mostly Playwright, Puppeteer and the
reference filesystem server), and some of those servers are among the training tool pairs (their tool
descriptions, never the sets' queries): the ↳ rows leave those queries out. Our own set
(data/eval/switchboard, written by the team) shares no tool description with the training data.

${qualityTable(report.evaluation)}${baselineTable(report)}${probeText(report)}

## Licences of the sources

The vectors are derived from texts under several licences; the model mixes them. Record kept here.

- **Debian package descriptions**: each description is part of its package, under that package's licence
  (all in Debian main, so DFSG-free; many are GPL). Source: Debian bookworm \`main\` Translation-en.
- **Man pages**: mixed licences including GPL-2+/GPL-3+, BSD, MIT and the Linux man-pages licences; each
  package's terms are in its \`/usr/share/doc/<package>/copyright\`. Packages used: ${corpus.manPackages.join(', ')}.
- **MCP server tool lists** (npm, permissive licences only; version pinned): ${used.map((r) => `${r.pkg}@${r.version} (${r.licence}, ${r.tools.length} tools)`).join('; ')}.
  Tried and not used: ${skipped.map((r) => `${r.pkg} (${r.skipped!.split(':')[0]})`).join('; ')}.
- **WordNet 3.0**, whose licence requires this notice on all copies:

\`\`\`
${wordnetNotice()}
\`\`\`
`;
  writeFileSync(join(PATHS.model, 'README.md'), text);
}
