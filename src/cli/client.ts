/**
 * The CLI's HTTP client for the adf-conductor API: one request path, which turns every answer into a body or
 * an `ApiProblem` (RFC 9457 problem+json), and every failure to get an answer into `Unreachable`.
 * The function key travels only in the `x-functions-key` header and never appears in a message.
 */
import type { FieldProblem } from '../core/errors';

export const DEFAULT_URL = 'http://127.0.0.1:7071';
const REQUEST_TIMEOUT_MS = 30_000;

/** A mistake in the command line (or in what it names): exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** No HTTP answer at all: refused, unresolvable, reset, or nothing within the timeout. */
export class Unreachable extends Error {
  override readonly name = 'Unreachable';
  constructor(
    /** Where we tried to go: the origin only, never a query (it may hold a `code=` key). */
    readonly origin: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${origin}: ${reason}`);
  }
}

/** A non-2xx answer, as its problem+json says (or as close as a non-problem body allows). */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldProblem[] = [],
    /** Seconds, from the Retry-After header. */
    readonly retryAfter?: number,
  ) {
    super(`${code}: ${detail}`);
  }
}

export interface Server {
  /** Scheme, host and any path prefix, without a trailing slash or `/api`. */
  base: string;
  key?: string;
}

export interface ServerOptions {
  url?: string;
  key?: string;
}

/** `--url`/`--key`, else ADF_CONDUCTOR_URL/ADF_CONDUCTOR_KEY, else the local stack with no key. */
export function resolveServer(opts: ServerOptions, env: Record<string, string | undefined> = {}): Server {
  const url = nonBlank(opts.url) ?? nonBlank(env.ADF_CONDUCTOR_URL) ?? DEFAULT_URL;
  const key = nonBlank(opts.key) ?? nonBlank(env.ADF_CONDUCTOR_KEY);
  return { base: apiBase(url), ...(key ? { key } : {}) };
}

/** `http://host:7071`, `http://host:7071/` and `http://host:7071/api` all name the same API. */
export function apiBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('--url (or ADF_CONDUCTOR_URL) must be an http:// or https:// URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--url (or ADF_CONDUCTOR_URL) must be an http:// or https:// URL');
  const path = u.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  return `${u.origin}${path}`;
}

const nonBlank = (s: string | undefined) => (s !== undefined && s.trim() !== '' ? s.trim() : undefined);

export interface Answer<T> {
  status: number;
  body: T;
}

export interface RequestOptions {
  body?: string;
  contentType?: string;
  accept?: string;
}

export class ConductorClient {
  constructor(
    readonly server: Server,
    private readonly fetchFn: typeof fetch,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  /** `path` starts with `/api/`; an absolute URL is sent as it is (an approval link names its own server). */
  async send<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
    const url = /^https?:\/\//.test(path) ? path : `${this.server.base}${path}`;
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
    if (opts.contentType) headers['content-type'] = opts.contentType;
    if (this.server.key) headers['x-functions-key'] = this.server.key;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(url, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}), signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw new Unreachable(new URL(url).origin, networkReason(e, this.timeoutMs));
    }
    if (res.ok) return { status: res.status, body: parseJson(text) as T };
    throw toApiProblem(res, text);
  }

  putMetadata(text: string, contentType: string) {
    return this.send<MetadataSummary>('PUT', '/api/metadata', { body: text, contentType });
  }

  startExecution(batch: string) {
    return this.send<StartedExecution>('POST', '/api/executions', { body: JSON.stringify({ batch }), contentType: 'application/json' });
  }

  getExecution(executionId: string) {
    return this.send<ExecutionView>('GET', `/api/executions/${encodeURIComponent(executionId)}`);
  }

  getQueue(name: string) {
    return this.send<QueueView>('GET', `/api/queues/${encodeURIComponent(name)}`);
  }

  /** POST {token, decision} to the approval endpoint a link names. */
  decide(endpoint: string, token: string, decision: 'approve' | 'reject') {
    return this.send<PauseView>('POST', endpoint, { body: JSON.stringify({ token, decision }), contentType: 'application/json' });
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { text };
  }
}

function toApiProblem(res: Response, text: string): ApiProblem {
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
  const body = parseJson(text);
  if (isProblem(body)) return new ApiProblem(res.status, body.code, body.detail ?? body.title ?? '', Array.isArray(body.errors) ? body.errors : [], retryAfter);
  // Not ours: a proxy, the Functions host refusing a key before our code runs, an HTML error page. Never echo it.
  const reason = res.status === 401 || res.status === 403 ? 'the server refused the request (function key missing or wrong)' : `the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  return new ApiProblem(res.status, `HTTP ${res.status}`, reason, [], retryAfter);
}

function isProblem(b: unknown): b is { code: string; detail?: string; title?: string; errors?: FieldProblem[] } {
  return typeof b === 'object' && b !== null && typeof (b as { code?: unknown }).code === 'string';
}

/** Retry-After is seconds or an HTTP date; we show seconds. */
function retryAfterSeconds(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim());
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Node's fetch hides the socket error in `cause` (sometimes in an AggregateError). */
function networkReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = errorCode(e);
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_SOCKET: 'connection closed',
    CERT_HAS_EXPIRED: 'its TLS certificate has expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
    SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate is not trusted',
  };
  if (code) return words[code] ? `${words[code]} (${code})` : code;
  return innermostMessage(e);
}

/** `fetch failed` says nothing; its cause (e.g. `bad port`) does. */
function innermostMessage(e: unknown, depth = 0): string {
  const cause = e instanceof Error ? (e as { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && depth < 4) return innermostMessage(cause, depth + 1);
  return e instanceof Error ? e.message : String(e);
}

function errorCode(e: unknown, depth = 0): string | undefined {
  if (typeof e !== 'object' || e === null || depth > 4) return undefined;
  const own = (e as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const nested = (e as { errors?: unknown }).errors;
  if (Array.isArray(nested)) for (const n of nested) {
    const c = errorCode(n, depth + 1);
    if (c) return c;
  }
  return errorCode((e as { cause?: unknown }).cause, depth + 1);
}

// The API's JSON, as the server's own view builders type it (type-only imports: nothing of the server is loaded).
export type ExecutionView = import('../http/views/executions').ExecutionView;
export type WorkerView = ExecutionView['stages'][number]['workers'][number];
export type StageView = ExecutionView['stages'][number];
export type QueueView = import('../http/views/queues').QueueView;
export type JobView = import('../http/views/queues').JobView;
export type PauseView = ReturnType<typeof import('../http/views/pauses').toPauseView>;
export type MetadataSummary = import('../core/orchestration/metadata-store').MetadataSummary;
export interface StartedExecution {
  executionId: string;
  status: string;
  resumed?: boolean;
}
