/**
 * Schema issues → `{ path, message }`: the one mapper behind every 400 ValidationFailed and every
 * metadata problem, and the one JSON-path formatter they share.
 */
import type { z } from 'zod';
import type { FieldProblem } from './errors';

type Issue = z.core.$ZodIssue;
type Segment = PropertyKey;

/**
 * How a key that is not an identifier is written. `quoted` (`parameters["a-b"]`) can be parsed
 * back (`parsePath`); `dotted` (`parameters.a-b`) is the request-body form docs/errors.md shows.
 */
export type PathStyle = 'quoted' | 'dotted';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** JSON path of a zod-style path: `stages[1].pipelines[0].dependsOn[0]`; `$` for the root. */
export function formatPath(path: readonly Segment[], style: PathStyle = 'quoted'): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (style === 'dotted' || IDENTIFIER.test(s)) out += out === '' ? s : `.${s}`;
      else out += `[${JSON.stringify(s)}]`;
    }
  }
  return out === '' ? '$' : out;
}

/** Inverse of formatPath (quoted style); `$` is the empty path. */
export function parsePath(path: string): (string | number)[] {
  const segs: (string | number)[] = [];
  const re = /\.?([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  if (path === '$') return segs;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) segs.push(m[1]);
    else if (m[2] !== undefined) segs.push(Number(m[2]));
    else if (m[3] !== undefined) segs.push(JSON.parse(m[3]) as string);
    if (re.lastIndex >= path.length) break;
  }
  return segs;
}

export interface ProblemOptions {
  /** The schema the issues came from: an unknown key then names the keys allowed where it sits. */
  schema?: z.core.$ZodType;
  pathStyle?: PathStyle;
}

/** Every issue as a problem; an unknown-keys issue becomes one problem per key, at the key's own path. */
export function issuesToProblems(issues: readonly Issue[], options: ProblemOptions = {}): FieldProblem[] {
  const style = options.pathStyle ?? 'quoted';
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const allowed = options.schema ? allowedKeysAt(options.schema, issue.path) : [];
      return issue.keys.map((k) => ({ path: formatPath([...issue.path, k], style), message: unknownKeyMessage(k, allowed) }));
    }
    return [{ path: formatPath(issue.path, style), message: issueMessage(issue) }];
  });
}

/**
 * The keys an object schema allows at `path`, in schema order; `[]` where the path does not lead
 * to an object (a record of values, a list of strings, an unknown key).
 */
export function allowedKeysAt(schema: z.core.$ZodType, path: readonly Segment[]): string[] {
  let at: z.core.$ZodType | undefined = schema;
  for (const seg of path) {
    if (!at) return [];
    at = childAt(at, seg);
  }
  const def = at && defOf(unwrap(at));
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

// ---- Messages --------------------------------------------------------------------------

/** A schema's own message wins; zod's generic ones ("Invalid input: …") are put in plain words. */
function issueMessage(issue: Issue): string {
  const hasInput = 'input' in issue && issue.input !== undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (!hasInput) return 'is required';
      if (issue.message && !issue.message.startsWith('Invalid input')) return issue.message;
      return `must be ${describeExpected(String(issue.expected))}, not ${describeValue(issue.input)}`;
    case 'invalid_value':
      if (issue.message && !issue.message.startsWith('Invalid')) return issue.message;
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'record':
    case 'object':
      return 'a mapping (object)';
    case 'array':
      return 'a list';
    case 'int':
      return 'an integer';
    default:
      return `a ${expected}`;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}

/** Suggests the allowed key the unknown one most likely meant (a typo or a case slip). */
function unknownKeyMessage(k: string, allowed: string[]): string {
  const near =
    allowed.find((a) => a.toLowerCase() === k.toLowerCase()) ??
    allowed.find((a) => editDistance(a, k) <= Math.max(2, Math.floor(a.length / 3)));
  if (near) return `unknown key "${k}"; did you mean "${near}"?`;
  return allowed.length > 0 ? `unknown key "${k}"; allowed keys: ${allowed.join(', ')}` : `unknown key "${k}"`;
}

function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[y.length] ?? Math.max(x.length, y.length);
}

// ---- Walking a schema ------------------------------------------------------------------

interface Def {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  in?: z.core.$ZodType;
}

const defOf = (s: z.core.$ZodType): Def => s._zod.def;

/** Looks through wrappers that do not change the shape: optional, default, prefault, pipe… */
function unwrap(s: z.core.$ZodType): z.core.$ZodType {
  let at = s;
  for (let i = 0; i < 16; i++) {
    const def = defOf(at);
    const next = def.type === 'pipe' ? def.in : def.innerType;
    if (!next) break;
    at = next;
  }
  return at;
}

function childAt(s: z.core.$ZodType, seg: Segment): z.core.$ZodType | undefined {
  const def = defOf(unwrap(s));
  if (def.type === 'object' && typeof seg === 'string') return def.shape?.[seg];
  if (def.type === 'array' && typeof seg === 'number') return def.element;
  if (def.type === 'record') return def.valueType;
  return undefined;
}

/** How deep a request body or metadata document may nest (objects and arrays). */
export const MAX_NESTING = 64;
/** Keys that would reach an object's prototype: refused anywhere, since a parser or spread drops them silently. */
const FORBIDDEN_KEYS = new Set(['__proto__']);

/**
 * Every structural problem of a parsed document: nesting past MAX_NESTING (one problem, at the first
 * place it happens) and each `__proto__` key. Iterative, so no input can exhaust the stack.
 */
export function structureProblems(value: unknown, maxNesting = MAX_NESTING): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const stack: Array<{ v: unknown; path: Segment[] }> = [{ v: value, path: [] }];
  let tooDeep = false;
  while (stack.length) {
    const { v, path } = stack.pop() as { v: unknown; path: Segment[] };
    if (!v || typeof v !== 'object') continue;
    if (path.length >= maxNesting) {
      if (!tooDeep) problems.push({ path: formatPath(path.slice(0, maxNesting), 'dotted'), message: `nests deeper than ${maxNesting} levels` });
      tooDeep = true;
      continue;
    }
    if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, path: [...path, i] }));
    else
      for (const key of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(key)) problems.push({ path: formatPath([...path, key], 'dotted'), message: `'${key}' is not allowed as a name` });
        stack.push({ v: (v as Record<string, unknown>)[key], path: [...path, key] });
      }
  }
  return problems;
}

/**
 * The nesting of YAML text, estimated before parsing (the parser itself can exhaust memory on a few
 * kilobytes of `- - - …` or `[[[…`): block levels by indentation and `- `/`? ` markers, plus flow brackets.
 */
export function yamlNesting(text: string): number {
  let max = 0;
  let flow = 0;
  const indents: number[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let indent = line.length - trimmed.length;
    if (flow === 0) {
      while (indents.length && (indents[indents.length - 1] as number) >= indent) indents.pop();
      indents.push(indent);
      const markers = /^(?:[-?:][ \t]+)+/.exec(trimmed)?.[0] ?? '';
      for (const ch of markers) if (ch === '-' || ch === '?' || ch === ':') indents.push(++indent);
    }
    let quote = '';
    let escaped = false;
    for (const ch of trimmed) {
      if (quote) {
        if (escaped) escaped = false;
        else if (ch === '\\' && quote === '"') escaped = true;
        else if (ch === quote) quote = '';
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === '#' ) break;
      else if (ch === '[' || ch === '{') flow++;
      else if ((ch === ']' || ch === '}') && flow > 0) flow--;
      max = Math.max(max, indents.length + flow);
    }
    max = Math.max(max, indents.length + flow);
  }
  return max;
}
