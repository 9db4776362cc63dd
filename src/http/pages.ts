/**
 * HTML pages: rendered from `templates/pages/` (Mustache, escaping every `{{value}}`), sent with headers
 * that keep them out of caches, referrers and frames, and a CSP that allows only the page's own inline
 * stylesheet and, on the one page that needs it, its own inline script, each by its SHA-256 hash.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { renderTemplate, templateRoot, type View } from './templates';
import { problemResponse, toProblem, type Problem } from './problem';

/** A file of `templates/pages/` inlined verbatim into a page, with the CSP source that allows exactly it. */
interface Inline {
  text: string;
  source: string;
}
const inlines = new Map<string, Inline>();

/**
 * Reads `templates/pages/<file>` once and hashes the exact text that goes between the tags, so the
 * CSP needs neither 'unsafe-inline' nor a route for assets. A text that could end its own element
 * early would also change what the browser hashes: refused at load.
 */
function inline(file: string): Inline {
  const known = inlines.get(file);
  if (known) return known;
  const text = readFileSync(join(templateRoot(), 'templates', 'pages', file), 'utf8');
  if (/<\/(script|style)|<!--/i.test(text)) throw new Error(`templates/pages/${file} must not contain "</script", "</style" or "<!--"`);
  const made = { text, source: `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'` };
  inlines.set(file, made);
  return made;
}

const STYLE = 'page.css';

export interface PageOptions {
  /**
   * A script file under `templates/pages/` to inline as the page's only script (`pages/foot.html` places
   * it). Its hash, and nothing else, goes into `script-src`. Pages without one allow no script.
   */
  script?: string;
  /** The script may fetch from the page's own origin (`connect-src 'self'`). */
  connect?: boolean;
}

/** The page's CSP: nothing by default; its own stylesheet, and its own script when it has one, by hash. */
export function contentSecurityPolicy(options: PageOptions = {}): string {
  return [
    "default-src 'none'",
    ...(options.script ? [`script-src ${inline(options.script).source}`] : []),
    ...(options.script && options.connect ? ["connect-src 'self'"] : []),
    `style-src ${inline(STYLE).source}`,
    "img-src 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers of every page. */
export function pageHeaders(options: PageOptions = {}): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    'content-security-policy': contentSecurityPolicy(options),
  };
}

/** Renders `templates/pages/<template>.html.mustache`. `pageTitle` goes into `<title>`. */
export function htmlPage(status: number, template: string, view: View, headers: Record<string, string> = {}, options: PageOptions = {}): HttpResponseInit {
  const script = options.script ? { script: inline(options.script).text } : {};
  const body = renderTemplate(`pages/${template}.html`, { ...view, css: inline(STYLE).text, ...script });
  return { status, headers: { ...pageHeaders(options), ...headers }, body };
}

export interface PageErrors {
  /** The page for an error (its status is the problem's). */
  page(problem: Problem, error: unknown): { template: string; view: View };
  /** Extra problem+json members for an error (RFC 9457 extensions). */
  extensions?(error: unknown): Record<string, unknown>;
  /** The options of the error pages (those of the pages they stand in for). */
  options?: PageOptions;
}

/**
 * Runs a page handler. An error becomes a page, or problem+json when the client asked for JSON;
 * an unknown error is logged and shown as a generic 500, never echoed.
 */
export async function respondPage(ctx: InvocationContext, asJson: boolean, errors: PageErrors, fn: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await fn();
  } catch (e) {
    const { problem, retryAfter } = toProblem(e, ctx);
    const retry: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfter))) };
    if (asJson) return problemResponse({ ...problem, ...(errors.extensions?.(e) ?? {}) }, retryAfter);
    const { template, view } = errors.page(problem, e);
    return htmlPage(problem.status, template, view, retry, errors.options);
  }
}
