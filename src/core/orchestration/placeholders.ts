/**
 * Parameters from the execution: `${execution.id}`, `${execution.batch}`, `${execution.startedAt}`,
 * `${execution.parameters.<name>}`, `${stage.name}` and `${worker.name}` in a worker's parameter values,
 * resolved once, when the execution starts, and recorded on the worker.
 * A value that is exactly one placeholder takes the referenced value as it is (a number stays a number);
 * inside a longer string it is written as text (JSON for an object). `$${` writes a literal `${`.
 */
import type { FieldProblem } from '../errors';
import { formatPath } from '../field-problems';

const PLACEHOLDER = /\$?\$\{([^}]*)\}/g;
const FIXED = ['execution.id', 'execution.batch', 'execution.startedAt', 'stage.name', 'worker.name'] as const;
const PARAMETER = /^execution\.parameters\.([A-Za-z_][A-Za-z0-9_]*)$/;
export const PLACEHOLDER_NAMES = [...FIXED, 'execution.parameters.<name>'];

export interface PlaceholderContext {
  executionId: string;
  batch: string | null;
  startedAt: string;
  stage: string;
  worker: string;
  /** The batch's parameters, overridden by the request's. */
  parameters: Record<string, unknown>;
}

/** Each string in a JSON value, with its path (segments). */
function* strings(value: unknown, path: Array<string | number>): Generator<{ text: string; path: Array<string | number> }> {
  if (typeof value === 'string') yield { text: value, path };
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

/** Unknown placeholders in a worker's parameters, each with its path (`base` is the parameters' own path). */
export function placeholderProblems(parameters: unknown, base: Array<string | number>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const { text, path } of strings(parameters, base)) {
    for (const m of text.matchAll(PLACEHOLDER)) {
      if (m[0].startsWith('$$')) continue;
      const name = (m[1] ?? '').trim();
      if (!(FIXED as readonly string[]).includes(name) && !PARAMETER.test(name))
        problems.push({ path: formatPath(path), message: `unknown placeholder \${${name}}; use one of ${PLACEHOLDER_NAMES.map((n) => `\${${n}}`).join(', ')}` });
    }
  }
  return problems;
}

/** The execution parameters a worker's parameters refer to. */
export function referencedParameters(parameters: unknown): string[] {
  const names = new Set<string>();
  for (const { text } of strings(parameters, [])) for (const m of text.matchAll(PLACEHOLDER)) if (!m[0].startsWith('$$')) names.add(PARAMETER.exec((m[1] ?? '').trim())?.[1] ?? '');
  names.delete('');
  return [...names];
}

function lookup(name: string, ctx: PlaceholderContext): { found: boolean; value?: unknown } {
  switch (name) {
    case 'execution.id':
      return { found: true, value: ctx.executionId };
    case 'execution.batch':
      return { found: true, value: ctx.batch ?? '' };
    case 'execution.startedAt':
      return { found: true, value: ctx.startedAt };
    case 'stage.name':
      return { found: true, value: ctx.stage };
    case 'worker.name':
      return { found: true, value: ctx.worker };
  }
  const p = PARAMETER.exec(name)?.[1];
  if (p !== undefined && Object.hasOwn(ctx.parameters, p)) return { found: true, value: ctx.parameters[p] };
  return { found: false };
}

function resolveString(text: string, ctx: PlaceholderContext): unknown {
  const whole = /^\$\{([^}]*)\}$/.exec(text);
  if (whole) {
    const r = lookup((whole[1] ?? '').trim(), ctx);
    if (r.found) return r.value;
  }
  return text.replace(PLACEHOLDER, (all: string, name: string) => {
    if (all.startsWith('$$')) return all.slice(1);
    const r = lookup(name.trim(), ctx);
    if (!r.found) return all;
    return typeof r.value === 'string' ? r.value : JSON.stringify(r.value);
  });
}

/** A worker's parameters with every placeholder resolved. */
export function resolveParameters(value: unknown, ctx: PlaceholderContext): unknown {
  if (typeof value === 'string') return resolveString(value, ctx);
  if (Array.isArray(value)) return value.map((v) => resolveParameters(v, ctx));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveParameters(v, ctx)]));
  return value;
}
