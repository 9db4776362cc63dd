/**
 * Orchestration metadata as text: YAML or JSON (JSON is YAML) is parsed here, at the edge, and the
 * domain validates the plain object. `PUT /api/metadata` and `conductor validate` both come through here.
 */
import { parseDocument } from 'yaml';
import type { MetadataResult } from '../core/orchestration/metadata';
import { validateMetadata } from '../core/orchestration/metadata-validate';

/** Parse YAML or JSON text; syntax errors become one FieldProblem with path '$' and line info. */
export function parseMetadataText(text: string): MetadataResult {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
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
  return validateMetadata(value);
}
