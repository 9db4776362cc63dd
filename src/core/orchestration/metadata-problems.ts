/**
 * How metadata problems are reported: once each, in the order a reader meets them in the document.
 */
import type { z } from 'zod';
import type { FieldProblem } from '../errors';
import { allowedKeysAt, issuesToProblems, parsePath } from '../field-problems';
import { MetadataSchema } from './metadata-schema';

/** Schema issues as problems; an unknown key names the key it most likely meant, or the allowed ones. */
export const schemaProblems = (issues: readonly z.core.$ZodIssue[]): FieldProblem[] => issuesToProblems(issues, { schema: MetadataSchema });

/** Every problem once, in document order. */
export const reportOrder = (problems: FieldProblem[]): FieldProblem[] => sortInDocumentOrder(dedupe(problems));

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Problems read top-down like the document: schema keys in schema order, list items by index,
 * other keys (factory and parameter names, unknown keys) in the order they were first reported.
 */
function sortInDocumentOrder(problems: FieldProblem[]): FieldProblem[] {
  const entries = problems.map((p, i) => ({ p, i, segs: parsePath(p.path) }));
  const firstSeen = new Map<string, number>();
  for (const e of entries) {
    for (let d = 1; d <= e.segs.length; d++) {
      const k = JSON.stringify(e.segs.slice(0, d));
      if (!firstSeen.has(k)) firstSeen.set(k, e.i);
    }
  }
  // Each segment ranks as (class, value): list indexes, then schema keys in schema order, then
  // other keys by first appearance. Distinct segments never tie, so the order is total.
  const rank = (segs: (string | number)[], d: number): [number, number] => {
    const seg = segs[d]!;
    if (typeof seg === 'number') return [0, seg];
    const known = allowedKeysAt(MetadataSchema, segs.slice(0, d)).indexOf(seg);
    if (known >= 0) return [1, known];
    return [2, firstSeen.get(JSON.stringify(segs.slice(0, d + 1))) ?? 0];
  };
  const compare = (a: (string | number)[], b: (string | number)[]): number => {
    for (let d = 0; d < Math.min(a.length, b.length); d++) {
      if (a[d] === b[d]) continue;
      const [ca, va] = rank(a, d);
      const [cb, vb] = rank(b, d);
      return ca - cb || va - vb;
    }
    return a.length - b.length;
  };
  return entries.sort((a, b) => compare(a.segs, b.segs) || a.i - b.i).map(({ p }) => p);
}
