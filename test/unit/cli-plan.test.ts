import { readFileSync } from 'fs';
import { join } from 'path';
import { main } from '../../bin/adf-conductor';
import { planExecution } from '../../src/core/orchestration/plan';
import { parseMetadataText } from '../../src/http/metadata-text';
import { toPlanView } from '../../src/http/views/plan';
import { parseParams } from '../../src/cli/plan';
import { fakeCliIo } from '../support/fake-cli-io';

/**
 * `adf-conductor plan` in memory: files, a fixed clock and an environment, and no network at all (any fetch
 * fails the test), since the plan is worked out offline.
 */

const NOW = Date.parse('2026-03-01T06:00:00.000Z');

const fakeIo = (files: Record<string, string>, env: Record<string, string> = {}) =>
  fakeCliIo(files, { fetch: () => Promise.reject(new Error('plan must not touch the network')), now: () => NOW, isTTY: false, env });

const DAILY = `properties:
  defaultWorkerTimeoutSeconds: 7200
factories:
  finance:
    subscriptionId: 6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f
    resourceGroup: rg-finance
    factory: adf-finance
stages:
  - name: extract
    maxConcurrentWorkers: 2
    warnAfterSeconds: 600
    pipelines:
      - name: sales
        pipeline: pl_sales
        factory: finance
        queue: crm
        parameters: { load: "\${execution.id}", region: "\${execution.parameters.region}", me: "\${worker.name}", day: "\${execution.parameters.day}", at: "\${execution.startedAt}" }
        retry: { count: 2, intervalSeconds: 60, fromFailure: true }
        timeoutSeconds: 3600
      - name: customers
        pipeline: pl_customers
        queue: crm
      - name: web_logs
        pipeline: pl_web_logs
        enabled: false
  - name: load
    pipelines:
      - name: sales_model
        pipeline: pl_model
        dependsOn: [sales, web_logs]
        warnAfterSeconds: 900
  - name: archive
    enabled: false
    pipelines:
      - name: purge
        pipeline: pl_purge
  - name: adhoc
    pipelines:
      - name: ping
        pipeline: pl_ping
batches:
  - name: daily
    stages: [extract, load, archive]
    parameters: { region: US, day: 1 }
  - name: bare
    stages: [load]
queues:
  - name: crm
    capacity: 1
`;

const FACTORY_ENV = { ADF_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555', ADF_RESOURCE_GROUP: 'rg-app', ADF_FACTORY_NAME: 'adf-app' };
const files = { 'daily.yaml': DAILY };

describe('adf-conductor plan: the text plan', () => {
  test('when a batch is planned with a --param, then it prints stages, workers with resolved parameters and factories, the skipped, and the shared limits', async () => {
    const { io, out, err } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily', '--param', 'region=EU'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out).toEqual([
      'plan of batch daily from daily.yaml: 2 stages, 3 workers; execution parameters {"region":"EU","day":1}',
      'stage 1 extract (at most 2 at a time, warn after 600 s)',
      '  sales: pl_sales @ adf-finance (rg-finance)',
      '    parameters {"load":"(dry run)","region":"EU","me":"sales","day":1,"at":"2026-03-01T06:00:00.000Z"}',
      '    no dependencies · queue crm (capacity 1) · retry 2 times after 60 s from the failed activity · timeout 3600 s',
      '  customers: pl_customers @ <ADF_FACTORY_NAME> (<ADF_RESOURCE_GROUP>)',
      '    parameters none',
      '    no dependencies · queue crm (capacity 1) · timeout 7200 s',
      'stage 2 load',
      '  sales_model: pl_model @ <ADF_FACTORY_NAME> (<ADF_RESOURCE_GROUP>)',
      '    parameters none',
      '    after sales · waived web_logs (not in this execution) · timeout 7200 s · warn after 900 s',
      'skipped:',
      '  web_logs (stage extract): the worker is disabled',
      "  purge (stage archive): stage 'archive' is disabled",
      'shared limits:',
      '  queue crm (capacity 1): sales, customers',
    ]);
  });

  test('when the app settings name the default factory in the environment, then the default workers run there', async () => {
    const { io, out } = fakeIo(files, FACTORY_ENV);

    expect(await main(['plan', 'daily.yaml', '--batch', 'bare'], io)).toBe(0);
    expect(out).toEqual([
      'plan of batch bare from daily.yaml: 1 stage, 1 worker; execution parameters none',
      'stage 1 load',
      '  sales_model: pl_model @ adf-app (rg-app)',
      '    parameters none',
      '    no dependencies · waived sales, web_logs (not in this execution) · timeout 7200 s · warn after 900 s',
    ]);
  });

  test('when --batch is omitted, then every stage is planned, as the API does without a batch', async () => {
    const { io, out } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--param', 'region=EU', '--param', 'day=2'], io)).toBe(0);
    expect(out[0]).toBe('plan of all stages (no batch) from daily.yaml: 3 stages, 4 workers; execution parameters {"region":"EU","day":2}');
    expect(out).toContain('stage 3 adhoc');
  });

  test('when --stage and --pipeline are repeated, then only the selected workers run and the rest are skipped with the reason', async () => {
    const { io, out } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily', '--stage', 'extract', '--stage', 'load', '--pipeline', 'customers', '--pipeline', 'sales_model'], io)).toBe(0);
    expect(out[0]).toBe('plan of batch daily from daily.yaml: 2 stages, 2 workers; execution parameters {"region":"US","day":1}');
    expect(out).toContain('  sales (stage extract): it is not selected');
    expect(out).toContain('    no dependencies · waived sales, web_logs (not in this execution) · timeout 7200 s · warn after 900 s');
    expect(out).toContain('  queue crm (capacity 1): customers');
  });
});

