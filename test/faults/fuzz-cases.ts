/**
 * Hostile requests for any route: fast-check arbitraries for ids, queries, headers and bodies, mixing
 * bodies shaped like the real schemas (then mutated) with pure garbage, plus a list of directed cases
 * (the known-nasty inputs, each one on its own) that run first (those that may break storage, last).
 *
 * Bodies are built as JSON *text*, because an object literal swallows `__proto__` and cannot hold a
 * duplicate key or 5,000 levels of nesting cheaply.
 */
import fc from 'fast-check';
import YAML from 'yaml';
import type { FuzzRequest } from './fuzz-support';

export interface FuzzCase extends FuzzRequest {
  /** What made it, for the report. */
  label: string;
  /** Likely to be accepted and write: its rows are counted on their own, not in a batch of rejected requests. */
  mayWrite: boolean;
  /** Requests alike in method, ids and kind of body: once one of them is accepted, the rest go alone too. */
  klass: string;
  /** Extra rules for this case, checked against the answer (see fuzz.test.ts). */
  expect?: 'protoParameterRefusedOrCarried';
  /** Runs after the generated cases: it may break the stack's storage for the rest of the route. */
  last?: boolean;
}

/** What the fixtures created, so generated requests can hit real ids and reach deep code. */
export interface Known {
  pipelines: string[];
  runIds: string[];
  pauseIds: string[];
  tokens: string[];
  executionIds: string[];
  queues: string[];
  jobIds: string[];
  batches: string[];
  stages: string[];
  workers: string[];
}

export interface RouteInfo {
  name: string;
  route: string;
  methods: string[];
}

// ---- JSON text ---------------------------------------------------------------------------------------

/** JSON text spliced into a tree as is. */
export class Raw {
  constructor(readonly text: string) {}
}
/** An object as a list of entries, so a key may be `__proto__` or appear twice. */
export class Entries {
  constructor(readonly entries: Array<[string, Tree]>) {}
}
export type Tree = null | boolean | number | string | Raw | Entries | Tree[];

/** Plain JSON-like values → a Tree of fresh containers. */
export function tree(v: unknown): Tree {
  if (v instanceof Raw || v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof Entries) return new Entries(v.entries.map(([k, x]) => [k, tree(x)]));
  if (Array.isArray(v)) return v.map(tree);
  if (typeof v === 'object') return new Entries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => [k, tree(x)]));
  return null;
}

