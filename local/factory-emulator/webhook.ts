/**
 * ADF's Webhook activity, as the factory emulator plays it: the template expressions a scenario's `body` may use,
 * the POST of `body` + `callBackUri` to the activity's URL, and the callback body (`reportStatusOnCallBack`).
 * The run's side (waiting, timeout, outcome) is in `state.ts`; the callback route is in `http.ts`.
 *
 * The callBackUri is a bearer secret in ADF. The emulator's has no secret in it, but it is still handled as one:
 * it goes into the POST body and nowhere else (no log line, no error message, no inspection view).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/** ADF: the endpoint must answer the POST within one minute. */
export const WEBHOOK_RESPONSE_TIMEOUT_MS = 60_000;
/** ADF: the activity's `timeout` defaults to 10 minutes ("00:10:00"). */
export const WEBHOOK_DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** ADF: at most 7 days. */
export const WEBHOOK_MAX_TIMEOUT_MS = 7 * 24 * 3600_000;
export const WEBHOOK_DEFAULT_ACTIVITY = 'Webhook';

// ---------------------------------------------------------------------------------------------
// Template expressions: a string value that starts with `@` is an expression (`@@` escapes a leading `@`),
// and `@{expr}` inside a string is replaced by its value, as in ADF. Only these expressions are supported:
//   pipeline().RunId  pipeline().Pipeline  pipeline().DataFactory  pipeline().GroupId  pipeline().parameters.<name>

const EXPRESSION = /^pipeline\(\)\.(runid|pipeline|datafactory|groupid|parameters\.([A-Za-z_][A-Za-z0-9_]*))$/i;
const INTERPOLATION = /@\{([^}]*)\}/g;

/** What an expression can see. */
export interface ExpressionContext {
  runId: string;
  pipeline: string;
  factory: string;
  groupId: string;
  parameters: Record<string, string>;
}

/** ADF's error for an expression it cannot evaluate; the activity fails with it. */
export class TemplateError extends Error {
  override name = 'TemplateError';
  readonly code = 'InvalidTemplate';
}

function evaluate(expression: string, ctx: ExpressionContext): string {
  const match = EXPRESSION.exec(expression.trim());
  if (!match) throw new TemplateError(`The template language expression '${expression}' is not supported by the emulator.`);
  const [, property = '', parameter] = match;
  switch (property.toLowerCase()) {
    case 'runid':
      return ctx.runId;
    case 'pipeline':
      return ctx.pipeline;
    case 'datafactory':
      return ctx.factory;
    case 'groupid':
      return ctx.groupId;
    default: {
      const found = Object.keys(ctx.parameters).find((k) => k.toLowerCase() === parameter?.toLowerCase());
      if (found === undefined) {
        throw new TemplateError(
          `The template language expression '${expression.trim()}' cannot be evaluated because property '${parameter}' doesn't exist, ` +
            `available properties are '${Object.keys(ctx.parameters).join(', ')}'.`,
        );
      }
      return ctx.parameters[found] ?? '';
    }
  }
}

/** The expressions inside one string (for validation), without evaluating them. */
function expressionsIn(text: string): string[] {
  if (text.startsWith('@@')) return [];
  if (text.startsWith('@') && !text.startsWith('@{')) return [text.slice(1)];
  return [...text.matchAll(INTERPOLATION)].map((m) => m[1] ?? '');
}

function resolveString(text: string, ctx: ExpressionContext): string {
  if (text.startsWith('@@')) return text.slice(1);
  if (text.startsWith('@') && !text.startsWith('@{')) return evaluate(text.slice(1), ctx);
  return text.replace(INTERPOLATION, (_, expression: string) => evaluate(expression, ctx));
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  }
  return value;
}

/** Problems with the expressions in a scenario body: each unsupported expression, with its JSON path. */
export function expressionProblems(body: unknown, path: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  if (typeof body === 'string') {
    return expressionsIn(body)
      .filter((e) => !EXPRESSION.test(e.trim()))
      .map((e) => ({
        path,
        message: `unsupported expression '${e}': use pipeline().RunId, pipeline().Pipeline, pipeline().DataFactory, pipeline().GroupId or pipeline().parameters.<name>`,
      }));
  }
  if (Array.isArray(body)) return body.flatMap((v, i) => expressionProblems(v, [...path, i]));
  if (body !== null && typeof body === 'object') {
    return Object.entries(body).flatMap(([k, v]) => expressionProblems(v, [...path, k]));
  }
  return [];
}

