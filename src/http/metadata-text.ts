/**
 * Orchestration metadata as text: YAML or JSON (JSON is YAML) is parsed here, at the edge, and the
 * domain validates the plain object. `PUT /api/metadata` and `conductor validate` both come through here.
 */
import { parseDocument } from 'yaml';
import type { MetadataResult } from '../core/orchestration/metadata';
import { validateMetadata } from '../core/orchestration/metadata-validate';
import { MAX_NESTING, structureProblems, yamlNesting } from '../core/field-problems';

/** Parse YAML or JSON text; syntax errors become one FieldProblem with path '$' and line info. */
export function parseMetadataText(text: string): MetadataResult {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  // Checked before the parser sees it: a few KB of `- - - …` exhausts the parser's memory.
  if (yamlNesting(source) > MAX_NESTING) return { ok: false, errors: [{ path: '$', message: `the document nests deeper than ${MAX_NESTING} levels` }] };
  const doc = parseDocument(source, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const headline = (first.message.split('\n')[0] ?? first.message).replace(/:\s*$/, '');
    return { ok: false, errors: [{ path: '$', message: `YAML syntax error: ${headline}` }] };
  }
  let value: unknown;
  try {
    // The alias cap stops "billion laughs" documents from expanding without bound.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, errors: [{ path: '$', message: `YAML error: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  const structural = structureProblems(value);
  if (structural.length) return { ok: false, errors: structural };
  return validateMetadata(value);
}
