/**
 * HTTPS serving and the client certificates it brings (inbound mTLS).
 *
 * With `http.tls.requestClientCert` the hub asks every client for a certificate but does not refuse the
 * handshake when one is missing or unverified (`rejectUnauthorized: false`): a TLS alert is all a client
 * would get from a refusal, where the auth stage can answer 401 with the reason, and a client with a bearer
 * token or an API key instead of a certificate can still connect to the same port. The price is that a
 * presented certificate means nothing until checked: {@link peerCertificateIdentity} reports whether it
 * was verified against `http.tls.ca` (and why not), and only a verified one may become a principal.
 */
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/load.js';
import { GatewayError } from '../core/errors.js';

/** The hub's TLS settings (paths resolved at load). */
export type HubTls = NonNullable<Config['http']['tls']>;

/**
 * Node's HTTPS server options for `tls`: the files read now (they were checked at load; a file gone since
 * is a CONFIG_INVALID naming it), client certificates requested but verified by the app (see the header).
 */
export function httpsServerOptions(tls: HubTls): ServerOptions {
  const read = (field: 'cert' | 'key' | 'ca', file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new GatewayError(
        'CONFIG_INVALID',
        `cannot read http.tls.${field} file ${file}: ${(error as Error).message}`,
      );
    }
  };
  return {
    cert: read('cert', tls.cert),
    key: read('key', tls.key),
    ...(tls.ca ? { ca: read('ca', tls.ca) } : {}),
    ...(tls.requestClientCert ? { requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/** What the hub knows of a client's certificate. */
export interface CertificateIdentity {
  /** The subject's common name (CN); '' when it has none. */
  readonly subject: string;
  /** Subject alternative names as `TYPE:value`: `DNS:agent.example`, `URI:spiffe://corp/agent`, `IP:10.0.0.1`, `email:a@b`. */
  readonly sans: readonly string[];
  /** SHA-256 fingerprint, colon-separated hex as Node gives it. */
  readonly fingerprint256: string;
  /** True when the certificate chains to `http.tls.ca` and is valid now. */
  readonly authorized: boolean;
  /** Why it is not authorized (OpenSSL's reason), when it is not. */
  readonly error?: string;
}

/**
 * The certificate the client of `request` (a fastify request, or anything with the Node request as `raw`)
 * presented, or undefined when the connection is not TLS or the client presented none.
 */
export function peerCertificateIdentity(request: {
  readonly raw: { readonly socket: unknown };
}): CertificateIdentity | undefined {
  const socket = request.raw.socket as Partial<TLSSocket> | null;
  if (!socket || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate();
  // An empty object when the client sent no certificate.
  if (!cert || !cert.fingerprint256) return undefined;
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  const authorized = socket.authorized === true;
  const reason = socket.authorizationError as unknown;
  return {
    subject: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''),
    sans: parseSans(cert.subjectaltname ?? ''),
    fingerprint256: cert.fingerprint256,
    authorized,
    ...(authorized ? {} : { error: describeReason(reason) }),
  };
}

/** OpenSSL's verification codes for client certificates, as sentences (Node gives the bare code). */
const REASONS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate: it is not signed by http.tls.ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get the local issuer certificate: its CA is not http.tls.ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get the issuer certificate: its CA is not http.tls.ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain: that CA is not http.tls.ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not yet valid',
  CERT_REVOKED: 'the certificate is revoked',
  INVALID_PURPOSE: 'the certificate is not for client authentication (extendedKeyUsage)',
  CERT_SIGNATURE_FAILURE: "the certificate's signature does not verify",
};

/** OpenSSL's verification failure, as a sentence with its code. */
function describeReason(reason: unknown): string {
  const code = reason instanceof Error ? (reason as { code?: unknown }).code : reason;
  const told = typeof code === 'string' ? REASONS[code] : undefined;
  if (told) return `${told} (${code as string})`;
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' && reason ? reason : 'the certificate was not verified';
}

/**
 * Node's `subjectaltname` ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4") as a list; values with a comma or
 * a quote come JSON-quoted (`DNS:"a,b"`), which a plain split would cut.
 */
export function parseSans(text: string): string[] {
  const sans: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon).trim();
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      // A JSON string: find its closing quote (escapes skipped).
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        value = text.slice(colon + 2, j);
      }
      end = text.indexOf(',', j + 1);
    } else {
      end = text.indexOf(', ', colon + 1);
      value = text.slice(colon + 1, end < 0 ? undefined : end);
    }
    sans.push(`${type === 'IP Address' ? 'IP' : type}:${value}`);
    if (end < 0) break;
    i = end + 1;
    while (text[i] === ' ') i++;
  }
  return sans;
}
