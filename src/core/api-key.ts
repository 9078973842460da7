/**
 * The shape of an API key as stored, shared by its store (store/keys-repo.ts) and its service
 * (auth/api-keys.ts): the two share a layer and may not import each other, so the one definition
 * lives here, below both.
 */

/** A key as listed: its binding and times (epoch milliseconds), never the secret nor its hash. */
export interface KeyRecord {
  readonly id: string;
  readonly tenant: string;
  readonly agent: string;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
  readonly note: string | null;
}

/** A key as stored: the record and the sha256 (lowercase hex) of its secret. */
export interface StoredKey extends KeyRecord {
  readonly hash: string;
}
