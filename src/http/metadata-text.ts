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
  // JSON is YAML, but JSON.parse reads it without recursion: only what is not JSON goes to the YAML parser.
  const json = asJson(source);
  if (json.ok) {
    const structural = structureProblems(json.value);
    return structural.length ? { ok: false, errors: structural } : validateMetadata(json.value);
  }
  // Checked before the parser sees it: a few KB of `- - - …` exhausts the parser's memory.
  if (yamlNesting(source) > MAX_NESTING) return { ok: false, errors: [{ path: '$', message: `the document nests deeper than ${MAX_NESTING} levels` }] };
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(source, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, errors: [{ path: '$', message: `the document nests too deeply to read (at most ${MAX_NESTING} levels)` }] };
    throw e;
  }
  const first = doc.errors[0];
  if (first && /call stack|too much recursion/i.test(first.message)) return { ok: false, errors: [{ path: '$', message: `the document nests too deeply to read (at most ${MAX_NESTING} levels)` }] };
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

function asJson(text: string): { ok: true; value: unknown } | { ok: false } {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false }; // YAML flow style, or a syntax error the YAML parser will describe
  }
}
