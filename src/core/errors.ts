/**
 * Domain errors. Each carries a stable PascalCase `code` and the HTTP status it maps to.
 * One mapper (src/http/problem.ts) turns them into problem+json; anything else is a 500.
 */
export interface FieldProblem {
  /** JSON path such as `stages[1].pipelines[0].dependsOn[0]` */
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    /** Stable PascalCase identifier clients may switch on. */
    readonly code: string,
    readonly status: number,
    message: string,
    readonly errors?: FieldProblem[],
    /** Seconds a client should wait before retrying (503 / 429). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = code;
  }
}

/** 400 ValidationFailed: the request does not match the schema; every bad path is listed. */
export const validationFailed = (errors: FieldProblem[], message = 'The request is not valid.') =>
  new DomainError('ValidationFailed', 400, message, errors);
/** 400 MalformedJson: the body is not JSON. */
export const malformedJson = () => new DomainError('MalformedJson', 400, 'The request body is not valid JSON.', [{ path: '$', message: 'not valid JSON' }]);
/** 413 PayloadTooLarge: the body or a stored value exceeds a documented limit. */
export const payloadTooLarge = (message: string) => new DomainError('PayloadTooLarge', 413, message);
/** 404 <Thing>NotFound. */
export const notFound = (code: string, message: string) => new DomainError(code, 404, message);
/** 409 conflict with a stable code. */
export const conflict = (code: string, message: string) => new DomainError(code, 409, message);
/** 422 with a code (semantic problem with a well-formed request). */
export const unprocessable = (code: string, message: string, errors?: FieldProblem[]) =>
  new DomainError(code, 422, message, errors);
/** 503 UpstreamUnavailable: ADF or storage is throttling or down; retry after the given seconds. */
export const upstreamUnavailable = (retryAfter = 5, message = 'An upstream service is unavailable; retry later.') =>
  new DomainError('UpstreamUnavailable', 503, message, undefined, retryAfter);

// ---- Errors raised by adapters (ports) -------------------------------------------------

/** The addressed thing does not exist upstream (404). */
export class NotFound extends Error {
  override name = 'NotFound';
}
/** A conditional write lost: stale ETag (412) or duplicate insert (409). Re-read and re-decide. */
export class Conflict extends Error {
  override name = 'Conflict';
}
/** Upstream asked us to slow down (429). Safe to retry after `retryAfter` seconds: nothing happened. */
export class Throttled extends Error {
  override name = 'Throttled';
  constructor(readonly retryAfter: number, message = 'throttled') {
    super(message);
  }
}
/**
 * Upstream failed (5xx, timeout, connection reset). For a write the outcome is UNKNOWN:
 * it may or may not have happened.
 */
export class Unavailable extends Error {
  override name = 'Unavailable';
  constructor(message = 'unavailable', readonly retryAfter = 5) {
    super(message);
  }
}
/** Table Storage cannot be reached or failed (5xx, network): the request can be retried as it is. */
export class StorageUnavailable extends Unavailable {
  override name = 'StorageUnavailable';
}
/** Upstream refused the request as invalid (ADF 400: bad parameters and the like). Nothing happened. */
export class Rejected extends Error {
  override name = 'Rejected';
  constructor(readonly upstreamCode: string, message: string) {
    super(message);
  }
}
