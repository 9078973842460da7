/**
 * Stable assignment of units (an agent, a session, a tenant) to experiment arms.
 *
 * A unit's bucket is a pure function of (salt, unit): the first 8 bytes of sha256, big-endian, modulo
 * the bucket count. It is the same in every process, on every machine and after restarts, so a unit
 * stays in its arm without any stored state. The salt is per experiment, so two experiments split
 * the same units independently.
 *
 * Arms own consecutive bucket ranges in declared order, sized by weight: with arms A 90, B 10 and
 * 10,000 buckets, A owns [0, 9000) and B owns [9000, 10000). Changing weights only moves range
 * boundaries, so only units in the buckets between an old and a new boundary change arm (minimal
 * movement). With two arms, 90/10 -> 80/20 moves exactly the buckets [8000, 9000) from A to B, and
 * nobody moves from B to A. Appending a new arm at the end takes buckets only from the arms whose
 * ranges shrink at the end; reordering arms reshuffles, so keep the declared order stable.
 */
import { createHash } from 'node:crypto';
import { GatewayError } from '../core/errors.js';

/** An arm and its share of traffic (any non-negative weights; they need not sum to 100). */
export interface Arm {
  readonly name: string;
  readonly weight: number;
}

/** Default number of buckets: weights resolve to 0.01% of traffic. */
export const BUCKETS = 10_000;

/** The bucket of `unit` in [0, buckets) under `salt`; stable across processes and machines. */
export function bucketOf(salt: string, unit: string, buckets = BUCKETS): number {
  const digest = createHash('sha256').update(salt).update('\u0000').update(unit).digest();
  // 2^64 mod 10,000 leaves a bias below 1e-15 per bucket.
  return Number(digest.readBigUInt64BE(0) % BigInt(buckets));
}

/** Throws CONFIG_INVALID unless the arms are a usable split. */
export function validateArms(arms: readonly Arm[]): void {
  if (arms.length === 0) throw new GatewayError('CONFIG_INVALID', 'an experiment needs at least one arm');
  const names = new Set<string>();
  for (const arm of arms) {
    if (!Number.isFinite(arm.weight) || arm.weight < 0)
      throw new GatewayError('CONFIG_INVALID', `arm "${arm.name}" has an invalid weight ${arm.weight}`);
    if (names.has(arm.name)) throw new GatewayError('CONFIG_INVALID', `arm "${arm.name}" is declared twice`);
    names.add(arm.name);
  }
  if (!arms.some((a) => a.weight > 0))
    throw new GatewayError('CONFIG_INVALID', 'at least one arm needs a positive weight');
}

/**
 * The arm of `unit`: its bucket mapped onto cumulative weight ranges in declared order (see the file
 * comment). Throws CONFIG_INVALID for an unusable split (see {@link validateArms}).
 */
export function assignArm(arms: readonly Arm[], salt: string, unit: string, buckets = BUCKETS): string {
  validateArms(arms);
  const total = arms.reduce((sum, a) => sum + a.weight, 0);
  const bucket = bucketOf(salt, unit, buckets);
  let cumulative = 0;
  for (const arm of arms) {
    cumulative += arm.weight;
    // The arm owns the buckets below its upper boundary (cumulative share x buckets).
    if (bucket < (cumulative / total) * buckets) return arm.name;
  }
  // Floating-point rounding at the last boundary: the last arm with weight owns the top bucket.
  return [...arms].reverse().find((a) => a.weight > 0)!.name;
}
