import fc from 'fast-check';
import { ConfigError, loadSettings } from '../../src/config';
import { DomainError, type FieldProblem } from '../../src/core/errors';
import { FACTORY_RE, KEY_RE, NAME_LIMITS, RESOURCE_GROUP_RE } from '../../src/core/names';
import { validateMetadata } from '../../src/core/orchestration/metadata-validate';
import { EnqueueRequest } from '../../src/functions/queues';
import { RunRequest } from '../../src/functions/runs';
import { validate } from '../../src/http/respond';

/** The paths POST /runs (or another body schema) reports for a body; [] when it is accepted. */
function bodyProblems(schema: Parameters<typeof validate>[0], body: unknown): string[] {
  try {
    validate(schema, body);
    return [];
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    return (e.errors ?? []).map((p: FieldProblem) => p.path);
  }
}

/** The problems a metadata document with one worker in factory `f` gets, as paths. */
function metadataProblems(factory: Record<string, unknown>, worker: Record<string, unknown> = {}): string[] {
  const r = validateMetadata({ factories: { f: factory }, stages: [{ name: 's', pipelines: [{ name: 'w', factory: 'f', ...worker }] }] });
  return r.ok ? [] : r.errors.map((p) => p.path);
}

/** Rows of `[name, verdict]` as `{ name, label, ok }`: a long name's title says how long it is instead of spelling it out. */
const cases = (rows: [string, boolean][]) => rows.map(([name, ok]) => ({ name, ok, label: name.length > 20 ? `${name.length} × "${name[0]}"` : JSON.stringify(name) }));
const runsAccepts = (field: string, value: unknown) => !bodyProblems(RunRequest, { pipeline: 'wk', [field]: value }).includes(field);
const metadataAccepts = (field: string, value: unknown) => !metadataProblems({ factory: 'adf-ok', [field]: value }).includes(`factories.f.${field}`);

const settingsProblems = (env: Record<string, string>): string[] => {
  try {
    loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000', ADF_RESOURCE_GROUP: 'rg', ADF_FACTORY_NAME: 'adf', ...env });
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => p.split(':')[0]!);
    throw e;
  }
};

describe('one verdict for a name, wherever it is written', () => {
  it.each(cases([
    ['a--b', false],
    ['-ab', false],
    ['ab-', false],
    ['ab', false],
    ['a-b', true],
    ['adf-prod-01', true],
    ['x'.repeat(63), true],
    ['x'.repeat(64), false],
    ['Äpfel', false],
  ]))('when the factory name is $label, then POST /runs and the metadata both say $ok', ({ name, ok }) => {
    expect([runsAccepts('factory', name), metadataAccepts('factory', name)]).toEqual([ok, ok]);
  });

  it.each(cases([
    ['Äpfel', true],
    ['rg_prod.(eu)-1', true],
    ['日本のリソース', true],
    ['rg.', false],
    ['rg x', false],
    ['', false],
    ['r'.repeat(90), true],
    ['r'.repeat(91), false],
  ]))('when the resource group is $label, then POST /runs and the metadata both say $ok', ({ name, ok }) => {
    expect([runsAccepts('resourceGroup', name), metadataAccepts('resourceGroup', name)]).toEqual([ok, ok]);
  });

  it.each([
    ['00000000-0000-0000-0000-000000000000', true],
    ['ABCDEF01-2345-6789-abcd-ef0123456789', true],
    ['not-a-guid', false],
    ['{00000000-0000-0000-0000-000000000000}', false],
  ])('when the subscription id is %j, then POST /runs, the metadata and the settings all say %s', (id, ok) => {
    expect([runsAccepts('subscriptionId', id), metadataAccepts('subscriptionId', id), !settingsProblems({ ADF_SUBSCRIPTION_ID: id }).includes('ADF_SUBSCRIPTION_ID')]).toEqual([ok, ok, ok]);
  });

  it.each(cases([
    ['pl_copy sales-2024', true],
    ['_private', true],
    ['-dash-first', false],
    ['bad/name', false],
    ['a.b', false],
    ['tab\there', false],
    ['', false],
    ['p'.repeat(140), true],
    ['p'.repeat(141), false],
  ]))('when the pipeline name is $label, then POST /runs and a metadata worker both say $ok', ({ name, ok }) => {
    const metadataOk = !metadataProblems({ factory: 'adf-ok' }, { pipeline: name }).includes('stages[0].pipelines[0].pipeline');
    expect([!bodyProblems(RunRequest, { pipeline: name }).includes('pipeline'), metadataOk]).toEqual([ok, ok]);
  });

  it('when a factory or resource group name is any string, then POST /runs and the metadata agree on it', () => {
    const chars = fc.constantFrom('a', 'Z', '0', '-', '_', '.', '(', ')', ' ', 'Ä', '²', '/');
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 8 }), (s) => {
        expect(runsAccepts('factory', s)).toBe(metadataAccepts('factory', s));
        expect(runsAccepts('resourceGroup', s)).toBe(metadataAccepts('resourceGroup', s));
        expect(runsAccepts('factory', s)).toBe(FACTORY_RE.test(s));
        expect(runsAccepts('resourceGroup', s)).toBe(RESOURCE_GROUP_RE.test(s));
      }),
    );
  });
});

