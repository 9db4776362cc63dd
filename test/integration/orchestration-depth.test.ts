/**
 * Orchestration depth (issue 13): parameters from the execution, retries, SLA warnings, the default worker
 * timeout, stage caps, dry runs and their validation. Real parts: Azurite (behind a recording proxy, to see
 * every write), the factory emulator over HTTPS, the host over HTTP, the file outbox.
 */
import { readOutbox } from '../../src/adapters/outbox-mailer';
import { startRecordingProxy, type RecordingProxy } from '../support/recording-proxy';
import { storageConnection } from '../support/storage';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

const md = `
properties: { failureHandling: DependencyChain, restart: new }
stages:
  - name: extract
    maxConcurrentWorkers: 1
    pipelines:
      - name: load
        pipeline: wk_ok
        parameters: { load: "\${execution.id}", region: "\${execution.parameters.region}", who: "\${stage.name}/\${worker.name}", literal: "$\${not.a.placeholder}", batch: "\${execution.batch}" }
      - { name: second, pipeline: wk_ok }
      - { name: off, pipeline: wk_ok, enabled: false }
  - name: retried
    pipelines:
      - { name: flaky, pipeline: wk_flaky_a, retry: { count: 1 } }
      - { name: fragile, pipeline: wk_flaky_b, retry: { count: 0 } }
  - name: after
    pipelines:
      - { name: after_flaky, pipeline: wk_ok, dependsOn: [flaky] }
      - { name: after_fragile, pipeline: wk_ok, dependsOn: [fragile] }
  - name: slow
    pipelines:
      - { name: hanging, pipeline: wk_manual, warnAfterSeconds: 1 }
      - { name: forever, pipeline: wk_manual, timeoutSeconds: 2 }
  - name: crm_a
    pipelines:
      - { name: a1, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
      - { name: a2, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
      - { name: a3, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
  - name: crm_b
    pipelines:
      - { name: b1, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
      - { name: b2, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
      - { name: b3, pipeline: wk_crm, queue: crm, parameters: { w: "\${worker.name}" } }
queues:
  - { name: crm, capacity: 1 }
batches:
  - { name: crm_one, stages: [crm_a] }
  - { name: crm_two, stages: [crm_b] }
  - { name: params, stages: [extract], parameters: { region: "US" } }
  - { name: retries, stages: [retried, after] }
  - { name: sla, stages: [slow] }
recipients:
  - { email: sla@example.com, on: [Late] }
`;

