/**
 * Man pages of the packages in man-packages.ts: the NAME line ("ls - list directory contents") and
 * the first DESCRIPTION paragraph restate one capability, in the imperative, command-line register
 * that tool descriptions share. Parses both man(7) and mdoc(7) sources just well enough to get
 * plain text; pages that are only `.so` links and translated pages are skipped.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Pair } from './corpus-debian.js';

/** Groff escapes and inline font changes to plain text. */
function plain(line: string): string {
  return line
    .replace(/\\f(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\\*(\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\\((em|en|hy|mi)/g, '-')
    .replace(/\\\(../g, ' ')
    .replace(/\\\[[^\]]*\]/g, ' ')
    .replace(/\\s[+-]?\d/g, '')
    .replace(/\\[-&%|^:,/]/g, (m) => (m === '\\-' ? '-' : ''))
    .replace(/\\e/g, '\\')
    .replace(/\\ /g, ' ')
    .replace(/\\c$/, '')
    .replace(/"/g, '');
}

/** A macro line's words (`.B foo` -> foo, `.Fl v` -> -v, `.Xr ls 1` -> ls), or undefined for structure. */
function macroText(line: string): string | undefined {
  const m = /^[.'](\S+)\s*(.*)$/.exec(line);
  if (!m) return plain(line);
  const [, name = '', rest = ''] = m;
  if (
    /^(B|I|BI|IB|BR|RB|IR|RI|SM|SB|Nm|Ar|Pa|Em|Sy|Cm|Ic|Va|Ev|Dv|Li|Ql|Dq|Sq|Pq|Qo|Qc|Do|Dc|Op|Ux|Bx|At|St|Ad|Fn|Fa|Ft|Vt|Er|Tn|No|Ns)$/.test(
      name,
    )
  ) {
    return plain(rest.replace(/\b(Ns|Ql|Op|Ar|Pa|No)\b/g, ' '));
  }
  if (name === 'Fl')
    return plain(
      rest
        .split(/\s+/)
        .map((f) => `-${f}`)
        .join(' '),
    );
  if (name === 'Xr') return plain(rest.split(/\s+/)[0] ?? '');
  return undefined;
}

/** Sections of a page by heading (uppercased), each a list of source lines. */
function sections(source: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of source.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (/^[.']\\"/.test(line) || line.startsWith('.\\"')) continue;
    const heading = /^[.'](SH|Sh)\s+(.*)$/.exec(line);
    if (heading) {
      const title = plain(heading[2] ?? '')
        .trim()
        .toUpperCase();
      current = out.has(title) ? undefined : [];
      if (current) out.set(title, current);
      continue;
    }
    current?.push(line);
  }
  return out;
}

/** Paragraphs of a section's lines: paragraph macros and blank lines break; lists and displays end the run. */
function paragraphsOf(lines: readonly string[]): string[] {
  const paras: string[] = [];
  let current: string[] = [];
  const flush = () => {
    const text = current.join(' ').replace(/\s+/g, ' ').trim();
    if (text) paras.push(text);
    current = [];
  };
  for (const line of lines) {
    if (
      line === '' ||
      /^[.'](PP|P|LP|Pp|IP|TP|SS|Ss|Bl|El|It|nf|fi|EX|EE|RS|RE|Bd|Ed|TS|TE|sp|br|HP|in|ti|UR|UE|MT|ME)\b/.test(line)
    ) {
      flush();
      continue;
    }
    const text = /^[.']/.test(line) ? macroText(line) : plain(line);
    if (text !== undefined) current.push(text);
  }
  flush();
  return paras;
}

/** A man page's (name line, description paragraphs), or undefined when it has neither. */
export function parseManPage(source: string): { name: string; description: string[] } | undefined {
  if (/^\.so\s/m.test(source.slice(0, 200))) return undefined;
  const secs = sections(source);
  const nameLines = secs.get('NAME') ?? secs.get('NOM');
  const desc = secs.get('DESCRIPTION');
  if (!nameLines || !desc) return undefined;
  let name = '';
  const nd = nameLines.find((l) => l.startsWith('.Nd '));
  if (nd)
    name = `${nameLines
      .filter((l) => l.startsWith('.Nm'))
      .map((l) => plain(l.slice(3)).trim())
      .join(', ')} - ${plain(nd.slice(4))}`;
  else name = nameLines.map((l) => (/^[.']/.test(l) ? (macroText(l) ?? '') : plain(l))).join(' ');
  name = name.replace(/\s+/g, ' ').trim();
  // help2man stubs and Debian's placeholder pages say nothing about the command.
  const description = paragraphsOf(desc).filter(
    (p) => p.length >= 30 && !/^(This manual page documents|usage:)/i.test(p),
  );
  if (/manual page for /i.test(name)) return undefined;
  if (!/ [-\u2013\u2014]+ /.test(name) || description.length === 0) return undefined;
  return { name, description };
}

/** Pairs and texts from every English man page under the unpacked package folders. */
export function readManPages(folders: Iterable<string>): { pairs: Pair[]; texts: string[]; pages: number } {
  const pairs: Pair[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  let pages = 0;
  for (const folder of folders) {
    const man = join(folder, 'usr', 'share', 'man');
    if (!existsSync(man)) continue;
    // Sorted: directory order differs between file systems, and pair order must not.
    for (const section of readdirSync(man)
      .filter((d) => /^man\d/.test(d))
      .sort()) {
      for (const file of readdirSync(join(man, section)).sort()) {
        const path = join(man, section, file);
        if (!lstatSync(path).isFile()) continue; // symlinks to other pages are links, not pages
        const raw = readFileSync(path);
        const page = parseManPage((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
        if (!page) continue;
        pages++;
        const first = page.description[0]!;
        const body = page.description.slice(0, 4).join(' ');
        if (!seen.has(body)) texts.push(`${page.name}. ${body}`);
        if (seen.has(first)) continue;
        seen.add(first);
        seen.add(body);
        pairs.push({ a: page.name, b: first.length > 600 ? first.slice(0, 600) : first, source: 'man' });
      }
    }
  }
  return { pairs, texts, pages };
}