describe('adf-conductor plan --json', () => {
  test('when --json is given, then it prints exactly toPlanView of planExecution with the dry run context, 2-space indented', async () => {
    const { io, out, err } = fakeIo(files, FACTORY_ENV);

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily', '--param', 'region="EU"', '--json'], io)).toBe(0);
    expect(err).toEqual([]);
    const parsed = parseMetadataText(DAILY);
    if (!parsed.ok) throw new Error('the test metadata must be valid');
    const plan = planExecution(parsed.metadata, { batch: 'daily', parameters: { region: 'EU' } }, {
      executionId: '(dry run)',
      startedAt: new Date(NOW).toISOString(),
      defaultFactory: { subscriptionId: FACTORY_ENV.ADF_SUBSCRIPTION_ID, resourceGroup: FACTORY_ENV.ADF_RESOURCE_GROUP, factory: FACTORY_ENV.ADF_FACTORY_NAME },
    });
    if (!plan) throw new Error('batch daily must exist');
    expect(out.join('\n')).toBe(JSON.stringify(toPlanView(plan), null, 2));
    expect(out.join('\n')).toContain('"load": "(dry run)"');
  });

  test('when the factory settings are blank, then the placeholders stand in for them', async () => {
    const { io, out } = fakeIo(files, { ADF_SUBSCRIPTION_ID: ' ', ADF_RESOURCE_GROUP: '', ADF_FACTORY_NAME: 'adf-app' });

    expect(await main(['plan', 'daily.yaml', '--batch', 'bare', '--json'], io)).toBe(0);
    const view = JSON.parse(out.join('\n')) as { stages: Array<{ workers: Array<Record<string, unknown>> }> };
    expect(view.stages[0]?.workers[0]).toMatchObject({ subscriptionId: '<ADF_SUBSCRIPTION_ID>', resourceGroup: '<ADF_RESOURCE_GROUP>', factory: 'adf-app' });
  });
});

