/**
 * The gateway's errors: one class, a stable `name` per reason, one table from name to HTTP status.
 *
 * Errors cross RPC (Durable Object -> entrypoint -> caller) keeping only `name` and `message`,
 * so everything a caller needs is in those two: the status is derived from the name, and the
 * message says what was wrong, where, and how to fix it.
 */

/** Every reason the gateway rejects a request, with the HTTP status it maps to. */
export const ERROR_STATUS = {
  /** The body is not valid exposition text (line and column in the message). */
  ParseError: 400,
  /** A metric or label name breaks the naming rules. */
  InvalidName: 400,
  /** A value is not acceptable here: negative counter, timestamp in a push, a series twice once grouping labels apply (text bodies repeating one are a ParseError). */
  InvalidValue: 400,
  /** A request argument (path, query, RPC argument) is malformed. */
  BadRequest: 400,
  /** The push disagrees with what is stored: another type. */
  TypeConflict: 409,
  /**
   * The push would give a series or a name two owners: a series another group holds, or a family
   * name that collides with another family's (after escaping, or with its `_sum`/`_total`/... samples).
   */
  Conflict: 409,
  /** The body, or the store after the push, would exceed a configured limit. */
  LimitExceeded: 413,
  /** The Content-Type or Content-Encoding is not one the gateway reads. */
  UnsupportedMediaType: 415,
  NotFound: 404,
  MethodNotAllowed: 405,
  /** A shard or storage failure; the request changed nothing and can be retried. */
  Unavailable: 503,
} as const;

export type ErrorName = keyof typeof ERROR_STATUS;

/** An error a client caused or can act on. Its `name` is one of {@link ErrorName}. */
export class GatewayError extends Error {
  declare readonly name: ErrorName;

  constructor(name: ErrorName, message: string) {
    super(message);
    // Set as an own property so it survives structured cloning across RPC.
    Object.defineProperty(this, "name", { value: name, enumerable: false, configurable: true, writable: true });
  }
}

/** Whether `name` is one of ours (used for errors that crossed RPC and lost their class). */
export function isErrorName(name: string): name is ErrorName {
  return Object.hasOwn(ERROR_STATUS, name);
}

/** The HTTP status for any thrown value: ours by name, anything else 500. */
export function statusOf(error: unknown): number {
  if (error instanceof Error && isErrorName(error.name)) return ERROR_STATUS[error.name];
  return 500;
}

/** A parse error at a 1-based line and column of the body. */
export function parseError(line: number, column: number, what: string): GatewayError {
  return new GatewayError("ParseError", `line ${line}, column ${column}: ${what}`);
}
