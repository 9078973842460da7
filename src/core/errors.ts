/**
 * The one error class of the gateway, with a closed set of codes.
 *
 * Each code says who is at fault (the caller or a backend) and whether a retry may help. The edges map
 * codes to MCP results / JSON-RPC errors (mcp/) and HTTP statuses (http/) in one place each, so the
 * same failure reads the same everywhere.
 */

/** Every error code the gateway raises. */
export const ErrorCodes = {
  CONFIG_INVALID: { status: 400, caller: true, retryable: false },
  BAD_REQUEST: { status: 400, caller: true, retryable: false },
  UNKNOWN_TOOL: { status: 404, caller: true, retryable: false },
  UNKNOWN_PROMPT: { status: 404, caller: true, retryable: false },
  UNKNOWN_RESOURCE: { status: 404, caller: true, retryable: false },
  INVALID_ARGUMENTS: { status: 400, caller: true, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, caller: true, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, caller: true, retryable: false },
  UNAUTHORIZED: { status: 401, caller: true, retryable: false },
  /** Authenticated, but the credential's scopes or the policy do not allow this. */
  FORBIDDEN: { status: 403, caller: true, retryable: false },
  SERVER_EXISTS: { status: 409, caller: true, retryable: false },
  SERVER_NOT_FOUND: { status: 404, caller: true, retryable: false },
  NOT_FOUND: { status: 404, caller: true, retryable: false },
  UPSTREAM_UNAVAILABLE: { status: 503, caller: false, retryable: true },
  UPSTREAM_TIMEOUT: { status: 504, caller: false, retryable: true },
  UPSTREAM_FAILED: { status: 502, caller: false, retryable: true },
  /** A server's answer was over gateway.maxResultBytes: that call failed, the connection stays up; repeating it would not help. */
  RESULT_TOO_LARGE: { status: 502, caller: false, retryable: false },
  SHUTTING_DOWN: { status: 503, caller: false, retryable: true },
  /** Over a rate limit (limits/): `details.retryAfterMs` says when to retry. */
  RATE_LIMITED: { status: 429, caller: true, retryable: true },
  /** A tenant quota (calls or cost per day or month) is spent: not retryable before `details.retryAfterMs` (the period's end). */
  QUOTA_EXCEEDED: { status: 429, caller: true, retryable: false },
  /** The shared limit store (Redis) is unreachable and the limit is set to fail closed. */
  LIMITS_UNAVAILABLE: { status: 503, caller: false, retryable: true },
  /** The server is at its concurrency limit (every slot taken and the queue full, or the wait too long). */
  UPSTREAM_BUSY: { status: 503, caller: false, retryable: true },
  /** Too many unfinished tasks (tasks.maxActive, tasks.maxPerOwner): retry once some have ended. */
  TASK_LIMIT: { status: 429, caller: true, retryable: true },
  /** The task was cancelled (by its agent, an admin, or its TTL) before it ended. */
  CANCELLED: { status: 409, caller: true, retryable: false },
  /** The gateway restarted while the call ran; it may have taken effect, so it is not repeated. */
  INTERRUPTED: { status: 503, caller: false, retryable: false },
  INTERNAL: { status: 500, caller: false, retryable: false },
} as const satisfies Record<string, { status: number; caller: boolean; retryable: boolean }>;

/** A code from {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes;

/** The gateway's error: a code, a message meant for humans and models, and optional details. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** True when a retry (later, or on another backend) may succeed. */
  get retryable(): boolean {
    return ErrorCodes[this.code].retryable;
  }

  /** True when the caller's request was at fault; false for backend and gateway faults. */
  get callerFault(): boolean {
    return ErrorCodes[this.code].caller;
  }

  /** The HTTP status this error maps to at the REST edge. */
  get httpStatus(): number {
    return ErrorCodes[this.code].status;
  }

  /** A JSON body for REST responses and structured tool errors. */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Normalises anything thrown into a GatewayError (unknown throwables become INTERNAL). */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GatewayError('INTERNAL', message, undefined, { cause: error });
}
