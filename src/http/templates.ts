/**
 * Mustache rendering of the files under the repository's `templates/` folder: the pages, and the
 * emails the domain sends through its `MailTemplates` port (src/core/ports.ts).
 *
 * Escaping is decided by the template's kind, never by the caller:
 * - `.txt` templates render values verbatim (HTML entities in a plain-text mail are a bug, and
 *   plain text cannot execute anything);
 * - every other template (HTML pages and mails) HTML-escapes every `{{value}}`.
 * Request-supplied values must only ever be placed with `{{double}}` braces in HTML templates.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Mustache from 'mustache';
import { unprocessable } from '../core/errors';
import type { MailTemplates, RenderedEmail } from '../core/ports';

export type View = Record<string, unknown>;

/** The email templates under `templates/email/`, as the domain's MailTemplates port. */
export class MustacheMailTemplates implements MailTemplates {
  has(name: string): boolean {
    return hasEmailTemplate(name);
  }
  render(name: string, view: View): RenderedEmail {
    return renderEmail(name, view);
  }
}

/** Relative template names: path segments of letters, digits, `-`, `_` and `.`, no `..`. */
const TEMPLATE_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*(?:\/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)*$/;
/** An email template name as a caller (possibly a request) may give it: one plain segment. */
const EMAIL_TEMPLATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

let root: string | undefined;
const cache = new Map<string, string>();

/**
 * The folder holding `templates/`. Walks up from this file until a folder holds both
 * `templates/` and `package.json`, so it works from `src/http` (ts-jest) and from
 * `dist/src/http` (compiled) alike.
 */
export function templateRoot(): string {
  if (root !== undefined) return root;
  let dir = __dirname;
  for (;;) {
    if (isDirectory(join(dir, 'templates')) && existsSync(join(dir, 'package.json'))) {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no templates/ folder above ${__dirname}`);
    dir = parent;
  }
}

/**
 * Renders `templates/<name>.mustache` (the `.mustache` suffix may be given or not), e.g.
 * `renderTemplate('pages/restart.html', view)`. Partials `{{> email/footer.html}}` resolve the same way.
 */
export function renderTemplate(name: string, view: View): string {
  const template = loadTemplate(name);
  const partials = (partial: string): string | undefined => loadTemplate(partial);
  if (isPlainText(name)) {
    // Mustache calls `escape` only for `{{x}}`; identity here keeps text verbatim.
    return Mustache.render(template, view, partials, { escape: (value: unknown) => String(value) });
  }
  return Mustache.render(template, view, partials);
}

/** Renders `templates/email/<name>.html.mustache` and `templates/email/<name>.txt.mustache`. */
export function renderEmail(name: string, view: View): RenderedEmail {
  if (!hasEmailTemplate(name)) {
    throw unprocessable('TemplateNotFound', `There is no email template named "${safeName(name)}".`);
  }
  return {
    html: renderTemplate(`email/${name}.html`, view),
    text: renderTemplate(`email/${name}.txt`, view),
  };
}

/** True when both parts of the email template exist. Safe to call with a request-supplied name. */
export function hasEmailTemplate(name: string): boolean {
  if (!EMAIL_TEMPLATE_NAME.test(name)) return false;
  const dir = join(templateRoot(), 'templates', 'email');
  return existsSync(join(dir, `${name}.html.mustache`)) && existsSync(join(dir, `${name}.txt.mustache`));
}

function loadTemplate(name: string): string {
  const file = name.endsWith('.mustache') ? name : `${name}.mustache`;
  const cached = cache.get(file);
  if (cached !== undefined) return cached;
  if (!TEMPLATE_NAME.test(file)) throw new Error(`invalid template name "${safeName(name)}"`);
  const base = resolve(templateRoot(), 'templates');
  const path = resolve(base, file);
  if (!path.startsWith(base + '/') && !path.startsWith(base + '\\')) {
    throw new Error(`invalid template name "${safeName(name)}"`);
  }
  const text = readFileSync(path, 'utf8');
  cache.set(file, text);
  return text;
}

function isPlainText(name: string): boolean {
  return /\.txt(?:\.mustache)?$/.test(name);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function safeName(name: string): string {
  return name.slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
}
