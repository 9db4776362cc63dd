import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { DomainError, StorageUnavailable, Throttled, Unavailable, type FieldProblem } from '../core/errors';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldProblem[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(status: number, code: string, detail: string, errors?: FieldProblem[]): Problem {
  return {
    // RFC 9457 §4.2.1: no page describes a type, so `about:blank`; the stable `code` says which problem it is.
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors && errors.length ? { errors } : {}),
  };
}

export function problemResponse(p: Problem, retryAfter?: number): HttpResponseInit {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  if (retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfter)));
  return { status: p.status, headers, body: JSON.stringify(p) };
}

/** The one mapper from errors to problem+json. Unknown errors are a generic 500, logged, never echoed. */
export function toProblem(e: unknown, ctx?: InvocationContext): { problem: Problem; retryAfter?: number } {
  if (e instanceof DomainError) return { problem: problem(e.status, e.code, e.message, e.errors), retryAfter: e.retryAfter };
  if (e instanceof Throttled) return { problem: problem(503, 'UpstreamThrottled', 'An upstream service is throttling requests; retry later.'), retryAfter: e.retryAfter };
  if (e instanceof StorageUnavailable) return { problem: problem(503, 'StorageUnavailable', 'Table Storage is unavailable; retry later.'), retryAfter: e.retryAfter };
  if (e instanceof Unavailable) return { problem: problem(503, 'UpstreamUnavailable', 'An upstream service is unavailable; retry later.'), retryAfter: e.retryAfter };
  ctx?.error('unhandled error', e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e));
  return { problem: problem(500, 'InternalError', 'An unexpected error occurred. It has been logged.') };
}