/** The body with every expression replaced by its value. Throws `TemplateError`. */
export function resolveBody(body: Record<string, unknown>, ctx: ExpressionContext): Record<string, unknown> {
  return mapStrings(body, (s) => resolveString(s, ctx)) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The callback body (reportStatusOnCallBack): {Output?, Error?: {ErrorCode?, Message?}, StatusCode?}.
// Keys match case-insensitively (ADF users send both `StatusCode` and `statusCode`).

export interface CallbackReport {
  /** Absent: success. */
  statusCode?: number;
  output: Record<string, unknown>;
  error?: { errorCode?: string; message?: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function field(obj: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

/** Reads a callback body (already parsed JSON; undefined = empty body). Returns the report, or a problem. */
export function parseCallbackBody(value: unknown): CallbackReport | { problem: string } {
  if (value === undefined) return { output: {} };
  if (!isObject(value)) return { problem: 'The callback body must be a JSON object.' };
  const report: CallbackReport = { output: {} };

  const status = field(value, 'StatusCode');
  if (status !== undefined && status !== null) {
    const n = typeof status === 'number' ? status : typeof status === 'string' && /^\s*\d+\s*$/.test(status) ? Number(status) : NaN;
    if (!Number.isInteger(n) || n < 100 || n > 599) return { problem: "'StatusCode' must be an HTTP status code (100 to 599), as a string or a number." };
    report.statusCode = n;
  }

  const output = field(value, 'Output');
  if (output !== undefined && output !== null) {
    if (!isObject(output)) return { problem: "'Output' must be a JSON object." };
    report.output = output;
  }

  const error = field(value, 'Error');
  if (error !== undefined && error !== null) {
    if (!isObject(error)) return { problem: "'Error' must be a JSON object {ErrorCode, Message}." };
    const errorCode = field(error, 'ErrorCode');
    const message = field(error, 'Message');
    if (errorCode !== undefined && typeof errorCode !== 'string') return { problem: "'Error.ErrorCode' must be a string." };
    if (message !== undefined && typeof message !== 'string') return { problem: "'Error.Message' must be a string." };
    report.error = {};
    if (errorCode !== undefined) report.error.errorCode = errorCode;
    if (message !== undefined) report.error.message = message;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// The POST to the activity's URL.

export type WebhookCallResult = { ok: true; status: number } | { ok: false; code: string; message: string };

/** The URL without its query and fragment: error messages must not carry a key that sits in a query string. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Sends webhook POSTs; `close()` aborts those still waiting for an answer. */
export class WebhookCaller {
  private readonly inflight = new Set<ClientRequest>();
  private closed = false;

  constructor(private readonly responseTimeoutMs: number = WEBHOOK_RESPONSE_TIMEOUT_MS) {}

  /**
   * POSTs `payload` as JSON. A 2xx answer within the response timeout is success; any other answer is ADF's
   * error 2108, and no answer (refused, reset, TLS failure, timeout) is ADF's 2128. Never rejects.
   */
  call(url: string, payload: Record<string, unknown>, caFile?: string): Promise<WebhookCallResult> {
    const noResponse: WebhookCallResult = {
      ok: false,
      code: '2128',
      message: 'No response from the endpoint. Possible causes: network connectivity, DNS failure, server certificate validation or timeout.',
    };
    if (this.closed) return Promise.resolve(noResponse);
    return new Promise((resolve) => {
      let req: ClientRequest | undefined;
      let settled = false;
      const done = (result: WebhookCallResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        done(noResponse);
        req?.destroy();
      }, this.responseTimeoutMs);
      const text = JSON.stringify(payload);
      const onResponse = (res: IncomingMessage) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) done({ ok: true, status });
        else done({ ok: false, code: '2108', message: `Error calling the endpoint '${redactedUrl(url)}'. Response status code: '${status}'.` });
      };
      try {
        const target = new URL(url);
        const options = {
          method: 'POST',
          agent: false as const,
          headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) },
        };
        req = target.protocol === 'https:'
          ? httpsRequest(target, { ...options, ...(caFile ? { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } : {}) }, onResponse)
          : httpRequest(target, options, onResponse);
      } catch {
        done(noResponse);
        return;
      }
      const sent = req;
      this.inflight.add(sent);
      sent.on('close', () => this.inflight.delete(sent));
      sent.on('error', () => done(noResponse));
      sent.end(text);
    });
  }

  close(): void {
    this.closed = true;
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
  }
}

/** ADF's TimeSpan format of a timeout, `[d.]hh:mm:ss[.fff]`. */
export function timeSpan(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const hh = pad(Math.floor((ms % 86_400_000) / 3_600_000));
  const mm = pad(Math.floor((ms % 3_600_000) / 60_000));
  const ss = pad(Math.floor((ms % 60_000) / 1000));
  const frac = ms % 1000 ? `.${pad(ms % 1000, 3)}` : '';
  return `${days ? `${days}.` : ''}${hh}:${mm}:${ss}${frac}`;
}
