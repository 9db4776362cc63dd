/**
 * HTML pages: rendered from `templates/pages/` (Mustache, escaping every `{{value}}`), sent with headers
 * that keep them out of caches, referrers and frames, and a CSP that allows no script at all.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import { renderTemplate, templateRoot, type View } from './templates';
import { problemResponse, toProblem, type Problem } from './problem';

let style: { css: string; csp: string } | undefined;

/**
 * The one stylesheet, inlined in every page and allowed by its hash: the CSP needs neither
 * 'unsafe-inline' nor a stylesheet route, and allows no script, image, frame or foreign form target.
 */
function pageStyle(): { css: string; csp: string } {
  if (style) return style;
  const css = readFileSync(join(templateRoot(), 'templates', 'pages', 'page.css'), 'utf8');
  const hash = createHash('sha256').update(css, 'utf8').digest('base64');
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${hash}'`,
    "img-src 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  style = { css, csp };
  return style;
}

/** Headers of every page. */
export function pageHeaders(): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    'content-security-policy': pageStyle().csp,
  };
}

/** Renders `templates/pages/<template>.html.mustache`. `pageTitle` goes into `<title>`. */
export function htmlPage(status: number, template: string, view: View, headers: Record<string, string> = {}): HttpResponseInit {
  const body = renderTemplate(`pages/${template}.html`, { ...view, css: pageStyle().css });
  return { status, headers: { ...pageHeaders(), ...headers }, body };
}

export interface PageErrors {
  /** The page for an error (its status is the problem's). */
  page(problem: Problem, error: unknown): { template: string; view: View };
  /** Extra problem+json members for an error (RFC 9457 extensions). */
  extensions?(error: unknown): Record<string, unknown>;
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
    return htmlPage(problem.status, template, view, retry);
  }
}
