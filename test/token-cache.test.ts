/** The verified-token cache: hits until expiry or max age, only the digest kept, bounded. */
import { describe, expect, it } from 'vitest';
import { anonymousPrincipal } from '../src/core/principal.js';
import { VerifiedTokens } from '../src/auth/token-cache.js';

const alice = anonymousPrincipal('alice');

describe('VerifiedTokens', () => {
  it('answers a verified token until it expires, and never past maxAgeMs', () => {
    const cache = new VerifiedTokens({ maxAgeMs: 60_000 });
    cache.set('t1', alice, 10_000, 0);
    expect(cache.get('t1', 9_999)).toBe(alice);
    expect(cache.get('t1', 10_000)).toBeUndefined();
    cache.set('t2', alice, 1_000_000, 0);
    expect(cache.get('t2', 59_999)).toBe(alice);
    expect(cache.get('t2', 60_000)).toBeUndefined();
    expect(cache.get('other', 0)).toBeUndefined();
  });

  it('does not keep a token that is already expired, and evicts the least recently used', () => {
    const cache = new VerifiedTokens({ max: 2 });
    cache.set('old', alice, 5, 10);
    expect(cache.get('old', 10)).toBeUndefined();
    cache.set('a', alice, 1_000, 0);
    cache.set('b', alice, 1_000, 0);
    expect(cache.get('a', 1)).toBe(alice); // a is now the most recent
    cache.set('c', alice, 1_000, 0); // evicts b
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('a', 1)).toBe(alice);
    expect(cache.get('c', 1)).toBe(alice);
  });
});