describe('adf-conductor plan: --param values', () => {
  test('when a value parses as JSON, then it is that value; otherwise it is the string as typed; a later one wins', () => {
    expect(parseParams(['n=5', 'b=true', 'o={"a":[1]}', 'q="5"', 's=EU', 'e=', 'eq=a=b', 'n=6', 'nul=null'])).toEqual({
      n: 6,
      b: true,
      o: { a: [1] },
      q: '5',
      s: 'EU',
      e: '',
      eq: 'a=b',
      nul: null,
    });
  });

  test('when a --param has no "=" or a bad name, then it is a usage error (2) that never repeats the value, and the file is not read', async () => {
    const { io, out, err } = fakeIo({});

    expect(await main(['plan', 'daily.yaml', '--param', 'region=EU', '--param', 's3cr3t'], io)).toBe(2);
    expect(err).toEqual(['✖ adf-conductor plan: --param #2 has no "=": write --param name=value, e.g. --param region=EU']);
    expect(out).toEqual([]);

    const bad = fakeIo({});
    expect(await main(['plan', 'daily.yaml', '--param', 'my-region=s3cr3t'], bad.io)).toBe(2);
    expect(bad.err[0]).toMatch(/^✖ adf-conductor plan: --param "my-region": parameter name must start with a letter/);
    expect(bad.err.join('\n')).not.toContain('s3cr3t');

    const many = fakeIo(files);
    expect(await main(['plan', 'daily.yaml', ...Array.from({ length: 51 }, (_, i) => ['--param', `p${i}=1`]).flat()], many.io)).toBe(2);
    expect(many.err).toEqual(["✖ adf-conductor plan: 51 execution parameters; at most 50 (ADF's limit per pipeline)"]);
  });
});

describe('adf-conductor plan: refusals', () => {
  test('when an execution parameter is missing, then the problem names parameters.<name> and it returns 1', async () => {
    const noRegion = DAILY.replace('parameters: { region: US, day: 1 }', 'parameters: { day: 1 }');
    const { io, out, err } = fakeIo({ 'daily.yaml': noRegion });

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily'], io)).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([
      '✖ ValidationFailed: Execution parameters are missing.',
      "  parameters.region: is used by a worker (${execution.parameters.region}) but set neither in the parameters of batch 'daily' nor in the execution's parameters",
    ]);
  });

  test('when the batch is unknown, then it says so and returns 1', async () => {
    const { io, out, err } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--batch', 'weekly'], io)).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual(["✖ no batch 'weekly' in daily.yaml"]);
  });

  test('when the filter names unknown stages or pipelines, then every one is listed with its path and it returns 1', async () => {
    const { io, err } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily', '--stage', 'adhoc', '--pipeline', 'sales', '--pipeline', 'nope'], io)).toBe(1);
    expect(err).toEqual([
      '✖ ValidationFailed: The execution filter names unknown stages or pipelines.',
      "  stages[0]: no stage 'adhoc' in batch 'daily'",
      "  pipelines[1]: no pipeline 'nope' in batch 'daily'",
    ]);
  });

  test('when the filter selects only disabled workers, then NothingSelected and 1', async () => {
    const { io, err } = fakeIo(files);

    expect(await main(['plan', 'daily.yaml', '--batch', 'daily', '--pipeline', 'web_logs', '--param', 'region=EU'], io)).toBe(1);
    expect(err).toEqual(['✖ NothingSelected: The request selects no enabled pipeline to run.']);
  });

  test('when the metadata is invalid, then its problems are listed as validate lists them and it returns 1', async () => {
    const invalid = readFileSync(join(__dirname, '..', '..', 'examples', 'invalid.yaml'), 'utf8');
    const expected = parseMetadataText(invalid);
    if (expected.ok) throw new Error('the invalid example must be invalid');
    const { io, out, err } = fakeIo({ 'bad.yaml': invalid });

    expect(await main(['plan', 'bad.yaml', '--batch', 'daily'], io)).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([`✖ bad.yaml: ${expected.errors.length} problems`, ...expected.errors.map((e) => `  ${e.path}: ${e.message}`)]);
  });

  test('when the file cannot be read or --batch has no value, then it is a usage error (2)', async () => {
    const missing = fakeIo({});
    expect(await main(['plan', 'nowhere.yaml', '--batch', 'daily'], missing.io)).toBe(2);
    expect(missing.err).toEqual(['✖ cannot read nowhere.yaml: no such file']);

    const noValue = fakeIo(files);
    expect(await main(['plan', 'daily.yaml', '--batch'], noValue.io)).toBe(2);
    expect(noValue.err[0]).toBe("adf-conductor plan: option '--batch <name>' argument missing");
    expect(noValue.out).toEqual([]);

    const noFile = fakeIo(files);
    expect(await main(['plan'], noFile.io)).toBe(2);
    expect(noFile.err[0]).toBe('adf-conductor plan: missing <file>');
  });
});
