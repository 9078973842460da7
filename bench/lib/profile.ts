/**
 * A V8 CPU profile (.cpuprofile, as `node --cpu-prof` writes it) summarised by module: our own code
 * by folder of src/, each npm package, Node's core, garbage collection and V8's own work, as shares
 * of the busy time (idle excluded), so the next bottleneck of the hot path is visible in the results.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Which module a frame belongs to. */
export function moduleOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return 'V8 (program)';
    return 'native (builtins, addons)';
  }
  if (url.startsWith('node:')) return 'Node core';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/src\/([^/]+)(\/|\.)/.exec(url);
  if (own) return `switchboard src/${own[1]}`;
  return 'other';
}

/** Self time per module, busiest first, as percentages of the profile's busy (non-idle) time. */
export function summarizeProfile(path: string): { module: string; percent: number; ms: number }[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const module = moduleOf(node.callFrame);
    self.set(module, (self.get(module) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  self.delete('(idle)');
  const busy = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  return [...self]
    .map(([module, us]) => ({ module, percent: Math.round((1000 * us) / busy) / 10, ms: Math.round(us / 1000) }))
    .sort((a, b) => b.ms - a.ms);
}