export function toJson(t: Tree): string {
  if (t instanceof Raw) return t.text;
  if (t instanceof Entries) return `{${t.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  if (Array.isArray(t)) return `[${t.map(toJson).join(',')}]`;
  return JSON.stringify(t) ?? 'null';
}

/** Nasty characters: lone surrogates, controls, separators, path and template syntax, any code point. */
const nastyChar = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/', '\\', '#', '?', '%', '%2F', '..', '\u0000', '\n', '\r', '\t', '\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\ufffe', '\uffff',
      '"', "'", '<', '>', '&', '{{', '}}', '${', '$', '.', ' ', 'İ', 'ß', 'ﬀ', '\u0301', '😀', '𝕏', '\u202e',
    ),
  },
);
export const nastyString = fc.string({ unit: nastyChar, maxLength: 40 });

/** Long strings: just over a table property (64 KiB), and up to most of the 1 MiB body limit. */
const hugeString = fc
  .record({ ch: fc.constantFrom('a', 'é', '😀', '\ud800', '"', '\\', '\u0000', '<'), bytes: fc.constantFrom(1025, 32_769, 65_537, 200_000, 400_000) })
  // Sized by the larger of its UTF-8 and its JSON-escaped length, so the body stays under ~1 MB.
  .map(({ ch, bytes }) => ch.repeat(Math.ceil(bytes / Math.max(Buffer.byteLength(ch), JSON.stringify(ch).length - 2))));

const scalarJson: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'null', 'true', 'false', '0', '-0', '1', '-1', '1.5', '1e400', '-1e400', '1e-400', '9007199254740993', '123456789012345678901234567890',
      '""', '" "', '"\\u0000"', '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"<script>alert(1)</script>"', '"{{x}}"', '"${x}"', '"\\n"',
      '"%00"', '"../../etc/passwd"', '"a/b"', '"__proto__"', '[]', '{}', '[null]', '{"":null}',
    ),
  },
  { weight: 2, arbitrary: nastyString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
);

const hostileKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '') },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(300), 'é'.repeat(200), 'a.b', 'a[0]', '$ref', '0') },
);

/** Random JSON with nasty keys and scalars. */
export const randomJson: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, { weight: 4, arbitrary: scalarJson }, { weight: 1, arbitrary: tie('array') }, { weight: 1, arbitrary: tie('object') }),
  array: fc.array(tie('value'), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 5 }).map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
})).value;

/** `depth` levels of arrays, objects or both around `leaf`, as text (built by repetition, not recursion). */
export function deep(depth: number, shape: 'array' | 'object' | 'mixed', leaf = '1'): string {
  if (shape === 'array') return '['.repeat(depth) + leaf + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
  const half = Math.ceil(depth / 2);
  return '[{"a":'.repeat(half) + leaf + '}]'.repeat(half);
}

const deepJson = fc
  .record({ depth: fc.constantFrom(64, 1000, 2000, 5000, 10_000, 100_000), shape: fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed') })
  .map(({ depth, shape }) => deep(depth, shape));

const protoJson = fc.constantFrom(
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null}',
  '{"__proto__":[]}',
  '{"a":1,"a":2}',
  '{"toString":"x","valueOf":1}',
);

/** Any value, hostile: wrong types, odd numbers, lone surrogates, huge strings, deep nesting, __proto__. */
export const hostileJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: scalarJson },
  { weight: 4, arbitrary: randomJson },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: hugeString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: protoJson },
);

// ---- Mutations of a valid-shaped body ----------------------------------------------------------------

interface Mutation {
  op: 'replace' | 'delete' | 'addKey' | 'wrap' | 'nest';
  at: number;
  key: string;
  value: string;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('replace', 'replace', 'replace', 'delete', 'addKey', 'addKey', 'wrap', 'nest'),
  at: fc.nat(),
  key: hostileKey,
  value: hostileJson,
});

/** Every value slot of a tree (container and index), root excluded. */
function slots(t: Tree, out: Array<{ holder: Entries | Tree[]; index: number }> = []): Array<{ holder: Entries | Tree[]; index: number }> {
  const children: Tree[] = t instanceof Entries ? t.entries.map(([, v]) => v) : Array.isArray(t) ? t : [];
  children.forEach((v, index) => {
    out.push({ holder: t as Entries | Tree[], index });
    slots(v, out);
  });
  return out;
}

function containers(t: Tree, out: Array<Entries | Tree[]> = []): Array<Entries | Tree[]> {
  if (!(t instanceof Entries) && !Array.isArray(t)) return out;
  out.push(t);
  for (const v of t instanceof Entries ? t.entries.map(([, x]) => x) : t) containers(v, out);
  return out;
}

const getSlot = (s: { holder: Entries | Tree[]; index: number }): Tree => (s.holder instanceof Entries ? s.holder.entries[s.index]![1] : s.holder[s.index]!);
function setSlot(s: { holder: Entries | Tree[]; index: number }, v: Tree): void {
  if (s.holder instanceof Entries) s.holder.entries[s.index]![1] = v;
  else s.holder[s.index] = v;
}

/** Applies the mutations to a fresh copy; returns the JSON text and what was done. */
export function mutate(value: unknown, ms: Mutation[]): { text: string; what: string[] } {
  const root = tree(value);
  const what: string[] = [];
  for (const m of ms) {
    const all = slots(root);
    if (m.op === 'addKey') {
      const objects = containers(root).filter((c): c is Entries => c instanceof Entries);
      const target = objects[m.at % Math.max(1, objects.length)];
      if (!target) continue;
      target.entries.push([m.key, new Raw(m.value)]);
      what.push(`added key ${JSON.stringify(m.key).slice(0, 40)}`);
      continue;
    }
    const slot = all[m.at % Math.max(1, all.length)];
    if (!slot) continue;
    const name = slot.holder instanceof Entries ? slot.holder.entries[slot.index]![0] : `[${slot.index}]`;
    if (m.op === 'delete') {
      if (slot.holder instanceof Entries) slot.holder.entries.splice(slot.index, 1);
      else slot.holder.splice(slot.index, 1);
      what.push(`deleted ${name}`);
    } else if (m.op === 'replace') {
      setSlot(slot, new Raw(m.value));
      what.push(`${name} := ${m.value.length > 40 ? `${m.value.slice(0, 20)}…(${m.value.length} chars)` : m.value}`);
    } else if (m.op === 'wrap') {
      setSlot(slot, [getSlot(slot)]);
      what.push(`${name} wrapped in an array`);
    } else {
      setSlot(slot, new Raw(deep(5000, m.at % 2 ? 'object' : 'array', toJson(getSlot(slot)))));
      what.push(`${name} nested 5000 deep`);
    }
  }
  return { text: toJson(root), what };
}

// ---- Valid-shaped bodies, per route --------------------------------------------------------------------

const TEST_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
const paramName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/);
const smallJson = fc.jsonValue({ maxDepth: 2 });
const parameters = fc.dictionary(paramName, smallJson, { maxKeys: 5 });

function refShape(k: Known) {
  return {
    pipeline: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...k.pipelines) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_ -]{0,20}$/) }),
    factory: fc.constantFrom('adf-test', 'adf-other'),
    resourceGroup: fc.constantFrom('rg-test', 'Äpfel', 'rg.(x)_y'),
    subscriptionId: fc.oneof(fc.constant(TEST_SUBSCRIPTION), fc.uuid()),
  };
}

const email = fc.constantFrom('ops@example.com', 'a.b+c@example.org', 'x@y.io');

function metadataDoc(k: Known): fc.Arbitrary<Record<string, unknown>> {
  const worker = (i: number, j: number) =>
    fc.record(
      {
        name: fc.constant(`w${i}_${j}`),
        pipeline: fc.constantFrom(...k.pipelines),
        parameters,
        enabled: fc.boolean(),
        timeoutSeconds: fc.integer({ min: 1, max: 604_800 }),
        dependsOn: fc.constant(j > 0 ? [`w${i}_${j - 1}`] : []),
      },
      { requiredKeys: ['name'] },
    );
  const stage = (i: number) =>
    fc.record({ name: fc.constant(`s${i}`), pipelines: fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, j) => worker(i, j)))) });
  return fc.integer({ min: 1, max: 3 }).chain((n) =>
    fc.record(
      {
        properties: fc.record(
          {
            failureHandling: fc.constantFrom('Simple', 'DependencyChain', 'None'),
            restart: fc.constantFrom('resume', 'new'),
            maxConcurrentWorkers: fc.integer({ min: 1, max: 100 }),
            cancelledWorkerBlocks: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
        stages: fc.tuple(...Array.from({ length: n }, (_, i) => stage(i))),
        batches: fc.constant([{ name: 'b0', stages: ['s0'] }]),
        // The fixture queues stay, so the route's other requests keep finding them.
        queues: fc.constant(k.queues.map((name, i) => ({ name, capacity: i === 0 ? 1 : 5 }))),
        recipients: fc.array(fc.record({ email, on: fc.constant(['Failed']) }), { maxLength: 1 }),
      },
      { requiredKeys: ['stages', 'queues'] },
    ),
  );
}

/** A body shaped like the route's schema, or undefined for routes that read none. */
function validBody(r: RouteInfo, k: Known): fc.Arbitrary<unknown> | undefined {
  const ref = refShape(k);
  switch (r.name) {
    case 'RunPipeline':
      return fc.record({ ...ref, parameters, idempotencyKey: fc.string({ minLength: 1, maxLength: 30 }) }, { requiredKeys: ['pipeline'] });
    case 'RunFinished':
      return fc.record({ runId: fc.oneof(fc.constantFrom(...k.runIds), fc.uuid()) });
    case 'PausePipeline':
      return fc.record(
        {
          continuation: fc.record({ ...ref, parameters, pauseIdParameter: fc.oneof(fc.constant(false), paramName) }, { requiredKeys: ['pipeline'] }),
          data: randomJson.map((t) => new Raw(t)),
          expiresInSeconds: fc.integer({ min: 1, max: 86_400 }),
          notify: fc.record(
            { to: fc.array(email, { minLength: 1, maxLength: 2 }), subject: fc.stringMatching(/^[A-Za-z ]{1,20}$/), message: fc.string({ maxLength: 40 }), template: fc.constantFrom('approval') },
            { requiredKeys: ['to'] },
          ),
          onReject: fc.record({ pipeline: fc.constantFrom(...k.pipelines), parameters }, { requiredKeys: ['pipeline'] }),
        },
        { requiredKeys: ['continuation'] },
      );
    case 'RestartPipeline':
      return fc.record({ token: fc.oneof(fc.constantFrom(...k.tokens), fc.base64String({ minLength: 4, maxLength: 90 })), decision: fc.constantFrom('approve', 'reject') });
    case 'EnqueueJob':
      return fc.record({ ...ref, parameters, timeoutSeconds: fc.integer({ min: 1, max: 604_800 }) }, { requiredKeys: ['pipeline'] });
    case 'CancelJob':
      return fc.record({ reason: fc.string({ maxLength: 50 }) }, { requiredKeys: [] });
    case 'PutMetadata':
      return metadataDoc(k);
    case 'StartExecution':
      return fc.record(
        { batch: fc.constantFrom(...k.batches, 'b0', 'nope'), stages: fc.subarray([...k.stages, 's0'], { minLength: 1 }), pipelines: fc.subarray([...k.workers, 'w0_0'], { minLength: 1 }) },
        { requiredKeys: [] },
      );
    case 'RestartExecution':
      return fc.record({ fromFailure: fc.boolean() }, { requiredKeys: [] });
    default:
      return undefined;
  }
}

// ---- Path segments and queries -------------------------------------------------------------------------

/** Percent-encodes every code point; a lone surrogate becomes its (invalid) 3-byte form, e.g. %ED%A0%80. */
export function encodeSegment(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    else out += encodeURIComponent(ch);
  }
  return out;
}

/** Hostile path segments, already in their on-the-wire form. */
export const HOSTILE_SEGMENTS = [
  'a%2Fb', '..%2F', '..%2f..%2f..%2fetc%2fpasswd', '%2E%2E', '%2e%2e%2F', '%2F', '%2F%2F', 'a%5Cb', '%5C..%5C', '%00', 'a%00b',
  '%E0%A4%A', '%ZZ', '%', 'a%', '%C0%AF', '%ED%A0%80', '%F0%9F%98', '%FF', '%23', 'a%23b', '%3F', 'a%3Fb%3D1', '%25', '%252F',
  '%0A', '%0D%0A', '%09', '%7F', '%C2%85', '%E2%80%A8', '%EF%BB%BF', '+', '%20', 'a%20', '%20a', '*', "'", '%22', '%3Cscript%3E',
  '%7B%7Bx%7D%7D', 'null', 'undefined', '__proto__', 'constructor', 'prototype', 'toString', '0', '-1', 'CON', '.', '~',
  'a'.repeat(513), 'a'.repeat(1025), 'A'.repeat(4096), '%C3%A9'.repeat(600), '%F0%9F%98%80'.repeat(300), '%2F'.repeat(400),
];

function knownIds(param: string, k: Known): string[] {
  const byName: Record<string, string[]> = { runId: k.runIds, pauseId: k.pauseIds, executionId: k.executionIds, queue: k.queues, jobId: k.jobIds };
  return byName[param] ?? [...k.runIds, ...k.pauseIds, ...k.executionIds, ...k.queues, ...k.jobIds];
}

/** A path segment: a real id (mostly), a real id made hostile, a hostile one, or random text. */
function segment(param: string, k: Known): fc.Arbitrary<{ text: string; known: boolean }> {
  const ids = knownIds(param, k);
  const known = ids.length ? fc.constantFrom(...ids) : fc.constant('x');
  return fc.oneof(
    { weight: 6, arbitrary: known.map((id) => ({ text: encodeURIComponent(id), known: true })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(known, fc.constantFrom('%2F..', '..%2F', '%00', '%2F', '%E0%A4%A', 'a'.repeat(1025), '%20', '%23x'), fc.boolean())
        .map(([id, bit, before]) => ({ text: before ? bit + encodeURIComponent(id) : encodeURIComponent(id) + bit, known: false })),
    },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS).map((text) => ({ text, known: false })) },
    { weight: 2, arbitrary: nastyString.filter((s) => s.length > 0).map((s) => ({ text: encodeSegment(s), known: false })) },
  );
}

function routeQuery(r: RouteInfo, k: Known): fc.Arbitrary<string> {
  const value = fc.oneof(
    nastyString.map(encodeSegment),
    fc.constantFrom(...HOSTILE_SEGMENTS.slice(0, 30)),
    fc.constantFrom('', 'a'.repeat(3000), '1e400', '-1', '0', '101', '2.5', 'Running', 'source', 'true'),
  );
  const keys = ['token', 'batch', 'status', 'limit', 'format', 'code', '__proto__', 'constructor', 'a', '', '%E0%A4%A', 'token[]'];
  const pair = fc.tuple(fc.constantFrom(...keys), value).map(([a, b]) => `${a}=${b}`);
  const specific: fc.Arbitrary<string>[] = [];
  if (r.name === 'RestartPipeline')
    specific.push(
      fc.oneof(
        fc.constantFrom(...k.tokens).map((t) => `token=${encodeURIComponent(t)}`),
        fc.tuple(fc.constantFrom(...k.tokens), fc.nat(80)).map(([t, n]) => `token=${encodeURIComponent(t.slice(0, n))}`),
        fc.constantFrom(...k.tokens).map((t) => `token=${encodeURIComponent(t)}x&token=y`),
      ),
    );
  if (r.name === 'ListExecutions')
    specific.push(
      fc
        .record({ batch: fc.constantFrom(...k.batches, ''), status: fc.constantFrom('Running', 'Failed', 'x'), limit: fc.constantFrom('1', '100', '0', '1000', 'abc') }, { requiredKeys: [] })
        .map((q) => new URLSearchParams(q).toString()),
    );
  if (r.name === 'GetMetadata') specific.push(fc.constantFrom('format=source', 'format=json', 'format=', 'format=source&format=x'));
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    { weight: 2, arbitrary: fc.array(pair, { minLength: 1, maxLength: 3 }).map((ps) => `?${ps.join('&')}`) },
    ...(specific.length ? [{ weight: 6, arbitrary: fc.oneof(...specific).map((q) => `?${q}`) }] : []),
  );
}

// ---- Headers --------------------------------------------------------------------------------------------

const JSONISH = ['application/json', 'application/json; charset=utf-8'];
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...JSONISH) },
  { weight: 2, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'APPLICATION/JSON', 'application/problem+json', 'application/vnd.api+json', 'text/plain', 'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/yaml', 'text/yaml', 'application/xml',
      'application/octet-stream', '', ';', 'application/json; charset=utf-16', 'application/json; charset=latin1', '*/*', 'x'.repeat(2000),
    ),
  },
);
const accept = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom('application/json', 'text/html', '*/*', 'application/problem+json', 'text/html, application/json', 'application/json;q=0, text/html', 'image/png', ',,,;q=x', 'a'.repeat(3000)) },
);
/** Header values node will send: printable ASCII and Latin-1, no CR/LF. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom('', ' ', 'é\u00ff', 'a'.repeat(5000), '%E0%A4%A', '../..', '__proto__'),
);
const hostHeader = fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('evil.example', '127.0.0.1:1', '[::1', '%', 'a b', 'x'.repeat(300), '') });

// ---- Bodies ---------------------------------------------------------------------------------------------

type Body = { body?: string | Buffer; kind: 'none' | 'valid' | 'mutated' | 'garbage'; label: string; type?: 'json' | 'yaml' | 'form'; ops?: string };

/** Deeply nested YAML: what a YAML parser must survive without crashing or spinning. */
export const HOSTILE_YAML: Array<[string, string]> = [
  ['2,000 nested "- " items on one line', `${'- '.repeat(2000)}x`],
  ['1,000 nested "-" items, one per line', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}-`).join('\n')],
  ['"a: " + 10,000 "["', `a: ${'['.repeat(10_000)}`],
  ['"a: " + 100,000 "["', `a: ${'['.repeat(100_000)}`],
  ['600,000 "[" (most of the body limit)', '['.repeat(600_000)],
  ['5,000 nested flow mappings', `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}`],
  ['block mappings 1,000 deep', Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1'],
  ['billion laughs', ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`), 'stages: *i'].join('\n')],
  ['alias to itself', 'a: &a [*a]'],
  ['__proto__ key', '__proto__:\n  polluted: true\nstages:\n  - name: s\n    pipelines: [{ name: w }]'],
  ['constructor.prototype keys', 'constructor:\n  prototype:\n    polluted: true\nstages: []'],
  ['custom tags', '!!js/function "function(){}"\n'],
  ['binary and set tags', 'a: !!binary aGVsbG8=\nb: !!set {x, y}\nstages: !!str x'],
  ['merge keys', 'base: &b {name: s}\nstages:\n  - <<: *b\n    pipelines: [{name: w}]'],
  ['duplicate keys', 'stages: []\nstages: []'],
  ['many documents', '---\na: 1\n---\nb: 2\n---\nstages: []'],
  ['tabs', 'stages:\n\t- name: s'],
  ['a 500,000 character line', `stages: ${'x'.repeat(500_000)}`],
  ['BOM then valid', '\ufeffstages:\n  - name: s\n    pipelines: [{ name: w, pipeline: wk_ok }]'],
  ['lone surrogate', 'stages:\n  - name: "\\ud800"\n    pipelines: [{ name: w }]'],
];

const garbageText = fc.constantFrom(
  '', ' ', '\n', '{', '}', '[', '{"a":', 'null', 'true', '0', '"x"', '[]', '{}', 'NaN', 'undefined', '{a:1}', "{'a':1}", '{"a":1,}', '[1,]',
  '{"a":1}{"b":2}', '{"a":1} trailing', '<xml/>', 'a: b', 'token=x&decision=approve', '\u0000', '\ufeff{}', '/*c*/{}', '--boundary\r\n',
  '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}',
);

const bytesBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.concat([Buffer.from('{"pipeline":"'), Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    Buffer.from('\ufeff{"pipeline":"wk_ok"}', 'utf8'),
    Buffer.from('{"pipeline":"wk_ok"}', 'utf16le'),
    Buffer.from([0xc0, 0xaf, 0x00, 0x7b]),
  ),
);

function bodies(r: RouteInfo, k: Known, hasBody: boolean): fc.Arbitrary<Body> {
  const valid = validBody(r, k);
  const yaml = r.name === 'PutMetadata';
  const form = r.name === 'RestartPipeline';
  const garbage: fc.Arbitrary<Body> = fc.oneof(
    { weight: 4, arbitrary: hostileJson.map((t) => ({ body: t, kind: 'garbage' as const, label: 'random JSON', type: 'json' as const })) },
    { weight: 2, arbitrary: garbageText.map((t) => ({ body: t, kind: 'garbage' as const, label: 'garbage text' })) },
    { weight: 1, arbitrary: bytesBody.map((b) => ({ body: b, kind: 'garbage' as const, label: 'raw bytes' })) },
    { weight: 1, arbitrary: deepJson.map((t) => ({ body: t, kind: 'garbage' as const, label: 'deep nesting', type: 'json' as const })) },
    ...(yaml ? [{ weight: 3, arbitrary: fc.constantFrom(...HOSTILE_YAML).map(([label, t]) => ({ body: t, kind: 'garbage' as const, label: `YAML: ${label}`, type: 'yaml' as const })) }] : []),
  );
  if (!hasBody) return fc.oneof({ weight: 4, arbitrary: fc.constant<Body>({ kind: 'none', label: 'no body' }) }, { weight: 1, arbitrary: garbage });
  const shaped: Array<fc.WeightedArbitrary<Body>> = [];
  if (valid) {
    shaped.push({ weight: 3, arbitrary: valid.map((v) => ({ body: toJson(tree(v)), kind: 'valid' as const, label: 'valid-shaped', type: 'json' as const })) });
    shaped.push({
      weight: 7,
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([v, ms]) => {
        let m = mutate(v, ms);
        // Keep a body near the 1 MiB limit at most: several huge mutations fall back to the first one.
        if (m.text.length > 1_100_000) m = mutate(v, ms.slice(0, 1));
        const ops = [...new Set(ms.map((x) => x.op))].sort().join('+');
        return { body: m.text, kind: 'mutated' as const, label: `valid-shaped, ${m.what.join('; ')}`, type: 'json' as const, ops };
      }),
    });
    if (yaml) shaped.push({ weight: 2, arbitrary: valid.map((v) => ({ body: YAML.stringify(v), kind: 'valid' as const, label: 'valid-shaped YAML', type: 'yaml' as const })) });
    if (form)
      shaped.push({
        weight: 2,
        arbitrary: fc
          .tuple(valid as fc.Arbitrary<{ token: string; decision: string }>, fc.option(nastyString, { nil: undefined }))
          .map(([v, extra]) => ({ body: new URLSearchParams({ ...v, ...(extra !== undefined ? { decision: extra } : {}) }).toString(), kind: extra === undefined ? ('valid' as const) : ('mutated' as const), label: 'form', type: 'form' as const })),
      });
  }
  return fc.oneof(...shaped, { weight: valid ? 4 : 8, arbitrary: garbage }, { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none', label: 'no body' }) });
}

// ---- Whole requests ---------------------------------------------------------------------------------------

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const readOnly = (m: string) => m === 'GET' || m === 'HEAD';

/** Route segments: literals and `{param}` names. */
export function segmentsOf(route: string): Array<{ literal: string } | { param: string }> {
  return route.split('/').map((s) => {
    const m = /^\{(\w+)\??\}$/.exec(s);
    return m ? { param: m[1]! } : { literal: s };
  });
}

/** Picks a content-type fitting the body (mostly), or any. */
function typeFor(b: Body, ct: string | undefined, fit: boolean): string | undefined {
  if (!fit || b.kind === 'none') return ct;
  if (b.type === 'yaml') return 'application/yaml';
  if (b.type === 'form') return 'application/x-www-form-urlencoded';
  return ct;
}

/** Random hostile requests for one route. */
export function requests(r: RouteInfo, k: Known): fc.Arbitrary<FuzzCase> {
  const segs = segmentsOf(r.route);
  const params = segs.flatMap((s) => ('param' in s ? [s.param] : []));
  const wrong = METHODS.filter((m) => !r.methods.includes(m) && !(m === 'HEAD' && r.methods.includes('GET')));
  const method = wrong.length ? fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...r.methods) }, { weight: 1, arbitrary: fc.constantFrom(...wrong) }) : fc.constantFrom(...r.methods);
  const pathVariant = fc.constantFrom('', '', '', '', '', '', '/', 'case', 'extra', '//');
  return fc
    .record({
      method,
      ids: fc.tuple(...params.map((p) => segment(p, k))),
      variant: pathVariant,
      query: routeQuery(r, k),
      ct: contentType,
      fit: fc.boolean(),
      accept,
      idem: fc.option(headerValue, { freq: 8, nil: undefined }),
      host: hostHeader,
    })
    .chain((p) => bodies(r, k, !readOnly(p.method)).map((b) => ({ p, b })))
    .map(({ p, b }) => {
      let i = 0;
      let path = segs.map((s) => ('param' in s ? (p.ids[i++]?.text ?? 'x') : s.literal)).join('/');
      if (p.variant === '/') path += '/';
      else if (p.variant === 'case') path = path.replace(/^[a-z]+/, (w) => w.toUpperCase());
      else if (p.variant === 'extra') path += '/extra';
      else if (p.variant === '//') path = path.replace('/', '//');
      const headers: Record<string, string> = {};
      const ct = typeFor(b, p.ct, p.fit);
      if (ct !== undefined && b.kind !== 'none') headers['content-type'] = ct;
      if (p.accept !== undefined) headers.accept = p.accept;
      if (p.idem !== undefined) headers['idempotency-key'] = p.idem;
      if (p.host !== undefined) headers.host = p.host;
      const idsKnown = p.ids.every((x) => x.known);
      const right = r.methods.includes(p.method);
      // A valid-shaped body to the right place is likely accepted; other kinds are learnt (see fuzz.test.ts).
      const mayWrite = right && !readOnly(p.method) && idsKnown && b.kind === 'valid' && p.variant !== 'extra';
      const klass = [p.method, idsKnown ? 'ids' : 'hostile-ids', b.kind, b.ops ?? '', p.variant === 'extra' ? 'extra' : ''].join('|');
      return {
        method: p.method,
        path: `/api/${path}${p.query}`,
        headers,
        ...(b.body !== undefined ? { body: b.body } : {}),
        label: `${right ? '' : 'wrong method; '}${idsKnown ? '' : 'hostile id; '}${b.label}${ct === undefined ? '' : ` as ${ct.slice(0, 40)}`}${p.host !== undefined ? `; Host: ${p.host.slice(0, 20)}` : ''}`,
        mayWrite,
        klass,
      };
    });
}

// ---- Directed cases: every known-nasty input on its own ---------------------------------------------------------

const JSON_HEADERS = { 'content-type': 'application/json' };

/** The first valid-shaped body of a route, fixed (seed 1), so a directed case changes one thing only. */
function sampleValid(r: RouteInfo, k: Known): unknown {
  const v = validBody(r, k);
  if (!v) return undefined;
  if (r.name === 'PutMetadata') return { stages: [{ name: 's0', pipelines: [{ name: 'w0_0', pipeline: 'wk_ok' }] }], queues: k.queues.map((name) => ({ name, capacity: 1 })) };
  if (r.name === 'RunPipeline' || r.name === 'EnqueueJob') return { pipeline: 'wk_ok' };
  if (r.name === 'PausePipeline') return { continuation: { pipeline: 'pl_continue' }, data: { order: 1 } };
  if (r.name === 'RestartPipeline') return { token: 'x'.repeat(86), decision: 'approve' };
  return fc.sample(v, { seed: 1, numRuns: 1 })[0];
}

/** Replaces a path of the sample with JSON text (keys in `at` are object keys). */
function withAt(sample: unknown, at: string[], text: string): string {
  const t = tree(sample);
  let node: Tree = t;
  for (let n = 0; n < at.length; n++) {
    const key = at[n]!;
    if (!(node instanceof Entries)) return toJson(t);
    let entry = node.entries.find(([kk]) => kk === key);
    if (!entry) {
      entry = [key, new Entries([])];
      node.entries.push(entry);
    }
    if (n === at.length - 1) entry[1] = new Raw(text);
    node = entry[1];
  }
  return toJson(t);
}

/** Where a route's parameters live in its body. */
function parameterPaths(r: RouteInfo): string[][] {
  if (r.name === 'RunPipeline' || r.name === 'EnqueueJob') return [['parameters']];
  if (r.name === 'PausePipeline') return [['continuation', 'parameters'], ['onReject', 'parameters']];
  return [];
}

/** The known-nasty inputs for one route, each changing one thing of an otherwise fine request. */
export function directed(r: RouteInfo, k: Known): FuzzCase[] {
  const out: FuzzCase[] = [];
  const segs = segmentsOf(r.route);
  const fill = (hostile?: { index: number; text: string }) => {
    let i = 0;
    return segs
      .map((s) => {
        if ('literal' in s) return s.literal;
        const here = i++;
        if (hostile && hostile.index === here) return hostile.text;
        return encodeURIComponent(knownIds(s.param, k)[0] ?? 'x');
      })
      .join('/');
  };
  const params = segs.filter((s) => 'param' in s).length;
  const method = r.methods.find((m) => !readOnly(m)) ?? r.methods[0]!;
  const sample = sampleValid(r, k);
  const validText = sample === undefined ? undefined : toJson(tree(sample));
  const withBody = validText !== undefined && !readOnly(method);
  /** A fine request (the sample body, real ids) with `extra` changed; `body: false` sends none. */
  const base = (label: string, extra: Partial<FuzzCase>, body = true): FuzzCase => {
    const c: FuzzCase = {
      method,
      path: `/api/${fill()}`,
      headers: withBody ? JSON_HEADERS : {},
      ...(withBody ? { body: validText } : {}),
      label,
      klass: `directed|${label}`,
      ...extra,
      // Directed requests are few: any the route might accept gets its rows counted alone.
      mayWrite: extra.mayWrite ?? (r.methods.includes(extra.method ?? method) && !readOnly(extra.method ?? method)),
    };
    if (!body) delete c.body;
    return c;
  };

  // Ids: traversal, separators, NUL, malformed percent-encoding, longer than a table key.
  for (let index = 0; index < params; index++)
    for (const text of HOSTILE_SEGMENTS) out.push(base(`hostile id ${text.length > 30 ? `${text.slice(0, 12)}…(${text.length} chars)` : text}`, { path: `/api/${fill({ index, text })}`, mayWrite: false }));
  // Methods the route does not take.
  for (const m of METHODS.filter((m) => !r.methods.includes(m) && !(m === 'HEAD' && r.methods.includes('GET'))))
    out.push(base(`wrong method ${m}`, { method: m, headers: {} }, false));
  for (const m of r.methods) {
    if (readOnly(m)) {
      out.push(base(`${m} with a JSON body`, { method: m, headers: JSON_HEADERS, body: '{"__proto__":{"polluted":true}}' }));
      continue;
    }
    const whole: Array<[string, string | Buffer, Record<string, string>]> = [
      ['empty body, no content-type', '', {}],
      ['empty body as JSON', '', JSON_HEADERS],
      ['"null"', 'null', JSON_HEADERS],
      ['an array', '[]', JSON_HEADERS],
      ['a string', '"x"', JSON_HEADERS],
      ['truncated JSON', '{"a":', JSON_HEADERS],
      ['5,000 nested arrays', deep(5000, 'array'), JSON_HEADERS],
      ['5,000 nested objects', deep(5000, 'object'), JSON_HEADERS],
      ['100,000 nested arrays', deep(100_000, 'array'), JSON_HEADERS],
      ['1 MiB + 1 byte', `"${'a'.repeat(1024 * 1024 - 1)}"`, JSON_HEADERS],
      ['__proto__ at the top', '{"__proto__":{"polluted":true}}', JSON_HEADERS],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]), JSON_HEADERS],
      ...(validText !== undefined
        ? ([
            ['valid body as text/plain', validText, { 'content-type': 'text/plain' }],
            ['valid body as form', validText, { 'content-type': 'application/x-www-form-urlencoded' }],
            ['valid body as multipart', validText, { 'content-type': 'multipart/form-data; boundary=x' }],
            ['valid body, charset=utf-16', validText, { 'content-type': 'application/json; charset=utf-16' }],
            ['valid body, BOM first', `\ufeff${validText}`, JSON_HEADERS],
            ['valid body, a duplicate key', validText.replace(/^\{/, '{"x":1,"x":2,'), JSON_HEADERS],
            ['valid body, "constructor" added', validText.replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},'), JSON_HEADERS],
          ] as Array<[string, string, Record<string, string>]>)
        : []),
    ];
    for (const [label, body, headers] of whole) out.push(base(label, { method: m, headers, body }));
  }
  // Parameters: deep, huge, and named __proto__ / constructor (a name ADF would get, or a 400).
  if (sample !== undefined)
    for (const at of parameterPaths(r)) {
      const name = at.join('.');
      const fixed = r.name === 'PausePipeline' && at[0] === 'onReject' ? { ...(sample as object), onReject: { pipeline: 'pl_rejected' } } : sample;
      out.push(base(`${name} with a parameter named __proto__`, { body: withAt(fixed, at, '{"__proto__":{"x":1}}'), expect: 'protoParameterRefusedOrCarried' }));
      out.push(base(`${name} with a parameter named __proto__ (a string)`, { body: withAt(fixed, at, '{"ok":1,"__proto__":"x"}'), expect: 'protoParameterRefusedOrCarried' }));
      out.push(base(`${name} with a parameter named constructor`, { body: withAt(fixed, at, '{"constructor":"x"}'), mayWrite: true }));
      out.push(base(`${name} 5,000 levels deep`, { body: withAt(fixed, at, `{"p":${deep(5000, 'array')}}`) }));
      out.push(base(`${name} 5,000 object levels deep`, { body: withAt(fixed, at, `{"p":${deep(5000, 'object')}}`) }));
      out.push(base(`${name} with a 900 kB value`, { body: withAt(fixed, at, `{"p":"${'a'.repeat(900_000)}"}`), mayWrite: true }));
      out.push(base(`${name} with a lone surrogate`, { body: withAt(fixed, at, '{"p":"\\ud800"}'), mayWrite: true }));
      out.push(base(`${name} with U+2028 and U+2029 in a value`, { body: withAt(fixed, at, '{"p":"a\u2028b\u2029c"}'), mayWrite: true, last: true }));
    }
  if (r.name === 'PausePipeline' && sample !== undefined) {
    out.push(base('data 5,000 levels deep', { body: withAt(sample, ['data'], deep(5000, 'array')) }));
    out.push(base('data 5,000 object levels deep', { body: withAt(sample, ['data'], deep(5000, 'object')) }));
    out.push(base('data 100,000 levels deep', { body: withAt(sample, ['data'], deep(100_000, 'mixed')) }));
    out.push(base('data with __proto__ keys', { body: withAt(sample, ['data'], '{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}'), mayWrite: true }));
    out.push(base('data of 900 kB', { body: withAt(sample, ['data'], `"${'é'.repeat(450_000)}"`), mayWrite: true }));
    out.push(base('data with lone surrogates', { body: withAt(sample, ['data'], '{"\\udc00":"\\ud800"}'), mayWrite: true }));
  }
  if (r.name === 'PutMetadata')
    for (const [label, text] of HOSTILE_YAML) out.push(base(`YAML: ${label}`, { headers: { 'content-type': 'application/yaml' }, body: text, mayWrite: label.startsWith('BOM') }));
  if (r.name === 'RunPipeline') {
    out.push(base('idempotency key used once', { body: '{"pipeline":"wk_ok","idempotencyKey":"fuzz-key-1"}', mayWrite: true }));
    out.push(base('idempotency key reused with another body', { body: '{"pipeline":"wk_ok","idempotencyKey":"fuzz-key-1","parameters":{"a":1}}' }));
    out.push(base('Idempotency-Key header of 5,000 chars', { headers: { ...JSON_HEADERS, 'idempotency-key': 'k'.repeat(5000) }, mayWrite: true }));
    out.push(base('idempotency key used once (2)', { body: '{"pipeline":"wk_ok","idempotencyKey":"fuzz-key-2"}', mayWrite: true }));
    out.push(base('idempotency key reused for another factory', { body: '{"pipeline":"wk_ok","factory":"adf-other","idempotencyKey":"fuzz-key-2"}' }));
  }
  if (r.name === 'RestartPipeline') {
    for (const t of ['a%2Fb', '%E0%A4%A', '%00', 'x'.repeat(5000), '..%2F..%2F', encodeURIComponent(k.tokens[0] ?? '') + '%00'])
      out.push(base(`GET ?token=${t.slice(0, 20)}`, { method: 'GET', path: `/api/restart?token=${t}`, headers: {} }, false));
    out.push(base('form with a lone surrogate', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=%ED%A0%80&decision=approve' }));
    out.push(base('form with malformed encoding', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=%E0%A4%A&decision=%' }));
  }
  // A hostile Host header (the local host builds the request URL from it).
  out.push(base('Host header that is not a host', { headers: { ...(validText !== undefined && !readOnly(method) ? JSON_HEADERS : {}), host: '[::1' } }));
  return out;
}
