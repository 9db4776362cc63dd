/** What the Azure SDKs' RestError carries, read in one place for every adapter. */
interface RestErrorLike {
  statusCode?: unknown;
  response?: { headers?: { get(name: string): string | undefined } };
}

export function statusCodeOf(e: unknown): number | undefined {
  const s = (e as RestErrorLike | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/**
 * The one reader of `Retry-After` (seconds, or an HTTP date), for 429 and 503 answers.
 * Undefined when the service did not say.
 */
export function retryAfterOf(e: unknown, now: number = Date.now()): number | undefined {
  const value = (e as RestErrorLike | undefined)?.response?.headers?.get('retry-after');
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : undefined;
}