describe('one set of parameter limits', () => {
  const params = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));
  const metadataParameterPaths = (parameters: Record<string, unknown>) =>
    metadataProblems({ factory: 'adf-ok' }, { parameters }).filter((p) => p.startsWith('stages[0].pipelines[0].parameters'));

  it('when a request or a worker has 50 parameters, then both accept them; 51, then both refuse them', () => {
    expect(NAME_LIMITS.maxParameters).toBe(50);
    for (const [n, ok] of [[50, true], [51, false]] as const) {
      expect(bodyProblems(RunRequest, { pipeline: 'wk', parameters: params(n) }).includes('parameters')).toBe(!ok);
      expect(bodyProblems(EnqueueRequest, { pipeline: 'wk', parameters: params(n) }).includes('parameters')).toBe(!ok);
      expect(metadataParameterPaths(params(n)).includes('stages[0].pipelines[0].parameters')).toBe(!ok);
    }
  });

  it('when a parameter name is not an identifier, then both report that parameter, each in its own path style', () => {
    const bad = { ok_1: 1, '1bad': 2, 'a-b': 3 };
    expect(bodyProblems(RunRequest, { pipeline: 'wk', parameters: bad })).toEqual(['parameters.1bad', 'parameters.a-b']);
    expect(metadataParameterPaths(bad)).toEqual(['stages[0].pipelines[0].parameters["1bad"]', 'stages[0].pipelines[0].parameters["a-b"]']);
  });
});

describe('one timeout range and one queue-name rule', () => {
  it.each([
    [1, true],
    [604_800, true],
    [0, false],
    [604_801, false],
    [1.5, false],
  ])('when the timeout is %s seconds, then EnqueueJob and a metadata worker both say %s', (t, ok) => {
    const metadataOk = !metadataProblems({ factory: 'adf-ok' }, { timeoutSeconds: t }).includes('stages[0].pipelines[0].timeoutSeconds');
    expect([!bodyProblems(EnqueueRequest, { pipeline: 'wk', timeoutSeconds: t }).includes('timeoutSeconds'), metadataOk]).toEqual([ok, ok]);
  });

  it('when a queue name has a space or starts with a hyphen, then the metadata refuses it', () => {
    const queueProblems = (name: string) => {
      const r = validateMetadata({ stages: [{ name: 's', pipelines: [{ name: 'w' }] }], queues: [{ name }] });
      return r.ok ? [] : r.errors.map((p) => p.path);
    };
    for (const [name, ok] of [['nightly_loads-1', true], ['has space', false], ['-x', false]] as const) {
      expect(queueProblems(name).includes('queues[0].name')).toBe(!ok);
      expect(KEY_RE.test(name)).toBe(ok);
    }
  });
});
