/**
 * TLS towards HTTPS upstreams: the per-server CA, client certificate (mTLS) and server name, and TLS
 * failures told in words.
 *
 * A server with `tls` gets its own undici `Agent` as the fetch dispatcher, so its certificate never
 * reaches another server's connections and its sockets are kept alive between requests (the Agent pools
 * them). The PEM files are read when a connection attempt builds its transport, not kept from the load: a
 * certificate rotated on disk is used from the next reconnect on, and key material lives only inside the
 * Agent. Node's fetch reports every TLS failure as "fetch failed", with the reason two causes down; the
 * fetch wrapper here names the reason and what to check, so the upstream's status says it. One reason
 * undici loses altogether: under TLS 1.3 a server refuses a missing client certificate only after the
 * client's handshake is done, and the request fails as "other side closed"; the alert reached the socket,
 * though, so each socket's TLS error is kept (by local port, which the request's error names) and put back.
 */
import { readFileSync } from 'node:fs';
import type { FetchLike } from '@modelcontextprotocol/client';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import type { UpstreamTls } from '../config/spec.js';

/** A fetch bound to one server's TLS settings, and the Agent's release. */
export interface TlsFetch {
  readonly fetch: FetchLike;
  /** Closes the Agent's sockets (idempotent). */
  close(): Promise<void>;
}

/**
 * A fetch that connects with `tls` (files read now). A file that cannot be read makes every request fail
 * with that reason, so it shows as the connection error, like any other.
 */
export function tlsFetch(tls: UpstreamTls): TlsFetch {
  let connect: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized?: boolean };
  try {
    connect = {
      ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
      ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
      ...(tls.key ? { key: readFileSync(tls.key) } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
  } catch (error) {
    const message = `TLS: cannot read a file of this server's tls settings: ${(error as Error).message}`;
    return { fetch: () => Promise.reject(new Error(message, { cause: error })), close: async () => {} };
  }
  const socketErrors = new Map<number, Error>();
  const connector = buildConnector(connect);
  const agent = new Agent({
    connect: (options, callback) =>
      connector(options, (error, socket) => {
        socket?.on('error', (e: Error) => {
          const port = socket.localPort;
          if (port === undefined || describeTlsError(e) === undefined) return;
          socketErrors.set(port, e);
          // Only the last few matter: a failed request looks its socket up at once.
          if (socketErrors.size > 16) socketErrors.delete(socketErrors.keys().next().value!);
        });
        callback(...([error, socket] as Parameters<typeof callback>));
      }),
  });
  let closed: Promise<void> | undefined;
  return {
    fetch: async (url, init) => {
      try {
        // undici's own fetch (not Node's bundled copy) so that the dispatcher is of the same undici version.
        return (await undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as Response;
      } catch (error) {
        const port = (error as { cause?: { socket?: { localPort?: unknown } } }).cause?.socket?.localPort;
        const tlsError = typeof port === 'number' ? socketErrors.get(port) : undefined;
        if (!tlsError || describeTlsError(error) !== undefined) throw error;
        socketErrors.delete(port as number);
        throw new TypeError((error as Error).message, { cause: tlsError });
      }
    },
    // destroy, not close: the transport has stopped its streams, and close would wait for any that linger.
    close: () => (closed ??= agent.destroy().catch(() => {})),
  };
}

/** What a TLS failure means, by OpenSSL/Node code: the first words, then what to check. */
const EXPLAINED: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: "certificate has expired: the server's certificate is past its end date",
  CERT_NOT_YET_VALID: "certificate is not yet valid: the server's certificate starts later (check the clocks)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    "unable to verify the first certificate: the server's certificate is not signed by a trusted CA (check tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    "unable to get the local issuer certificate: the server's CA is not trusted (check tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get the issuer certificate: the server's CA is not trusted (check tls.ca)",
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain: that CA is not trusted (check tls.ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server presents a self-signed certificate (trust it with tls.ca)',
  ERR_TLS_CERT_ALTNAME_INVALID: '', // Node's message names the host and the certificate's names; tls.servername is the fix.
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'the server requires a client certificate (set tls.cert and tls.key to one its CA signed)',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    'the server refused the handshake (it may require a client certificate: set tls.cert and tls.key)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA:
    "the server does not trust the client certificate's CA (tls.cert is not signed by a CA it accepts)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server refused the client certificate (tls.cert)',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the server refused the client certificate: it has expired (tls.cert)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on this port (an http:// server?)',
};

/** True for a code of a TLS failure (X.509 verification codes are bare words; Node's and OpenSSL's are prefixed). */
function isTlsCode(code: string): boolean {
  return code in EXPLAINED || /^(ERR_SSL_|ERR_TLS_|CERT_|ERR_OSSL_)/.test(code);
}

/**
 * The TLS failure inside `error` (its cause chain), in words: "TLS: certificate has expired: ... (CERT_HAS_EXPIRED)".
 * Undefined when the failure is not a TLS one.
 */
export function describeTlsError(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !isTlsCode(code)) continue;
    const told = EXPLAINED[code] || (e instanceof Error ? e.message : code);
    return `TLS: ${told} (${code})`;
  }
  return undefined;
}

/**
 * `base` with TLS failures rethrown as an Error whose message is {@link describeTlsError}'s (the original
 * kept as its cause); every other failure passes unchanged, so refused connections and aborts read as before.
 */
export function explainTlsFailures(base: FetchLike): FetchLike {
  return async (url, init) => {
    try {
      return await base(url, init);
    } catch (error) {
      const told = describeTlsError(error);
      if (told === undefined) throw error;
      throw new Error(`${told}, connecting to ${new URL(url).origin}`, { cause: error });
    }
  };
}
