import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ZodType } from 'zod';
import { malformedJson, payloadTooLarge, validationFailed } from '../core/errors';
import { issuesToProblems, structureProblems } from '../core/field-problems';
import { problemResponse, toProblem } from './problem';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Runs a handler body and maps any error to problem+json. */
export async function respond(ctx: InvocationContext, fn: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await fn();
  } catch (e) {
    const { problem, retryAfter } = toProblem(e, ctx);
    return problemResponse(problem, retryAfter);
  }
}

/** Headers of every API answer: never cached, never sniffed into another type (a caller's text is echoed back). */
export const API_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...API_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Plain text, e.g. the stored metadata source. */
export function plainText(status: number, body: string): HttpResponseInit {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...API_HEADERS }, body };
}

/** Reads the body as text, refusing more than MAX_BODY_BYTES. */
export async function readText(req: HttpRequest): Promise<string> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) throw payloadTooLarge(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  const text = await req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw payloadTooLarge(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  return text;
}

/** JSON text → value; 400 MalformedJson, or ValidationFailed for nesting past MAX_NESTING and `__proto__` keys. */
export function parseJsonText(text: string): unknown {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw malformedJson();
  }
  const problems = structureProblems(value);
  if (problems.length) throw validationFailed(problems);
  return value;
}

/** Paths as docs/errors.md shows them (`parameters.a-b`); messages from the one issue mapper. */
export function validate<T>(schema: ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw validationFailed(issuesToProblems(parsed.error.issues, { schema, pathStyle: 'dotted' }));
  return parsed.data;
}

/** JSON body → zod schema; 400 MalformedJson / ValidationFailed (every path), 413 over 1 MiB. */
export async function parseBody<T>(req: HttpRequest, schema: ZodType<T>): Promise<T> {
  return validate(schema, parseJsonText(await readText(req)));
}

/** JSON (problem+json) for a client that asks for it, or that sends JSON without asking for HTML; pages for browsers. */
export function wantsJson(req: HttpRequest): boolean {
  const accept = req.headers.get('accept') ?? '';
  if (/text\/html/i.test(accept.split(',')[0] ?? '')) return false;
  return /application\/(problem\+)?json/i.test(accept) || /^application\/([\w.+-]*\+)?json/i.test(req.headers.get('content-type') ?? '');
}
