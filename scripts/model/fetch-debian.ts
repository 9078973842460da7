/**
 * Downloads from Debian's archive without installing anything: apt runs with its lists and cache
 * redirected into the work folder (so the machine's apt state is untouched and Acquire::Languages=en
 * brings the Translation-en files that hold every package's long description), and packages are
 * fetched with `apt-get download` and unpacked with dpkg-deb into the work folder. Needs root only
 * because apt does; everything lands under <work>/apt and <work>/debs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PATHS } from './paths.js';

const APT = join(PATHS.work, 'apt');
const DEBS = join(PATHS.work, 'debs');
// An empty dpkg status file: candidates come from the archive, not from what this machine has installed.
const aptOptions = () => [
  '-o',
  `Dir::State::status=${join(APT, 'status')}`,
  '-o',
  `Dir::State::Lists=${join(APT, 'lists')}`,
  '-o',
  `Dir::Cache=${join(APT, 'cache')}`,
  '-o',
  'Acquire::Languages=en',
  '-o',
  'Acquire::GzipIndexes=false',
];

/** Runs `apt-get update` into the work folder once; returns the Translation-en files (main archive first). */
export function aptLists(): string[] {
  const lists = join(APT, 'lists');
  const find = () =>
    existsSync(lists)
      ? readdirSync(lists)
          .filter((f) => f.endsWith('_i18n_Translation-en'))
          .sort((a, b) => a.length - b.length || (a < b ? -1 : 1))
          .map((f) => join(lists, f))
      : [];
  mkdirSync(join(APT, 'cache', 'archives', 'partial'), { recursive: true });
  if (!existsSync(join(APT, 'status'))) writeFileSync(join(APT, 'status'), '');
  if (find().length === 0) {
    mkdirSync(join(lists, 'partial'), { recursive: true });
    execFileSync('apt-get', [...aptOptions(), '-qq', 'update'], { stdio: 'inherit' });
  }
  const files = find();
  if (files.length === 0) throw new Error('apt-get update brought no Translation-en file');
  return files;
}

/** Man pages and the copyright file (for the licence record): all we keep of most packages. */
export const DOC_PATHS = ['./usr/share/man/*', './usr/share/doc/*/copyright'];

/** Downloads (if missing) and unpacks `paths` of the given packages; returns the folder each was unpacked to. */
export function fetchPackages(
  names: readonly string[],
  paths: readonly string[] = DOC_PATHS,
  log: (line: string) => void = console.log,
): Map<string, string> {
  aptLists();
  mkdirSync(join(DEBS, 'files'), { recursive: true });
  const out = new Map<string, string>();
  const missing = new Set<string>();
  const files = () => readdirSync(join(DEBS, 'files'));
  const debOf = (name: string) => files().find((f) => f.startsWith(`${name}_`));
  // One apt-get call for all (each call re-reads the 50 MB package list); names apt cannot locate
  // are reported in its error, dropped, and the rest retried.
  let todo = names.filter((n) => !existsSync(join(DEBS, 'x', n, '.done')) && !debOf(n));
  for (let round = 0; todo.length && round < 20; round++) {
    const r = spawnSync('apt-get', [...aptOptions(), '-qq', 'download', ...todo], {
      cwd: join(DEBS, 'files'),
      encoding: 'utf8',
    });
    if (r.status === 0) break;
    const bad = todo.filter((n) =>
      new RegExp(`(package|for|of) '?${n.replace(/[.+]/g, '\\$&')}(:amd64)?'?( |$)`, 'm').test(r.stderr),
    );
    if (bad.length === 0) throw new Error(`apt-get download failed: ${r.stderr.slice(-500)}`);
    for (const b of bad) missing.add(b);
    todo = todo.filter((n) => !bad.includes(n) && !debOf(n));
  }
  for (const name of names) {
    const target = join(DEBS, 'x', name);
    if (existsSync(join(target, '.done'))) {
      out.set(name, target);
      continue;
    }
    const deb = debOf(name);
    if (!deb) {
      missing.add(name);
      continue;
    }
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    // tar exits non-zero when a pattern matches nothing (a package without man pages): not an error.
    spawnSync('sh', [
      '-c',
      'f=$1; t=$2; shift 2; dpkg-deb --fsys-tarfile "$f" | tar -x -C "$t" --wildcards "$@" 2>/dev/null; true',
      'sh',
      join(DEBS, 'files', deb),
      target,
      ...paths,
    ]);
    execFileSync('touch', [join(target, '.done')]);
    out.set(name, target);
  }
  if (missing.size) log(`  debian: not available: ${[...missing].join(', ')}`);
  return out;
}