describe('orchestration depth', () => {
  let stack: TestStack;
  let proxy: RecordingProxy;
  const runsOf = (pipeline: string) => stack.emulator.runs().filter((r) => r.pipelineName === pipeline);
  const execution = async (id: string) => (await stack.call('GET', `/executions/${id}`)).json;
  const worker = async (id: string, name: string) => (await execution(id)).stages.flatMap((s: { workers: Array<{ name: string }> }) => s.workers).find((w: { name: string }) => w.name === name);
  const settle = (id: string) => sweepUntil(stack, async () => (await execution(id)).status !== 'Running', 30_000);

  beforeAll(async () => {
    const endpoint = /TableEndpoint=([^;]+)/.exec(storageConnection())![1]!;
    const origin = new URL(endpoint).origin;
    proxy = await startRecordingProxy(origin);
    stack = await startTestStack({
      scenario: {
        pipelines: {
          wk_ok: { durationMs: 30 },
          wk_manual: { durationMs: null },
          wk_crm: { durationMs: 150 },
          wk_flaky_a: { durationMs: 30, outcomes: ['Failed', 'Succeeded'], error: { activity: 'Call API', code: '2108', message: 'Too many requests' } },
          wk_flaky_b: { durationMs: 30, outcomes: ['Failed', 'Succeeded'], error: { activity: 'Call API', code: '2108', message: 'Too many requests' } },
        },
        unknownPipelines: 'notFound',
      } as never,
      env: { AzureWebJobsStorage: storageConnection().replace(origin, proxy.url) },
    });
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
  });
  afterAll(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it('when a batch runs with parameters, then every placeholder reaches ADF resolved: the execution id, the request parameter over the batch one, the stage and worker names', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'params', parameters: { region: 'EU' } });
    expect(started.status).toBe(202);
    const id = started.json.executionId as string;
    await settle(id);
    expect(runsOf('wk_ok').find((r) => r.parameters.load !== undefined)?.parameters).toEqual({ load: id, region: 'EU', who: 'extract/load', literal: '${not.a.placeholder}', batch: 'params' });
    const view = await execution(id);
    expect(view.parameters).toEqual({ region: 'EU' });
    expect((await worker(id, 'load')).parameters).toMatchObject({ load: id, region: 'EU' });
    // maxConcurrentWorkers: 1 on the stage: its two runs never overlapped.
    const [a, b] = runsOf('wk_ok').slice(0, 2).sort((x, y) => x.runStart.localeCompare(y.runStart));
    expect(a!.runEnd! <= b!.runStart).toBe(true);
  });

  it('when a worker fails once with retry count 1, then it ends Succeeded with 2 runs in its history and its dependant runs; with count 0 it fails and blocks its dependant', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'retries' });
    const id = started.json.executionId as string;
    await settle(id);
    const flaky = await worker(id, 'flaky');
    expect(flaky.status).toBe('Succeeded');
    expect(flaky.attempts.map((a: { status: string }) => a.status)).toEqual(['Failed', 'Succeeded']);
    expect(flaky.attempts[0].error).toMatchObject({ activity: 'Call API', code: '2108' });
    expect(new Set(flaky.attempts.map((a: { runId: string }) => a.runId)).size).toBe(2);
    expect(runsOf('wk_flaky_a')).toHaveLength(2);
    expect((await worker(id, 'after_flaky')).status).toBe('Succeeded');
    expect((await worker(id, 'fragile')).status).toBe('Failed');
    expect(runsOf('wk_flaky_b')).toHaveLength(1);
    expect((await worker(id, 'after_fragile')).status).toBe('Blocked');
    expect((await execution(id)).status).toBe('Failed');
  });

  it('when a worker passes warnAfterSeconds, then exactly one Late email goes out and the run goes on; past the default or its own timeout a worker is cancelled', async () => {
    const before = (await readOutbox(stack.outbox)).length;
    const started = await stack.call('POST', '/executions', { batch: 'sla' });
    const id = started.json.executionId as string;
    await sweepUntil(stack, async () => (await worker(id, 'hanging'))?.status === 'Running');
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < 4; i++) await stack.sweep();
    const late = (await readOutbox(stack.outbox)).slice(before);
    expect(late.map((m) => m.subject)).toEqual([expect.stringMatching(/^\[adf-conductor\] Late: worker hanging of sla \(running \d+s, warn after 1s\)$/)]);
    expect(late[0]!.to).toEqual(['sla@example.com']);
    const hanging = await worker(id, 'hanging');
    expect(hanging.status).toBe('Running');
    expect(hanging.lateAt).toBeDefined();
    // Its own timeout (2 s): cancelled.
    expect(await worker(id, 'forever')).toMatchObject({ status: 'Failed', error: { code: 'Timeout' } });
    stack.emulator.finish(hanging.runId, 'Succeeded');
    await settle(id);
    expect((await execution(id)).status).toBe('Failed'); // forever timed out; hanging ended normally
    expect((await worker(id, 'hanging')).status).toBe('Succeeded');
    expect((await readOutbox(stack.outbox)).slice(before).filter((m) => m.subject.includes('Late'))).toHaveLength(1);
  });

  it('when an execution is planned with dryRun, then the plan lists exactly the workers a real run starts, resolved, and nothing is written', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const mark = proxy.seen.length;
    const dry = await stack.call('POST', '/executions', { batch: 'params', parameters: { region: 'APAC' }, dryRun: true });
    expect(dry.status).toBe(200);
    const writes = proxy.seen.slice(mark).filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.target}`)).toEqual([]);
    expect(dry.json.stages.map((s: { name: string; workers: Array<{ name: string }> }) => [s.name, s.workers.map((w) => w.name)])).toEqual([['extract', ['load', 'second']]]);
    expect(dry.json.stages[0].maxConcurrentWorkers).toBe(1);
    expect(dry.json.stages[0].workers[0].parameters).toMatchObject({ region: 'APAC', load: '(dry run)' });
    expect(dry.json.skipped).toEqual([{ name: 'off', stage: 'extract', reason: 'the worker is disabled' }]);

    const real = await stack.call('POST', '/executions', { batch: 'params', parameters: { region: 'APAC' } });
    await settle(real.json.executionId);
    const ran = (await execution(real.json.executionId)).stages.flatMap((s: { workers: Array<{ name: string; runId?: string }> }) => s.workers.filter((w) => w.runId).map((w) => w.name));
    expect(ran).toEqual(['load', 'second']);
    expect(proxy.seen.slice(mark).filter((r) => r.method !== 'GET').length).toBeGreaterThan(10); // the proxy does see writes
  });

  it('when two batches run at once with 3 workers each on a queue of capacity 1, then the 6 runs start one at a time in FIFO order, never overlap, and both executions succeed', async () => {
    const [one, two] = await Promise.all([stack.call('POST', '/executions', { batch: 'crm_one' }), stack.call('POST', '/executions', { batch: 'crm_two' })]);
    expect([one.status, two.status]).toEqual([202, 202]);
    const ids = [one.json.executionId as string, two.json.executionId as string];
    const workers = async () => (await Promise.all(ids.map(execution))).flatMap((e) => e.stages.flatMap((st: { workers: unknown[] }) => st.workers)) as Array<{ name: string; status: string; position?: number; jobId?: string; queue?: string }>;
    const first = await workers();
    expect(first.filter((w) => w.status === 'Running').length).toBeLessThanOrEqual(1);
    const waiting = first.filter((w) => w.status === 'Waiting');
    expect(waiting.length).toBeGreaterThanOrEqual(4);
    expect(waiting.map((w) => w.position).sort()).toEqual(Array.from({ length: waiting.length }, (_, i) => i + 1));
    expect(first.every((w) => w.queue === 'crm')).toBe(true);
    const queue = (await stack.call('GET', '/queues/crm')).json;
    expect(queue.running.length + queue.waiting.length).toBe(6);
    const page = (await stack.call('GET', '/dashboard')).text;
    expect(page).toContain('waiting for queue crm (#1)');

    await sweepUntil(stack, async () => (await Promise.all(ids.map(execution))).every((e) => e.status !== 'Running'), 30_000);
    expect((await Promise.all(ids.map(execution))).map((e) => e.status)).toEqual(['Succeeded', 'Succeeded']);
    const runs = runsOf('wk_crm').sort((x, y) => x.runStart.localeCompare(y.runStart));
    expect(runs).toHaveLength(6);
    for (let i = 1; i < runs.length; i++) expect(runs[i - 1]!.runEnd! <= runs[i]!.runStart).toBe(true);
    // FIFO: the runs started in the order their jobs were enqueued (the job id starts with its sequence number).
    const jobs = (await workers()).map((w) => ({ w: w.name, seq: Number(String(w.jobId).split('-')[0]) })).sort((a, b) => a.seq - b.seq);
    expect(runs.map((r) => r.parameters.w)).toEqual(jobs.map((j) => j.w));
  });

  it('when an execution with workers waiting on a queue is cancelled, then its jobs leave the queue and the next execution runs', async () => {
    const one = await stack.call('POST', '/executions', { batch: 'crm_one' });
    const id = one.json.executionId as string;
    const cancelled = await stack.call('POST', `/executions/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.stages[0].workers.map((w: { status: string }) => w.status)).toEqual(['Cancelled', 'Cancelled', 'Cancelled']);
    const queue = (await stack.call('GET', '/queues/crm')).json;
    expect([...queue.running, ...queue.waiting]).toEqual([]);
    const two = await stack.call('POST', '/executions', { batch: 'crm_two' });
    await settle(two.json.executionId);
    expect((await execution(two.json.executionId)).status).toBe('Succeeded');
  });

  it('when metadata has an unknown placeholder, an undeclared queue and a negative retry count, then one 422 lists each with its path', async () => {
    const bad = `
stages:
  - name: s
    pipelines:
      - { name: a, pipeline: wk_ok, parameters: { x: "\${execution.nope}" }, queue: crm, retry: { count: -1 } }
`;
    const r = await stack.call('PUT', '/metadata', bad);
    expect(r.status).toBe(422);
    expect(r.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['stages[0].pipelines[0].parameters.x', 'stages[0].pipelines[0].queue', 'stages[0].pipelines[0].retry.count']);
  });

  it('when a worker needs an execution parameter nobody sets, then the start is a 400 naming it, and nothing starts', async () => {
    const noRegion = md.replace('parameters: { region: "US" }', 'parameters: {}');
    expect((await stack.call('PUT', '/metadata', noRegion)).status).toBe(200);
    const r = await stack.call('POST', '/executions', { batch: 'params' });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual([expect.objectContaining({ path: 'parameters.region' })]);
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
  });
});
