import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { DataFactoryManagementClient, PipelineRun, RunFilterParameters } from '@azure/arm-datafactory';
import { startFactoryEmulator, type FactoryEmulator } from '../../local/factory-emulator/emulator';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { emulatorClient } from '../support/emulator-client';

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = 'rg-local';

const baseScenario: Scenario = {
  pipelines: {
    wk_ok: { durationMs: 150 },
    wk_bad: { durationMs: 30, outcome: 'Failed', error: { activity: 'Copy data', code: '2200', message: 'Source not found' } },
    wk_flaky: { durationMs: 0, outcomes: ['Failed', 'Succeeded'] },
    wk_manual: { durationMs: null },
    wk_params: { durationMs: 30, parameters: ['a', 'b'] },
  },
  unknownPipelines: 'notFound',
};

let emulator: FactoryEmulator;
let adf: DataFactoryManagementClient;

beforeAll(async () => {
  emulator = await startFactoryEmulator({ port: 0, scenario: baseScenario });
  adf = emulatorClient(emulator, SUB);
});

afterAll(async () => {
  await emulator.close();
});

afterEach(() => {
  emulator.setScenario(baseScenario);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForRun(factory: string, runId: string, until: (run: PipelineRun) => boolean, timeoutMs = 3000): Promise<PipelineRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await adf.pipelineRuns.get(RG, factory, runId);
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status}`);
    await sleep(10);
  }
}

const isTerminal = (run: PipelineRun) => ['Succeeded', 'Failed', 'Cancelled'].includes(run.status ?? '');

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

function raw(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<RawResponse> {
  const text = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${emulator.url}${path}`,
      {
        method,
        ca: emulator.ca,
        headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const s = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: s ? (JSON.parse(s) as unknown) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const factoryPath = (factory: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.DataFactory/factories/${factory}`;

async function rejection(promise: Promise<unknown>): Promise<{ statusCode?: number; code?: string; response?: { headers: { get(n: string): string | undefined } } }> {
  try {
    await promise;
  } catch (err) {
    return err as { statusCode?: number; code?: string };
  }
  throw new Error('expected the call to fail');
}

describe('factory emulator, through the real DataFactoryManagementClient', () => {
  test('when the certificate is inspected, then it covers 127.0.0.1 and localhost', () => {
    const san = new X509Certificate(emulator.ca).subjectAltName ?? '';
    expect(san).toContain('IP Address:127.0.0.1');
    expect(san).toContain('DNS:localhost');
  });

  test('when a run is created, then it goes Queued, InProgress, Succeeded, with parameters echoed as strings', async () => {
    emulator.setScenario({ ...baseScenario, queuedMs: 250 });
    const { runId } = await adf.pipelines.createRun(RG, 'f-life', 'wk_ok', {
      parameters: { a: 'x', n: 5, obj: { k: 1 } },
    });
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);

    const first = await adf.pipelineRuns.get(RG, 'f-life', runId);
    expect(first.status).toBe('Queued');
    expect(first.runGroupId).toBe(runId);
    expect(first.parameters).toEqual({ a: 'x', n: '5', obj: '{"k":1}' });
    expect(first.runEnd).toBeUndefined();

    const inProgress = await waitForRun('f-life', runId, (r) => r.status !== 'Queued');
    expect(inProgress.status).toBe('InProgress');

    const done = await waitForRun('f-life', runId, isTerminal);
    expect(done.status).toBe('Succeeded');
    expect(done.runEnd).toBeInstanceOf(Date);
    expect(done.lastUpdated?.getTime()).toBe(done.runEnd?.getTime());
    expect(done.durationInMs).toBeGreaterThanOrEqual(250 + 150);
    expect(done.isLatest).toBe(true);

    // another factory does not see the run
    const other = await rejection(adf.pipelineRuns.get(RG, 'f-other', runId));
    expect(other.statusCode).toBe(404);
    expect(other.code).toBe('PipelineRunNotFound');
  });

  test('when a pipeline fails, then the run carries the message and its activity runs carry the error', async () => {
    const { runId } = await adf.pipelines.createRun(RG, 'f-bad', 'wk_bad');
    const run = await waitForRun('f-bad', runId, isTerminal);
    expect(run.status).toBe('Failed');
    expect(run.message).toBe('Source not found');

    const activities = await adf.activityRuns.queryByPipelineRun(RG, 'f-bad', runId, {
      lastUpdatedAfter: new Date(Date.now() - 60_000),
      lastUpdatedBefore: new Date(Date.now() + 60_000),
    });
    expect(activities.continuationToken).toBeUndefined();
    expect(activities.value.map((a) => a.status)).toEqual(['Succeeded', 'Failed']);
    const failed = activities.value[1]!;
    expect(failed.activityName).toBe('Copy data');
    expect(failed.pipelineRunId).toBe(runId);
    expect(failed.error).toEqual({ errorCode: '2200', message: 'Source not found', failureType: 'UserError', target: 'Copy data' });
  });

  test('when a pipeline lists outcomes, then successive runs take them in turn and the last repeats', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { runId } = await adf.pipelines.createRun(RG, 'f-flaky', 'wk_flaky');
      statuses.push((await waitForRun('f-flaky', runId, isTerminal)).status ?? '');
    }
    expect(statuses).toEqual(['Failed', 'Succeeded', 'Succeeded']);
  });

  test('when the pipeline is unknown, then createRun and get surface a 404 RestError', async () => {
    const created = await rejection(adf.pipelines.createRun(RG, 'f-404', 'no_such_pipeline'));
    expect(created.statusCode).toBe(404);
    expect(created.code).toBe('PipelineNotFound');
    const got = await rejection(adf.pipelines.get(RG, 'f-404', 'no_such_pipeline'));
    expect(got.statusCode).toBe(404);
    expect(emulator.runs().filter((r) => r.factory === 'f-404')).toHaveLength(0);

    const known = await adf.pipelines.get(RG, 'f-404', 'wk_params');
    expect(known.name).toBe('wk_params');
    expect(Object.keys(known.parameters ?? {})).toEqual(['a', 'b']);
  });

  test('when unknown pipelines succeed, then any name runs to Succeeded', async () => {
    emulator.setScenario({ unknownPipelines: 'succeed' });
    const { runId } = await adf.pipelines.createRun(RG, 'f-any', 'whatever');
    expect((await waitForRun('f-any', runId, isTerminal)).status).toBe('Succeeded');
  });

  test('when a parameter is not declared, then createRun is refused with 400', async () => {
    const err = await rejection(adf.pipelines.createRun(RG, 'f-params', 'wk_params', { parameters: { a: '1', zzz: '2' } }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('BadRequest');
    const ok = await adf.pipelines.createRun(RG, 'f-params', 'wk_params', { parameters: { a: '1', b: '2' } });
    expect(ok.runId).toBeTruthy();
  });

  test('when the bearer token or api-version is missing, then ARM errors come back', async () => {
    const path = `${factoryPath('f-auth')}/pipelines/wk_ok/createRun?api-version=2018-06-01`;
    const noAuth = await raw('POST', path, { body: {} });
    expect(noAuth.status).toBe(401);
    expect(noAuth.body).toMatchObject({ error: { code: 'AuthenticationFailed' } });

    const noVersion = await raw('POST', `${factoryPath('f-auth')}/pipelines/wk_ok/createRun`, {
      headers: { authorization: 'Bearer x' },
      body: {},
    });
    expect(noVersion.status).toBe(400);

    const unknownRoute = await raw('GET', `${factoryPath('f-auth')}/nonsense?api-version=2018-06-01`, {
      headers: { authorization: 'Bearer x' },
    });
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.body).toMatchObject({ error: { code: 'NotFound' } });
    expect(emulator.runs().filter((r) => r.factory === 'f-auth')).toHaveLength(0);
  });

  test('when lastUpdatedAfter is missing, then queryPipelineRuns answers 400', async () => {
    const res = await raw('POST', `${factoryPath('f-query')}/queryPipelineRuns?api-version=2018-06-01`, {
      headers: { authorization: 'Bearer x' },
      body: { lastUpdatedBefore: new Date().toISOString() },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'BadRequest' } });
  });

  test('when 250 runs exist, then queryByFactory pages 100 at a time and honours the lastUpdated window', async () => {
    const factory = 'f-paging';
    const t0 = new Date(Date.now() - 1);
    const createMany = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(25, n - i) }, () => adf.pipelines.createRun(RG, factory, 'wk_manual')),
        );
        ids.push(...batch.map((b) => b.runId));
      }
      return ids;
    };
    const early = await createMany(150);
    await sleep(40); // every early run is InProgress now, and stays so
    const boundary = new Date();
    await sleep(5);
    const late = await createMany(100);
    await sleep(40);
    const end = new Date();

    const all: PipelineRun[] = [];
    let pages = 0;
    let token: string | undefined;
    do {
      const page = await adf.pipelineRuns.queryByFactory(RG, factory, {
        lastUpdatedAfter: t0,
        lastUpdatedBefore: end,
        continuationToken: token,
      });
      pages++;
      all.push(...page.value);
      token = page.continuationToken;
    } while (token);
    expect(pages).toBe(3);
    expect(all).toHaveLength(250);
    expect(new Set(all.map((r) => r.runId))).toEqual(new Set([...early, ...late]));
    const times = all.map((r) => r.lastUpdated!.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(all.every((r) => r.status === 'InProgress')).toBe(true);

    const lateOnly = await adf.pipelineRuns.queryByFactory(RG, factory, { lastUpdatedAfter: boundary, lastUpdatedBefore: end });
    expect(lateOnly.value).toHaveLength(100);
    expect(lateOnly.continuationToken).toBeUndefined(); // exactly one full page: nothing remains
    expect(new Set(lateOnly.value.map((r) => r.runId))).toEqual(new Set(late));

    const one = await adf.pipelineRuns.queryByFactory(RG, factory, {
      lastUpdatedAfter: t0,
      lastUpdatedBefore: end,
      filters: [{ operand: 'RunGroupId', operator: 'Equals', values: [late[7]!] }],
    });
    expect(one.value.map((r) => r.runId)).toEqual([late[7]]);
    const none = await adf.pipelineRuns.queryByFactory(RG, factory, {
      lastUpdatedAfter: t0,
      lastUpdatedBefore: end,
      filters: [{ operand: 'Status', operator: 'In', values: ['Succeeded', 'Failed'] }],
    });
    expect(none.value).toHaveLength(0);
  });

  test('when an in-progress run is cancelled, then it goes Canceling then Cancelled, and a second cancel is a no-op', async () => {
    emulator.setScenario({ ...baseScenario, cancelMs: 200 });
    const { runId } = await adf.pipelines.createRun(RG, 'f-cancel', 'wk_manual');
    await waitForRun('f-cancel', runId, (r) => r.status === 'InProgress');
    await adf.pipelineRuns.cancel(RG, 'f-cancel', runId, { isRecursive: true });
    const canceling = await adf.pipelineRuns.get(RG, 'f-cancel', runId);
    expect(canceling.status).toBe('Canceling');
    const cancelled = await waitForRun('f-cancel', runId, isTerminal);
    expect(cancelled.status).toBe('Cancelled');
    expect(cancelled.runEnd).toBeInstanceOf(Date);
    await adf.pipelineRuns.cancel(RG, 'f-cancel', runId);
    const after = await adf.pipelineRuns.get(RG, 'f-cancel', runId);
    expect(after.status).toBe('Cancelled');
    expect(after.lastUpdated?.getTime()).toBe(cancelled.lastUpdated?.getTime());
  });

  test('when a manual run is finished by hand, then it ends with that status, and only once', async () => {
    const { runId } = await adf.pipelines.createRun(RG, 'f-finish', 'wk_manual');
    const res = await raw('POST', `/_emulator/runs/${runId}/finish`, { body: { status: 'Failed', message: 'boom' } });
    expect(res.status).toBe(200);
    const run = await adf.pipelineRuns.get(RG, 'f-finish', runId);
    expect(run.status).toBe('Failed');
    expect(run.message).toBe('boom');
    const again = await raw('POST', `/_emulator/runs/${runId}/finish`, { body: { status: 'Succeeded' } });
    expect(again.status).toBe(409);
    expect(() => emulator.finish(runId, 'Succeeded')).toThrow();
  });

  test('when a recovery run is created, then the flags are recorded and it joins the original run group', async () => {
    const { runId: first } = await adf.pipelines.createRun(RG, 'f-recover', 'wk_flaky', { parameters: { day: '2024-01-01' } });
    expect((await waitForRun('f-recover', first, isTerminal)).status).toBe('Failed');
    const { runId: rerun } = await adf.pipelines.createRun(RG, 'f-recover', 'wk_flaky', {
      referencePipelineRunId: first,
      isRecovery: true,
      startFromFailure: true,
    });
    const recorded = emulator.runs().find((r) => r.runId === rerun);
    expect(recorded).toMatchObject({
      factory: 'f-recover',
      isRecovery: true,
      referencePipelineRunId: first,
      startFromFailure: true,
      runGroupId: first,
      parameters: { day: '2024-01-01' },
    });
    expect((await adf.pipelineRuns.get(RG, 'f-recover', first)).isLatest).toBe(false);
    const latest = await waitForRun('f-recover', rerun, isTerminal);
    expect(latest.isLatest).toBe(true);
    expect(latest.status).toBe('Succeeded');
  });

  test('when the response is lost, then the run exists but the client sees a 503 with Retry-After', async () => {
    emulator.setScenario({ ...baseScenario, faults: { lostResponseRate: 1, limit: 1, operations: ['createRun'] } });
    const err = await rejection(adf.pipelines.createRun(RG, 'f-lost', 'wk_ok'));
    expect(err.statusCode).toBe(503);
    expect(err.response?.headers.get('retry-after')).toBe('1');
    expect(emulator.runs().filter((r) => r.factory === 'f-lost')).toHaveLength(1);

    const second = await adf.pipelines.createRun(RG, 'f-lost', 'wk_ok'); // the fault budget is spent
    expect(emulator.runs().filter((r) => r.factory === 'f-lost').map((r) => r.runId)).toContain(second.runId);
    expect(emulator.stats().faults).toBe(1);
  });

  test('when a throttling fault is injected, then the request does nothing and answers 429', async () => {
    emulator.setScenario({ ...baseScenario, faults: { rate: 1, statuses: [429], limit: 1, operations: ['createRun'] } });
    const err = await rejection(adf.pipelines.createRun(RG, 'f-throttle', 'wk_ok'));
    expect(err.statusCode).toBe(429);
    expect(emulator.runs().filter((r) => r.factory === 'f-throttle')).toHaveLength(0);
    await adf.pipelines.createRun(RG, 'f-throttle', 'wk_ok');
    expect(emulator.runs().filter((r) => r.factory === 'f-throttle')).toHaveLength(1);
  });

  test('when requests are made, then stats count them by operation and reset to zero', async () => {
    emulator.resetStats();
    const { runId } = await adf.pipelines.createRun(RG, 'f-stats', 'wk_manual');
    await adf.pipelines.createRun(RG, 'f-stats', 'wk_manual');
    await adf.pipelineRuns.get(RG, 'f-stats', runId);
    await adf.pipelineRuns.queryByFactory(RG, 'f-stats', { lastUpdatedAfter: new Date(0), lastUpdatedBefore: new Date() });
    expect(emulator.stats()).toMatchObject({ createRun: 2, getRun: 1, queryPipelineRuns: 1, cancel: 0, queryActivityruns: 0, getPipeline: 0 });
    const viaHttp = await raw('GET', '/_emulator/stats');
    expect(viaHttp.body).toEqual(emulator.stats());
    const reset = await raw('POST', '/_emulator/stats/reset');
    expect(reset.status).toBe(200);
    expect(emulator.stats().createRun).toBe(0);
  });

  test('when a scenario is posted, then it replaces the current one, and a bad one is refused', async () => {
    const bad = await raw('POST', '/_emulator/scenario', { body: { pipelines: { x: { durationMs: 'soon' } } } });
    expect(bad.status).toBe(400);
    const ok = await raw('POST', '/_emulator/scenario', { body: { pipelines: { only_this: { durationMs: 10 } } } });
    expect(ok.status).toBe(200);
    const err = await rejection(adf.pipelines.createRun(RG, 'f-scn', 'wk_ok'));
    expect(err.statusCode).toBe(404);
    const { runId } = await adf.pipelines.createRun(RG, 'f-scn', 'only_this');
    const listed = await raw('GET', '/_emulator/runs');
    expect((listed.body as { runId: string }[]).map((r) => r.runId)).toContain(runId);
  });
});

async function queryAll(factory: string, params: Omit<RunFilterParameters, 'continuationToken'>): Promise<{ runs: PipelineRun[]; pages: number }> {
  const runs: PipelineRun[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await adf.pipelineRuns.queryByFactory(RG, factory, { ...params, ...(token ? { continuationToken: token } : {}) });
    pages++;
    runs.push(...page.value);
    token = page.continuationToken;
  } while (token && pages < 1000);
  return { runs, pages };
}

const wide = () => ({ lastUpdatedAfter: new Date(Date.now() - 3_600_000), lastUpdatedBefore: new Date(Date.now() + 60_000) });

describe('queryPipelineRuns filters: ADF operands only', () => {
  const factory = 'f-filters';
  let manual: string[] = [];
  let done: PipelineRun;

  beforeAll(async () => {
    manual = [];
    for (let i = 0; i < 150; i++) manual.push((await adf.pipelines.createRun(RG, factory, 'wk_manual')).runId);
    await sleep(5); // so that no manual run starts in the same millisecond as the next one
    const { runId } = await adf.pipelines.createRun(RG, factory, 'wk_bad');
    done = await waitForRun(factory, runId, isTerminal);
  });

  test.each(['RunId', 'ActivityName', 'runDimension', ''])('when the operand is %p, then ADF answers 400 with ARM\'s error body', async (operand) => {
    const err = await rejection(adf.pipelineRuns.queryByFactory(RG, factory, {
      ...wide(),
      filters: [{ operand, operator: 'Equals', values: [manual[0]!] }],
    }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('BadRequest');

    const res = await raw('POST', `${factoryPath(factory)}/queryPipelineRuns?api-version=2018-06-01`, {
      headers: { authorization: 'Bearer x' },
      body: { lastUpdatedAfter: wide().lastUpdatedAfter.toISOString(), lastUpdatedBefore: wide().lastUpdatedBefore.toISOString(), filters: [{ operand, operator: 'In', values: ['x'] }] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'BadRequest', message: expect.stringContaining('RunGroupId') } });
  });

  test('when the operator is not one of Equals, NotEquals, In, NotIn, then the query is refused with 400', async () => {
    const err = await rejection(adf.pipelineRuns.queryByFactory(RG, factory, {
      ...wide(),
      filters: [{ operand: 'PipelineName', operator: 'Contains', values: ['wk'] }],
    }));
    expect(err.statusCode).toBe(400);
  });

  test('when RunGroupId In lists 150 runs, then exactly those come back, 100 per page with a continuation token', async () => {
    const wanted = manual.slice(0, 150);
    const { runs, pages } = await queryAll(factory, { ...wide(), filters: [{ operand: 'RunGroupId', operator: 'In', values: wanted }] });
    expect(pages).toBe(2);
    expect(runs.map((r) => r.runId).sort()).toEqual([...wanted].sort());

    const some = manual.slice(10, 13);
    const page = await adf.pipelineRuns.queryByFactory(RG, factory, { ...wide(), filters: [{ operand: 'RunGroupId', operator: 'In', values: some }] });
    expect(page.value.map((r) => r.runId).sort()).toEqual([...some].sort());
    expect(page.continuationToken).toBeUndefined();

    const others = await queryAll(factory, { ...wide(), filters: [{ operand: 'RunGroupId', operator: 'NotIn', values: manual }] });
    expect(others.runs.map((r) => r.runId)).toEqual([done.runId]);
  });

  test('when PipelineName In pages 150 runs, then the pages are disjoint, complete and in lastUpdated order', async () => {
    const { runs, pages } = await queryAll(factory, { ...wide(), filters: [{ operand: 'PipelineName', operator: 'In', values: ['wk_manual', 'no_such'] }] });
    expect(pages).toBe(2);
    expect(runs).toHaveLength(150);
    expect(new Set(runs.map((r) => r.runId))).toEqual(new Set(manual));
    const keys = runs.map((r) => r.lastUpdated!.getTime());
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
  });

  test('when RunStart, RunEnd, TriggerName or TriggerRunTimestamp filter, then times compare as instants', async () => {
    const runStart = done.runStart!.toISOString();
    const runEnd = done.runEnd!.toISOString();
    const ids = async (filters: RunFilterParameters['filters']) =>
      (await queryAll(factory, { ...wide(), filters })).runs.map((r) => r.runId);

    expect(await ids([{ operand: 'RunStart', operator: 'Equals', values: [runStart] }])).toEqual([done.runId]);
    // the same instant written another way still matches
    expect(await ids([{ operand: 'RunEnd', operator: 'In', values: ['2000-01-01T00:00:00Z', runEnd.replace('Z', '+00:00')] }])).toEqual([done.runId]);
    expect(await ids([{ operand: 'RunEnd', operator: 'NotEquals', values: [runEnd] }])).toHaveLength(150); // no runEnd yet: not equal
    expect(await ids([{ operand: 'RunStart', operator: 'NotIn', values: [runStart] }])).toHaveLength(150);
    expect(await ids([{ operand: 'TriggerName', operator: 'Equals', values: ['Manual'] }])).toHaveLength(151);
    expect(await ids([{ operand: 'TriggerName', operator: 'NotEquals', values: ['Manual'] }])).toHaveLength(0);
    expect(await ids([{ operand: 'TriggerRunTimestamp', operator: 'Equals', values: [runStart] }])).toHaveLength(0);
    expect(await ids([
      { operand: 'PipelineName', operator: 'Equals', values: ['wk_bad'] },
      { operand: 'Status', operator: 'In', values: ['Failed'] },
      { operand: 'LatestOnly', operator: 'Equals', values: ['true'] },
    ])).toEqual([done.runId]);

    const bad = await rejection(adf.pipelineRuns.queryByFactory(RG, factory, {
      ...wide(),
      filters: [{ operand: 'RunStart', operator: 'Equals', values: ['yesterday'] }],
    }));
    expect(bad.statusCode).toBe(400);
  });

  test('when the scenario says runGroupIdValues "one", then RunGroupId with several values is refused as ADF was reported to', async () => {
    emulator.setScenario({ ...baseScenario, runGroupIdValues: 'one' });
    const err = await rejection(adf.pipelineRuns.queryByFactory(RG, factory, {
      ...wide(),
      filters: [{ operand: 'RunGroupId', operator: 'In', values: manual.slice(0, 2) }],
    }));
    expect(err.statusCode).toBe(400);
    expect((err as { message?: string }).message).toContain("does not support and array of values");
    const single = await adf.pipelineRuns.queryByFactory(RG, factory, {
      ...wide(),
      filters: [{ operand: 'RunGroupId', operator: 'In', values: manual.slice(0, 1) }],
    });
    expect(single.value.map((r) => r.runId)).toEqual(manual.slice(0, 1));
  });
});

describe('seedRuns: untracked runs made in process', () => {
  const target = { subscriptionId: SUB, resourceGroup: RG, factory: 'f-seed' };

  test('when runs are seeded, then they live like created runs but no ARM request is counted', async () => {
    emulator.resetStats();
    const before = emulator.stats();
    const ids = emulator.seedRuns({ factory: target, pipeline: 'noise_not_in_scenario', count: 50, durationMs: 150, queuedMs: 100 });
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
    expect(emulator.stats()).toEqual(before);

    const seen = emulator.runs().filter((r) => r.factory === 'f-seed');
    expect(seen.map((r) => r.runId)).toEqual(ids);
    expect(seen.every((r) => r.status === 'Queued' && r.pipelineName === 'noise_not_in_scenario' && r.runGroupId === r.runId)).toBe(true);

    emulator.resetStats();
    const inProgress = await waitForRun('f-seed', ids[0]!, (r) => r.status !== 'Queued');
    expect(inProgress.status).toBe('InProgress');
    const finished = await waitForRun('f-seed', ids[49]!, isTerminal);
    expect(finished.status).toBe('Succeeded');
    expect(finished.lastUpdated!.getTime()).toBe(finished.runEnd!.getTime());
    expect(finished.durationInMs).toBeGreaterThanOrEqual(250);

    // the change feed reports them like any run, stamped when each change happened
    const all = await queryAll('f-seed', { ...wide(), filters: [{ operand: 'PipelineName', operator: 'Equals', values: ['noise_not_in_scenario'] }] });
    expect(all.runs).toHaveLength(50);
    expect(all.runs.every((r) => r.status === 'Succeeded' && r.lastUpdated!.getTime() >= r.runStart!.getTime() + 250)).toBe(true);
    expect(emulator.stats().getRun).toBeGreaterThan(0); // the reads above were ARM requests; seeding was not
  });

  test('when seeded with durationMs null, then the runs stay InProgress until finished by hand, with the given outcome otherwise', async () => {
    const [manual] = emulator.seedRuns({ factory: target, pipeline: 'noise_manual', count: 1, durationMs: null });
    const [failing] = emulator.seedRuns({ factory: target, pipeline: 'noise_fail', count: 1, durationMs: 0, outcome: 'Failed' });
    expect((await waitForRun('f-seed', failing!, isTerminal)).status).toBe('Failed');
    await sleep(50);
    expect((await adf.pipelineRuns.get(RG, 'f-seed', manual!)).status).toBe('InProgress');
    emulator.finish(manual!, 'Cancelled');
    expect((await adf.pipelineRuns.get(RG, 'f-seed', manual!)).status).toBe('Cancelled');
    expect(() => emulator.seedRuns({ factory: target, pipeline: 'x', count: -1, durationMs: 0 })).toThrow(RangeError);
  });

  test('when a factory holds 30,000 runs, then filtered pages through its change index stay exact (speed is measured by npm run bench, not here)', async () => {
    const big = { subscriptionId: SUB, resourceGroup: RG, factory: 'f-big' };
    const ours: string[] = [];
    for (let p = 0; p < 5; p++) ours.push(...emulator.seedRuns({ factory: big, pipeline: `tracked_${p}`, count: 2_000, durationMs: null }));
    for (let p = 0; p < 10; p++) emulator.seedRuns({ factory: big, pipeline: `noise_${p}`, count: 2_000, durationMs: 10 });
    await sleep(200); // everything is InProgress, the noise has finished
    const window = wide();
    const query = (filters: RunFilterParameters['filters']) => adf.pipelineRuns.queryByFactory(RG, 'f-big', { ...window, filters });
    await query([]); // the first read sorts what was appended

    for (let i = 0; i < 5; i++) {
      const cases: Array<[RunFilterParameters['filters'], boolean]> = [
        [[{ operand: 'PipelineName', operator: 'In', values: ['tracked_0', 'tracked_3'] }], true],
        [[{ operand: 'RunGroupId', operator: 'In', values: ours.slice(i * 100, i * 100 + 100) }], false],
        [[], true],
      ];
      for (const [filters, more] of cases) {
        const page = await query(filters);
        expect(page.value).toHaveLength(100);
        expect(page.continuationToken !== undefined).toBe(more);
      }
    }

    const one = await queryAll('f-big', { ...window, filters: [{ operand: 'PipelineName', operator: 'Equals', values: ['tracked_2'] }] });
    expect(one.pages).toBe(20);
    expect(new Set(one.runs.map((r) => r.runId))).toEqual(new Set(ours.slice(4_000, 6_000)));
  });
});
