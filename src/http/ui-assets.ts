/**
 * The dashboard's assets (the top-level `ui/` folder): its browser code bundled by esbuild's JS API in
 * memory (no file written, minified, ES2022 modules), and its HTML and CSS read as they are. The build
 * runs once per app (a hub process builds one), on the first request that needs it, and is kept as a promise, so concurrent
 * first requests share one build and a failed build is reported once, not retried per request (an
 * install whose ui/ is broken does not mend itself while the process runs).
 *
 * Why bundle at run time, not in `npm run build`: one build path for `npm start` from source and for
 * dist/ (nothing generated to keep in step with ui/), at the cost of one ~0.5 s build per process, paid
 * only by a hub whose dashboard is opened. Nothing is fetched from the network: Preact and Chart.js
 * come from node_modules, fonts are the system's.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { findPackageRoot } from '../config/paths.js';

/** One served file: its body, content type and ETag (a hash of the body). */
export interface UiFile {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

/** The files the routes serve, by their name under /ui/. */
export type UiFileName = 'index.html' | 'signin.html' | 'app.js' | 'app.css' | 'signin.js' | 'signin.css';

/** What a build produces: every file by name. */
export type UiBundle = Readonly<Record<UiFileName, UiFile>>;

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

function file(body: string, type: string): UiFile {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** The `ui/` folder of the package (next to src/ in the repo, and to dist/ after a build). */
export function uiRoot(): string {
  return join(findPackageRoot() ?? process.cwd(), 'ui');
}

/** Bundles and reads the dashboard's files from `root` (the `ui/` folder). Rejects with esbuild's messages. */
export async function buildUi(root: string = uiRoot()): Promise<UiBundle> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: join(root, 'src/main.tsx'), signin: join(root, 'src/signin.ts') },
    outdir: join(root, 'out'), // names the outputs only: write is false
    bundle: true,
    write: false,
    minify: true,
    target: 'es2022',
    format: 'esm',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(root, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = (name: string): string => {
    const found = result.outputFiles.find((f) => f.path === join(root, 'out', `${name}.js`));
    if (!found) throw new Error(`esbuild produced no ${name}.js`);
    return found.text;
  };
  const read = (name: string) => readFile(join(root, name), 'utf8');
  const [index, signin, appCss, signinCss] = await Promise.all([
    read('index.html'),
    read('signin.html'),
    read('app.css'),
    read('signin.css'),
  ]);
  return {
    'index.html': file(index, TYPES.html),
    'signin.html': file(signin, TYPES.html),
    'app.js': file(output('app'), TYPES.js),
    'app.css': file(appCss, TYPES.css),
    'signin.js': file(output('signin'), TYPES.js),
    'signin.css': file(signinCss, TYPES.css),
  };
}

/** The dashboard's files of one app: built on first use, then kept (see the header). */
export class UiAssets {
  /** The ui/ folder built from. */
  readonly root: string;
  #bundle: Promise<UiBundle> | undefined;

  constructor(root: string = uiRoot()) {
    this.root = root;
  }

  /** The built files; the same promise for every caller, failed or not. */
  get(): Promise<UiBundle> {
    this.#bundle ??= buildUi(this.root);
    return this.#bundle;
  }
}
