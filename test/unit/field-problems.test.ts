import { z } from 'zod';
import { allowedKeysAt, formatPath, issuesToProblems, parsePath } from '../../src/core/field-problems';

const problemsOf = (schema: z.ZodType, value: unknown, pathStyle: 'quoted' | 'dotted' = 'dotted') => {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) throw new Error('expected issues');
  return issuesToProblems(r.error.issues, { schema, pathStyle });
};

const Body = z.strictObject({
  pipeline: z.string(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  decision: z.enum(['approve', 'reject'], 'must be approve or reject').optional(),
  mode: z.enum(['fast', 'slow']).optional(),
  nested: z.strictObject({ inner: z.number() }).prefault({ inner: 1 }),
  items: z.array(z.strictObject({ name: z.string() })).default([]),
});

describe('formatPath', () => {
  it('when a key is not an identifier, then the quoted style brackets it and the dotted style does not', () => {
    const segs = ['parameters', 'a-b', 'list', 0];
    expect(formatPath(segs)).toBe('parameters["a-b"].list[0]');
    expect(formatPath(segs, 'dotted')).toBe('parameters.a-b.list[0]');
    expect(parsePath(formatPath(segs))).toEqual(segs);
    expect(formatPath([], 'dotted')).toBe('$');
  });
});

describe('issuesToProblems', () => {
  it('when a key is unknown, then the problem sits at the key and names the key it most likely meant', () => {
    expect(problemsOf(Body, { pipeline: 'p', pipelin: 'typo', zzz: 1 })).toEqual([
      { path: 'pipelin', message: 'unknown key "pipelin"; did you mean "pipeline"?' },
      { path: 'zzz', message: 'unknown key "zzz"; allowed keys: pipeline, parameters, decision, mode, nested, items' },
    ]);
    expect(problemsOf(Body, { pipeline: 'p', items: [{ name: 'a', nmae: 'b' }] })).toEqual([{ path: 'items[0].nmae', message: 'unknown key "nmae"; did you mean "name"?' }]);
  });

  it('when a value is missing or of the wrong type, then the message says so in plain words', () => {
    expect(problemsOf(Body, { parameters: [1] })).toEqual([
      { path: 'pipeline', message: 'is required' },
      { path: 'parameters', message: 'must be a mapping (object), not a list' },
    ]);
    expect(problemsOf(Body, { pipeline: 5 })).toEqual([{ path: 'pipeline', message: 'must be a string, not number 5' }]);
  });

  it("when the schema has its own message, then it wins over the plain words", () => {
    expect(problemsOf(Body, { pipeline: 'p', decision: 'maybe', mode: 'medium' })).toEqual([
      { path: 'decision', message: 'must be approve or reject' },
      { path: 'mode', message: 'must be one of: fast, slow' },
    ]);
  });
});

describe('allowedKeysAt', () => {
  it('when the path goes through defaults, lists and records, then it finds the object schema there', () => {
    const Doc = z.strictObject({ m: z.record(z.string(), Body).default({}), l: z.array(Body).min(1) });
    expect(allowedKeysAt(Doc, [])).toEqual(['m', 'l']);
    expect(allowedKeysAt(Doc, ['m', 'any'])).toEqual(['pipeline', 'parameters', 'decision', 'mode', 'nested', 'items']);
    expect(allowedKeysAt(Doc, ['l', 3, 'nested'])).toEqual(['inner']);
    expect(allowedKeysAt(Doc, ['l', 'x'])).toEqual([]);
    expect(allowedKeysAt(Doc, ['l', 0, 'pipeline'])).toEqual([]);
  });
});
