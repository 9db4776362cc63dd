import { readFileSync } from 'fs';
import { join } from 'path';
import fc from 'fast-check';
import { formatPath, parsePath } from '../../../src/core/field-problems';
import { stagesOfBatch, workerIndex, type Metadata, type MetadataResult } from '../../../src/core/orchestration/metadata';
import { validateMetadata } from '../../../src/core/orchestration/metadata-validate';
import { parseMetadataText } from '../../../src/http/metadata-text';

const examples = join(__dirname, '..', '..', '..', 'examples');
const readExample = (f: string) => readFileSync(join(examples, f), 'utf8');

// ---- builders --------------------------------------------------------------------------

type Raw = Record<string, unknown>;
const aWorker = (name: string, extra: Raw = {}): Raw => ({ name, ...extra });
const aStage = (name: string, pipelines: Raw[], extra: Raw = {}): Raw => ({ name, pipelines, ...extra });
const aDoc = (stages: Raw[], extra: Raw = {}): Raw => ({ stages, ...extra });

function valid(r: MetadataResult): Metadata {
  if (!r.ok) throw new Error(`expected valid metadata, got:\n${r.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  return r.metadata;
}
function problems(r: MetadataResult) {
  if (r.ok) throw new Error('expected problems, got valid metadata');
  return r.errors;
}
const pathsOf = (r: MetadataResult) => problems(r).map((e) => e.path);
const messageAt = (r: MetadataResult, path: string) => problems(r).filter((e) => e.path === path).map((e) => e.message);

// ---- parsing and defaults --------------------------------------------------------------

describe('parseMetadataText', () => {
  test('when the shipped example is parsed, then it is valid and every default is applied', () => {
    const m = valid(parseMetadataText(readExample('conductor.yaml')));

    expect(m.properties).toEqual({
      failureHandling: 'DependencyChain',
      cancelledWorkerBlocks: true,
      unknownWorkerBlocks: true,
      restart: 'resume',
      maxConcurrentWorkers: 20,
      executionRetentionDays: 120,
      defaultWorkerTimeoutSeconds: 86_400,
    });
    expect(m.stages.map((s) => s.name)).toEqual(['extract', 'transform', 'serve', 'housekeeping']);
    expect(m.stages[0]!.pipelines[2]).toEqual({
      name: 'products',
      pipeline: 'pl_extract_products',
      factory: 'default',
      parameters: {},
      enabled: true,
      dependsOn: [],
    });
    expect(m.stages[0]!.pipelines[0]).toMatchObject({ factory: 'finance', timeoutSeconds: 3600, parameters: { region: 'EU', fullLoad: false } });
    expect(m.stages[3]!.enabled).toBe(false);
    expect(m.factories.default).toEqual({ resourceGroup: 'rg-data-platform' });
    expect(m.batches).toEqual([
      { name: 'daily', stages: ['extract', 'transform', 'serve'], enabled: true, parameters: {} },
      { name: 'monthly', stages: ['extract', 'transform', 'serve', 'housekeeping'], enabled: true, parameters: {} },
    ]);
    expect(m.queues).toEqual([
      { name: 'catalog-import', capacity: 1 },
      { name: 'backfill', capacity: 3 },
    ]);
    expect(m.recipients[1]).toEqual({ email: 'finance-analytics@contoso.com', on: ['Succeeded', 'Failed'], batches: ['daily'], workers: ['*'], queues: ['*'] });
  });

  test('when a minimal document is parsed, then properties, names and lists get their defaults', () => {
    const m = valid(parseMetadataText('stages:\n  - name: only\n    pipelines:\n      - name: wk_ok\n'));

    expect(m).toEqual({
      properties: {
        failureHandling: 'Simple',
        cancelledWorkerBlocks: true,
        unknownWorkerBlocks: true,
        restart: 'resume',
        maxConcurrentWorkers: 50,
        executionRetentionDays: 90,
        defaultWorkerTimeoutSeconds: 86_400,
      },
      factories: {},
      stages: [
        {
          name: 'only',
          enabled: true,
          pipelines: [{ name: 'wk_ok', pipeline: 'wk_ok', factory: 'default', parameters: {}, enabled: true, dependsOn: [] }],
        },
      ],
      batches: [],
      queues: [],
      recipients: [],
    });
  });

  test('when the text is JSON, then it parses like YAML', () => {
    const json = JSON.stringify(aDoc([aStage('s1', [aWorker('a')])], { properties: { failureHandling: 'None' } }));

    expect(valid(parseMetadataText(json)).properties.failureHandling).toBe('None');
  });

  test('when a recipient omits on, batches, workers and queues, then it gets failure outcomes for every batch, worker and queue', () => {
    const m = valid(validateMetadata(aDoc([aStage('s', [aWorker('a')])], { recipients: [{ email: 'ops@example.com' }] })));

    expect(m.recipients).toEqual([{ email: 'ops@example.com', on: ['Failed', 'Stopped', 'Cancelled'], batches: ['*'], workers: ['*'], queues: ['*'] }]);
  });

  test('when a recipient narrows by workers and queues that do not exist, then each is a problem with its path, and "*" and known names are fine', () => {
    const doc = aDoc([aStage('s', [aWorker('sales')])], {
      queues: [{ name: 'imports' }],
      recipients: [
        { email: 'a@example.com', on: ['Failed', 'Expired', 'FAILED'], workers: ['sales', 'Sales2'], queues: ['imports', 'exports'] },
        { email: 'b@example.com', on: ['USER_ERROR'], workers: ['*'], queues: ['*'] },
        { email: 'c@example.com', on: ['Late?'] },
      ],
    });
    const r = validateMetadata(doc);
    expect(pathsOf(r).sort()).toEqual(['recipients[0].queues[1]', 'recipients[0].workers[1]', 'recipients[2].on[0]']);
    expect(messageAt(r, 'recipients[0].workers[1]')[0]).toContain('unknown worker "Sales2"');
    expect(messageAt(r, 'recipients[0].queues[1]')[0]).toContain('unknown queue "exports"; use "*" for every queue');
  });

  test('when the YAML has a syntax error, then there is one problem at $ with its line', () => {
    const r = parseMetadataText('stages:\n  - name: a\n    pipelines: [ { name: w }\nbatches: []\n');

    expect(problems(r)).toHaveLength(1);
    expect(problems(r)[0]!.path).toBe('$');
    expect(problems(r)[0]!.message).toMatch(/^YAML syntax error: .*line \d+, column \d+/);
  });

  test('when a mapping repeats a key, then it is a syntax error at $', () => {
    const r = parseMetadataText('stages: []\nstages: []\n');

    expect(problems(r)).toEqual([{ path: '$', message: expect.stringMatching(/unique.*line 2/) }]);
  });

  test('when the text is empty or a scalar, then the document itself is the problem', () => {
    expect(pathsOf(parseMetadataText(''))).toEqual(['$']);
    expect(pathsOf(parseMetadataText('just a string'))).toEqual(['$']);
    expect(pathsOf(validateMetadata([1, 2]))).toEqual(['$']);
  });
});

// ---- schema ----------------------------------------------------------------------------

describe('validateMetadata: schema', () => {
  test('when stages are missing or empty, then stages is reported', () => {
    expect(messageAt(validateMetadata({}), 'stages')).toEqual(['is required']);
    expect(pathsOf(validateMetadata({ stages: [] }))).toEqual(['stages']);
  });

  test('when keys are unknown, then each is reported at its own path with a hint', () => {
    const r = validateMetadata(
      aDoc([aStage('s', [aWorker('a'), aWorker('b', { dependson: ['a'] })])], { version: 2, property: {} }),
    );

    expect(pathsOf(r)).toEqual(['stages[0].pipelines[1].dependson', 'version', 'property']);
    expect(messageAt(r, 'stages[0].pipelines[1].dependson')).toEqual(['unknown key "dependson"; did you mean "dependsOn"?']);
    expect(messageAt(r, 'property')[0]).toContain('did you mean "properties"?');
  });

  test('when property values are out of range or unknown, then each property is reported', () => {
    const r = validateMetadata(
      aDoc([aStage('s', [aWorker('a')])], {
        properties: {
          failureHandling: 'Strict',
          cancelledWorkerBlocks: 'yes',
          restart: 'always',
          maxConcurrentWorkers: 1001,
          executionRetentionDays: 1.5,
        },
      }),
    );

    expect(pathsOf(r)).toEqual([
      'properties.failureHandling',
      'properties.cancelledWorkerBlocks',
      'properties.restart',
      'properties.maxConcurrentWorkers',
      'properties.executionRetentionDays',
    ]);
    expect(messageAt(r, 'properties.failureHandling')).toEqual(['must be one of: None, Simple, DependencyChain']);
    expect(messageAt(r, 'properties.maxConcurrentWorkers')).toEqual(['must be an integer from 1 to 1000']);
  });

  test('when names break the naming rules, then each name is reported', () => {
    const r = validateMetadata(
      aDoc([
        aStage('-bad', [
          aWorker('ok', { pipeline: 'pl.with.dots' }),
          aWorker('x'.repeat(141)),
          aWorker('trailing '),
          aWorker('has space', { pipeline: 'pl has space' }),
        ]),
      ], { queues: [{ name: 'no spaces please' }] }),
    );

    expect(pathsOf(r)).toEqual([
      'stages[0].name',
      'stages[0].pipelines[0].pipeline',
      'stages[0].pipelines[1].name',
      'stages[0].pipelines[2].name',
      'queues[0].name',
    ]);
  });

  test('when factories break Azure naming rules, then each field is reported and a partial default is fine', () => {
    const r = validateMetadata(
      aDoc([aStage('s', [aWorker('a', { factory: 'finance' })])], {
        factories: {
          default: { resourceGroup: 'rg-ok' },
          finance: { subscriptionId: 'abc', resourceGroup: 'ends.with.dot.', factory: 'a--b', tenantId: 'x' },
          hr: { resourceGroup: 'rg-hr' },
          'bad key': { factory: 'adf-ok' },
        },
      }),
    );

    expect(pathsOf(r)).toEqual([
      'factories.finance.subscriptionId',
      'factories.finance.resourceGroup',
      'factories.finance.factory',
      'factories.finance.tenantId',
      'factories.hr.factory',
      'factories["bad key"]',
    ]);
  });

  test('when factories are valid, then guids, names and tenants pass through', () => {
    const m = valid(
      validateMetadata(
        aDoc([aStage('s', [aWorker('a', { factory: 'fin' })])], {
          factories: {
            fin: {
              subscriptionId: '6F1C2D3E-4A5B-4C6D-8E7F-9A0B1C2D3E4F',
              resourceGroup: 'rg_(prod).eu-1',
              factory: 'adf-fin-01',
              tenantId: '0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e',
            },
          },
        }),
      ),
    );

    expect(m.factories.fin!.factory).toBe('adf-fin-01');
  });

  test('when queues, timeouts and recipients break their limits, then each is reported', () => {
    const r = validateMetadata(
      aDoc([aStage('s', [aWorker('a', { timeoutSeconds: 604801 }), aWorker('b', { timeoutSeconds: 604800 })])], {
        queues: [{ name: 'q', capacity: 0 }, { name: 'r', capacity: 51 }, { name: 't', capacity: 50 }],
        recipients: [{ email: 'not-an-email', on: ['Exploded'] }, { email: 'ok@example.com', on: [] }],
      }),
    );

    expect(pathsOf(r)).toEqual([
      'stages[0].pipelines[0].timeoutSeconds',
      'queues[0].capacity',
      'queues[1].capacity',
      'recipients[0].email',
      'recipients[0].on[0]',
      'recipients[1].on',
    ]);
  });
});

// ---- parameters ------------------------------------------------------------------------

describe('validateMetadata: ADF parameter limits', () => {
  const params = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));

  test('when a worker has 51 parameters, then its parameters are reported; 50 are fine', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { parameters: params(51) }), aWorker('b', { parameters: params(50) })])]));

    expect(problems(r)).toEqual([
      { path: 'stages[0].pipelines[0].parameters', message: expect.stringContaining('at most 50') },
    ]);
  });

  test('when the parameters exceed 30,000 bytes of JSON, then the payload limit is reported', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { parameters: { big: 'é'.repeat(15_000) } })])]));

    expect(problems(r)).toEqual([
      { path: 'stages[0].pipelines[0].parameters', message: expect.stringMatching(/bytes.*30000/) },
    ]);
  });

  test('when a parameter name is not an identifier, then that parameter is reported', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { parameters: { ok_1: 1, '1bad': 2, 'with-dash': 3 } })])]));

    expect(pathsOf(r)).toEqual(['stages[0].pipelines[0].parameters["1bad"]', 'stages[0].pipelines[0].parameters["with-dash"]']);
  });

  test('when parameters is not a mapping, then it is reported as such', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { parameters: ['x'] })])]));

    expect(problems(r)).toEqual([{ path: 'stages[0].pipelines[0].parameters', message: 'must be a mapping (object), not a list' }]);
  });
});

// ---- integrity -------------------------------------------------------------------------

describe('validateMetadata: integrity', () => {
  test('when a document has many distinct integrity problems, then all are returned with exact paths', () => {
    const r = validateMetadata({
      factories: { finance: { factory: 'adf-finance' } },
      stages: [
        aStage('extract', [aWorker('sales', { factory: 'marketing' }), aWorker('customers', { dependsOn: ['sales'] })]),
        aStage('transform', [aWorker('sales'), aWorker('model', { dependsOn: ['model', 'orders'] })]),
        aStage('extract', [aWorker('late')]),
      ],
      batches: [
        { name: 'nightly', stages: ['extract', 'load'] },
        { name: 'nightly', stages: ['transform'] },
      ],
      queues: [{ name: 'imports' }, { name: 'imports' }],
      recipients: [{ email: 'ops@example.com', batches: ['weekly', '*'] }],
    });

    expect(problems(r).map((e) => e.path)).toEqual([
      'stages[0].pipelines[0].factory', // unknown factory
      'stages[0].pipelines[1].dependsOn[0]', // predecessor in the same stage
      'stages[1].pipelines[0].name', // duplicate worker across stages
      'stages[1].pipelines[1].dependsOn[0]', // depends on itself
      'stages[1].pipelines[1].dependsOn[1]', // unknown worker
      'stages[2].name', // duplicate stage
      'batches[0].stages[1]', // unknown stage
      'batches[1].name', // duplicate batch
      'queues[1].name', // duplicate queue
      'recipients[0].batches[0]', // unknown batch
    ]);
    expect(messageAt(r, 'stages[1].pipelines[1].dependsOn[0]')).toEqual(['worker "model" depends on itself']);
    expect(messageAt(r, 'stages[1].pipelines[1].dependsOn[1]')).toEqual(['unknown worker "orders"']);
    expect(messageAt(r, 'stages[1].pipelines[0].name')[0]).toMatch(/duplicate worker name "sales".*stages\[0\]\.pipelines\[0\]\.name/);
  });

  test('when the shipped invalid example is validated, then every planted problem is reported', () => {
    expect(pathsOf(parseMetadataText(readExample('invalid.yaml')))).toEqual([
      'properties.failureHandling',
      'properties.maxConcurrentWorkers',
      'factories.finance.subscriptionId',
      'stages[0].pipelines[0].factory',
      'stages[0].pipelines[1].dependsOn[0]',
      'stages[1].pipelines[0].name',
      'stages[1].pipelines[1].dependsOn[0]',
      'stages[1].pipelines[1].dependsOn[1]',
      'stages[1].pipelines[1].timeoutSeconds',
      'batches[0].stages[1]',
      'queues[0].capacity',
      'recipients[0].email',
      'recipients[0].batches[0]',
    ]);
    expect(problems(parseMetadataText(readExample('invalid.yaml'))).length).toBeGreaterThanOrEqual(6);
  });

  test('when schema and integrity problems coexist, then both kinds are reported together', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { enabled: 'no', dependsOn: ['ghost'] })])]));

    expect(pathsOf(r)).toEqual(['stages[0].pipelines[0].enabled', 'stages[0].pipelines[0].dependsOn[0]']);
  });

  test('when names differ only in case, then they count as duplicates and references hint at the spelling', () => {
    const r = validateMetadata(aDoc([aStage('s1', [aWorker('Sales')]), aStage('s2', [aWorker('sales'), aWorker('m', { dependsOn: ['SALES'] })])]));

    expect(pathsOf(r)).toEqual(['stages[1].pipelines[0].name', 'stages[1].pipelines[1].dependsOn[0]']);
    expect(messageAt(r, 'stages[1].pipelines[1].dependsOn[0]')).toEqual(['unknown worker "SALES"; did you mean "Sales"?']);
  });

  test('when a dependsOn or batch lists a name twice, then the repeat is reported', () => {
    const r = validateMetadata({
      stages: [aStage('s1', [aWorker('a')]), aStage('s2', [aWorker('b', { dependsOn: ['a', 'a'] })])],
      batches: [{ name: 'all', stages: ['s1', 's1', 's2'] }],
    });

    expect(pathsOf(r)).toEqual(['stages[1].pipelines[0].dependsOn[1]', 'batches[0].stages[1]']);
  });
});

describe('validateMetadata: cycles', () => {
  test('when workers form a cycle, then it is reported once at a participating dependsOn', () => {
    const r = validateMetadata(
      aDoc([
        aStage('s1', [aWorker('a', { dependsOn: ['c'] })]),
        aStage('s2', [aWorker('b', { dependsOn: ['a'] })]),
        aStage('s3', [aWorker('c', { dependsOn: ['b'] })]),
      ]),
    );

    const cycles = problems(r).filter((e) => e.message.startsWith('dependency cycle'));
    expect(cycles).toEqual([{ path: 'stages[1].pipelines[0].dependsOn[0]', message: 'dependency cycle: a → c → b → a' }]);
    // The edge that points backwards also breaks the stage-order rule, and says so separately.
    expect(messageAt(r, 'stages[0].pipelines[0].dependsOn[0]')[0]).toContain('strictly later stage');
  });

  test('when there are two separate cycles, then each is reported exactly once', () => {
    const r = validateMetadata(
      aDoc([
        aStage('s1', [
          aWorker('a', { dependsOn: ['b'] }),
          aWorker('b', { dependsOn: ['a'] }),
          aWorker('x', { dependsOn: ['y'] }),
          aWorker('y', { dependsOn: ['z'] }),
          aWorker('z', { dependsOn: ['x'] }),
          aWorker('free'),
        ]),
      ]),
    );

    const cycles = problems(r).filter((e) => e.message.startsWith('dependency cycle'));
    expect(cycles.map((c) => c.message)).toEqual(['dependency cycle: a → b → a', 'dependency cycle: x → y → z → x']);
    expect(cycles.map((c) => c.path)).toEqual(['stages[0].pipelines[1].dependsOn[0]', 'stages[0].pipelines[4].dependsOn[0]']);
  });
});

describe('validateMetadata: stage order', () => {
  test('when a dependant sits in the same stage as its predecessor, then the dependsOn is reported', () => {
    const r = validateMetadata(aDoc([aStage('s1', [aWorker('a'), aWorker('b', { dependsOn: ['a'] })])]));

    expect(problems(r)).toEqual([
      { path: 'stages[0].pipelines[1].dependsOn[0]', message: expect.stringContaining('strictly later stage') },
    ]);
  });

  test('when a dependant sits in an earlier stage than its predecessor, then the dependsOn is reported', () => {
    const r = validateMetadata(aDoc([aStage('s1', [aWorker('b', { dependsOn: ['x', 'a'] }), aWorker('x')]), aStage('s2', [aWorker('a')])]));

    expect(pathsOf(r)).toEqual(['stages[0].pipelines[0].dependsOn[0]', 'stages[0].pipelines[0].dependsOn[1]']);
  });

  test('when every predecessor is in an earlier stage, then the document is valid', () => {
    valid(validateMetadata(aDoc([aStage('s1', [aWorker('a')]), aStage('s2', [aWorker('b')]), aStage('s3', [aWorker('c', { dependsOn: ['a', 'b'] })])])));
  });

  test('when random forward-only dependencies are generated, then they are valid, and one backward edge is caught', () => {
    const docArb = fc
      .array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 6 })
      .chain((sizes) => {
        const names = sizes.map((n, s) => Array.from({ length: n }, (_, k) => `w${s}_${k}`));
        const stageDeps = names.map((ws, s) =>
          ws.map(() => fc.subarray(names.slice(0, s).flat(), { minLength: 0, maxLength: Math.min(3, names.slice(0, s).flat().length) })),
        );
        return fc.tuple(fc.constant(names), fc.tuple(...stageDeps.map((d) => fc.tuple(...d))));
      });
    fc.assert(
      fc.property(docArb, ([names, deps]) => {
        const stages = names.map((ws, s) =>
          aStage(`s${s}`, ws.map((w, k) => aWorker(w, { dependsOn: (deps[s] as string[][])[k] }))),
        );
        expect(validateMetadata({ stages }).ok).toBe(true);

        const first = (stages[0]!.pipelines as Raw[])[0]!;
        const lastName = names[names.length - 1]![0]!;
        first.dependsOn = [lastName];
        const r = validateMetadata({ stages });
        expect(pathsOf(r)).toContain('stages[0].pipelines[0].dependsOn[0]');
      }),
      { numRuns: 60 },
    );
  });
});

describe('validateMetadata: disabled stages and workers', () => {
  test('when a predecessor is disabled, then depending on it is allowed', () => {
    const m = valid(validateMetadata(aDoc([aStage('s1', [aWorker('a', { enabled: false }), aWorker('x')]), aStage('s2', [aWorker('b', { dependsOn: ['a'] })])])));

    expect(m.stages[0]!.pipelines[0]!.enabled).toBe(false);
  });

  test('when a predecessor sits in a disabled stage, then depending on it is allowed', () => {
    valid(validateMetadata(aDoc([aStage('s1', [aWorker('a')], { enabled: false }), aStage('s2', [aWorker('b', { dependsOn: ['a'] })])])));
  });

  test('when a batch has no enabled stage with an enabled pipeline, then the batch is reported', () => {
    const r = validateMetadata({
      stages: [aStage('off', [aWorker('a')], { enabled: false }), aStage('idle', [aWorker('b', { enabled: false })]), aStage('on', [aWorker('c')])],
      batches: [
        { name: 'dead', stages: ['off', 'idle'] },
        { name: 'live', stages: ['off', 'on'] },
      ],
    });

    expect(problems(r)).toEqual([{ path: 'batches[0].stages', message: 'batch "dead" has no enabled stage with an enabled pipeline' }]);
  });

  test('when nothing at all is enabled, then stages is reported', () => {
    const r = validateMetadata(aDoc([aStage('s', [aWorker('a', { enabled: false })])]));

    expect(pathsOf(r)).toEqual(['stages']);
  });
});

// ---- helpers ---------------------------------------------------------------------------

describe('workerIndex and stagesOfBatch', () => {
  const m = valid(parseMetadataText(readExample('conductor.yaml')));

  test('when indexing workers, then only runnable workers are listed with their stage index', () => {
    const index = workerIndex(m);

    expect(index.get('sales_model')).toMatchObject({ stageIndex: 1, stage: { name: 'transform' }, worker: { pipeline: 'pl_transform_sales' } });
    expect(index.has('web_logs')).toBe(false); // disabled worker
    expect(index.has('purge_staging')).toBe(false); // disabled stage
    expect(workerIndex(m, { includeDisabled: true }).get('purge_staging')?.stageIndex).toBe(3);
  });

  test('when asking for a batch, then its stages come in metadata order; no batch means all; unknown is undefined', () => {
    const reordered: Metadata = { ...m, batches: [{ name: 'rev', stages: ['serve', 'extract'], enabled: true, parameters: {} }] };

    expect(stagesOfBatch(reordered, 'rev')!.map((s) => s.name)).toEqual(['extract', 'serve']);
    expect(stagesOfBatch(m)!.map((s) => s.name)).toEqual(['extract', 'transform', 'serve', 'housekeeping']);
    expect(stagesOfBatch(m, 'nope')).toBeUndefined();
  });

  test('when formatting and parsing paths, then they round-trip', () => {
    const segs = ['factories', 'bad key', 'stages', 1, 'pipelines', 0, 'dependsOn', 0];
    expect(formatPath(segs)).toBe('factories["bad key"].stages[1].pipelines[0].dependsOn[0]');
    expect(parsePath(formatPath(segs))).toEqual(segs);
    expect(formatPath([])).toBe('$');
  });
});
