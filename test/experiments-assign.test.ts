/**
 * Stable assignment on 10,000 simulated units: the split matches the weights (checked with the
 * sample-ratio-mismatch test that experiment reports use), units are sticky, salts are independent,
 * and re-weighting moves only the units it must.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/core/errors.js';
import { assignArm, bucketOf, type Arm } from '../src/experiments/assign.js';
import { sampleRatioMismatch } from '../src/experiments/stats.js';

const UNITS = Array.from({ length: 10_000 }, (_, i) => `agent-${i}`);
const ARMS_90_10: Arm[] = [
  { name: 'control', weight: 90 },
  { name: 'treatment', weight: 10 },
];
const ARMS_80_20: Arm[] = [
  { name: 'control', weight: 80 },
  { name: 'treatment', weight: 20 },
];

function split(assignments: readonly string[]): [number, number] {
  const treatment = assignments.filter((a) => a === 'treatment').length;
  return [assignments.length - treatment, treatment];
}

describe('bucketOf', () => {
  it('is the first 8 bytes of sha256(salt NUL unit), big-endian, mod the bucket count', () => {
    // Python: int.from_bytes(hashlib.sha256(b'search-ab\0agent-1').digest()[:8], 'big') % 10000 = 4605
    expect(bucketOf('search-ab', 'agent-1')).toBe(4605);
    expect(bucketOf('search-ab', 'agent-2')).toBe(3347);
    expect(bucketOf('other', 'agent-1')).toBe(4276);
  });

  it('stays in range for any bucket count', () => {
    for (const unit of UNITS.slice(0, 500)) {
      const b = bucketOf('s', unit, 7);
      expect(b >= 0 && b < 7 && Number.isInteger(b)).toBe(true);
    }
  });
});

describe('assignArm', () => {
  const first = UNITS.map((u) => assignArm(ARMS_90_10, 'search-ab', u));

  it('splits 10,000 units 90/10 within sampling error (no sample ratio mismatch)', () => {
    const srm = sampleRatioMismatch(split(first), [90, 10]);
    expect(srm.pValue).toBeGreaterThan(0.001);
    expect(srm.mismatch).toBe(false);
  });

  it('flags a deliberately skewed log (8,800 / 1,200) as a mismatch', () => {
    const skewed = [...Array(8_800).fill('control'), ...Array(1_200).fill('treatment')] as string[];
    const srm = sampleRatioMismatch(split(skewed), [90, 10]);
    expect(srm.pValue).toBeLessThan(0.001);
    expect(srm.mismatch).toBe(true);
  });

  it('is sticky: every unit gets the same arm again', () => {
    const again = UNITS.map((u) => assignArm(ARMS_90_10, 'search-ab', u));
    expect(again).toEqual(first);
  });

  it('splits independently under another salt', () => {
    const other = UNITS.map((u) => assignArm(ARMS_90_10, 'ranking-ab', u));
    expect(sampleRatioMismatch(split(other), [90, 10]).mismatch).toBe(false);
    // Independence: within each arm of the first experiment, the second still splits 90/10.
    for (const arm of ['control', 'treatment']) {
      const within = other.filter((_, i) => first[i] === arm);
      expect(sampleRatioMismatch(split(within), [90, 10]).mismatch, arm).toBe(false);
    }
    expect(other).not.toEqual(first);
  });

  it('moves only control units to treatment, about 10%, when 90/10 becomes 80/20', () => {
    const after = UNITS.map((u) => assignArm(ARMS_80_20, 'search-ab', u));
    const moved = UNITS.map((u, i) => ({ u, from: first[i], to: after[i] })).filter((m) => m.from !== m.to);
    expect(moved.every((m) => m.from === 'control' && m.to === 'treatment')).toBe(true);
    expect(moved.length / UNITS.length).toBeGreaterThan(0.085);
    expect(moved.length / UNITS.length).toBeLessThan(0.115);
    // Exactly the buckets between the old and the new boundary moved.
    for (const m of moved) {
      const b = bucketOf('search-ab', m.u);
      expect(b >= 8000 && b < 9000).toBe(true);
    }
    expect(sampleRatioMismatch(split(after), [80, 20]).mismatch).toBe(false);
  });

  it('never assigns a zero-weight arm and accepts weights that do not sum to 100', () => {
    const arms: Arm[] = [
      { name: 'a', weight: 1 },
      { name: 'off', weight: 0 },
      { name: 'b', weight: 3 },
    ];
    const got = UNITS.slice(0, 2000).map((u) => assignArm(arms, 'x', u));
    expect(got).not.toContain('off');
    expect(
      sampleRatioMismatch([got.filter((g) => g === 'a').length, got.filter((g) => g === 'b').length], [1, 3]).mismatch,
    ).toBe(false);
  });

  it('rejects unusable splits with CONFIG_INVALID', () => {
    const bad: Arm[][] = [
      [],
      [{ name: 'a', weight: 0 }],
      [
        { name: 'a', weight: -1 },
        { name: 'b', weight: 2 },
      ],
      [
        { name: 'a', weight: 1 },
        { name: 'a', weight: 1 },
      ],
      [{ name: 'a', weight: Number.NaN }],
    ];
    for (const arms of bad) {
      expect(() => assignArm(arms, 's', 'u')).toThrow(GatewayError);
      try {
        assignArm(arms, 's', 'u');
      } catch (error) {
        expect((error as GatewayError).code).toBe('CONFIG_INVALID');
      }
    }
  });
});
