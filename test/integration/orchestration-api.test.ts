import fs from 'node:fs';
import path from 'node:path';
import { main } from '../../bin/adf-conductor';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';

const md = `
properties: { failureHandling: DependencyChain, restart: new }
stages:
  - name: one
    pipelines:
      - { name: hang, pipeline: wk_manual }
      - { name: flaky, pipeline: wk_bad }
      - { name: quick, pipeline: wk_ok, enabled: false }
  - name: two
    pipelines:
      - { name: slowpoke, pipeline: wk_manual, timeoutSeconds: 1 }
batches:
  - { name: manual, stages: [one] }
  - { name: timeouts, stages: [two] }
  - { name: failing, stages: [one] }
`;

describe('orchestration API: integrity, bad input, cancel, timeout and recovery', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      scenario: {
        pipelines: {
          wk_ok: { durationMs: 50 },
          wk_manual: { durationMs: null },
          wk_bad: { durationMs: 50, outcome: 'Failed', error: { activity: 'Copy', code: '2200', message: 'boom' } },
        },
        unknownPipelines: 'notFound',
      } as never,
    });
  });
  afterAll(() => stack.close());

  it('when no metadata is stored, then starting an execution is 404 MetadataNotFound', async () => {
    const res = await stack.call('POST', '/executions', {});
    expect(res.status).toBe(404);
    expect(res.json.code).toBe('MetadataNotFound');
  });

  it('when a document has many integrity problems, then one 422 lists each with its path and the CLI prints the same list', async () => {
    const file = path.join(__dirname, '../../examples/invalid.yaml');
    const res = await stack.call('PUT', '/metadata', fs.readFileSync(file, 'utf8'));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.json.code).toBe('MetadataInvalid');
    const errors = res.json.errors as Array<{ path: string; message: string }>;
    expect(new Set(errors.map((e) => e.path)).size).toBeGreaterThanOrEqual(6);
    const out: string[] = [];
    const code = await main(['validate', file], { out: (s) => out.push(s), err: (s) => out.push(s), readFile: (p) => fs.readFileSync(p, 'utf8') });
    expect(code).toBe(1);
    const printed = out.join('\n');
    for (const e of errors) expect(printed).toContain(`${e.path}: ${e.message}`);
    const none = await stack.call('GET', '/metadata');
    expect([none.status, none.json.code, none.headers.get('content-type')]).toEqual([404, 'MetadataNotFound', 'application/problem+json']);
  });

  it('when the request is bad, then each answer is a clear 4xx problem', async () => {
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
    const unknownBatch = await stack.call('POST', '/executions', { batch: 'nope' });
    expect([unknownBatch.status, unknownBatch.json.code]).toEqual([404, 'BatchNotFound']);
    const unknownStage = await stack.call('POST', '/executions', { batch: 'manual', stages: ['two', 'zzz'] });
    expect(unknownStage.status).toBe(400);
    expect(unknownStage.json.errors.map((e: { path: string }) => e.path)).toEqual(['stages[0]', 'stages[1]']);
    const nothing = await stack.call('POST', '/executions', { batch: 'manual', pipelines: ['quick'] });
    expect([nothing.status, nothing.json.code]).toEqual([422, 'NothingSelected']);
    const unknownExec = await stack.call('GET', '/executions/does-not-exist');
    expect([unknownExec.status, unknownExec.json.code]).toEqual([404, 'ExecutionNotFound']);
    const badBody = await stack.call('POST', '/executions', '{"batch": ');
    expect([badBody.status, badBody.json.code]).toEqual([400, 'MalformedJson']);
    const badQuery = await stack.call('GET', '/executions?status=Weird');
    expect(badQuery.status).toBe(400);
  });

  it('when a running execution is cancelled, then its ADF runs are cancelled, its workers are Cancelled, and a second cancel is 409', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'manual', pipelines: ['hang'] });
    expect(started.status).toBe(202);
    const id = started.json.executionId as string;
    const running = (await stack.call('GET', `/executions/${id}`)).json;
    const runId = running.stages[0].workers[0].runId as string;
    expect(runId).toBeTruthy();
    const again = await stack.call('POST', '/executions', { batch: 'manual' });
    expect([again.status, again.json.code]).toEqual([409, 'ExecutionInProgress']);
    const restartRunning = await stack.call('POST', `/executions/${id}/restart`, {});
    expect([restartRunning.status, restartRunning.json.code]).toEqual([409, 'ExecutionInProgress']);

    const cancelled = await stack.call('POST', `/executions/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('Cancelled');
    expect(cancelled.json.stages[0].workers[0].status).toBe('Cancelled');
    expect(cancelled.json.stages[0].workers[0].endedAt).toBeDefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(['Canceling', 'Cancelled']).toContain(stack.emulator.runs().find((r) => r.runId === runId)?.status);
    const twice = await stack.call('POST', `/executions/${id}/cancel`);
    expect([twice.status, twice.json.code]).toEqual([409, 'ExecutionNotRunning']);
  });

  it('when a worker outlives timeoutSeconds, then it is cancelled in ADF and ends Failed with a Timeout error', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'timeouts' });
    const id = started.json.executionId as string;
    let v: any;
    await sweepUntil(stack, async () => (v = (await stack.call('GET', `/executions/${id}`)).json).status !== 'Running', 10_000, 200);
    const w = v.stages[0].workers[0];
    expect([v.status, w.status, w.error.code]).toEqual(['Failed', 'Failed', 'Timeout']);
    await new Promise((r) => setTimeout(r, 150));
    expect(stack.emulator.runs().find((r) => r.runId === w.runId)?.status).toBe('Cancelled');
  });

  it('when an execution is restarted fromFailure, then ADF gets a recovery rerun of the failed run', async () => {
    const started = await stack.call('POST', '/executions', { batch: 'failing', pipelines: ['flaky'] });
    const id = started.json.executionId as string;
    let v: any;
    await sweepUntil(stack, async () => (v = (await stack.call('GET', `/executions/${id}`)).json).status !== 'Running');
    expect(v.status).toBe('Failed');
    const failedRunId = v.stages[0].workers[0].runId as string;
    expect(v.stages[0].workers[0].error).toEqual({ activity: 'Copy', code: '2200', message: 'boom' });

    const restarted = await stack.call('POST', `/executions/${id}/restart`, { fromFailure: true });
    expect(restarted.status).toBe(202);
    const rerun = stack.emulator.runs().find((r) => r.referencePipelineRunId === failedRunId);
    expect(rerun?.isRecovery).toBe(true);
    expect(rerun?.startFromFailure).toBe(true);
    expect(restarted.json.executionId).toBe(id);
  });

  it('when 20 writers PUT the metadata at once, then every answer is 200 or 409 MetadataChanged (never 500) and the versions have no gaps', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => stack.call('PUT', '/metadata', md, { 'content-type': 'application/yaml' })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.json.code).toBe('MetadataChanged');
    const versions = answers.filter((a) => a.status === 200).map((a) => a.json.version as number).sort((x, y) => x - y);
    expect(versions.length).toBeGreaterThan(0);
    expect(versions[versions.length - 1]! - versions[0]!).toBe(versions.length - 1);
    expect((await stack.call('GET', '/metadata')).json.version).toBe(versions[versions.length - 1]);
  });

  it('when executions are listed, then they come newest first with their workers, filterable by batch and status', async () => {
    const all = await stack.call('GET', '/executions');
    expect(all.status).toBe(200);
    const times = all.json.value.map((e: { startedAt: string }) => e.startedAt);
    expect([...times].sort().reverse()).toEqual(times);
    const cancelled = await stack.call('GET', '/executions?status=Cancelled&batch=manual');
    expect(cancelled.json.value.length).toBeGreaterThanOrEqual(1);
    expect(cancelled.json.value.every((e: { status: string; batch: string }) => e.status === 'Cancelled' && e.batch === 'manual')).toBe(true);
    expect(cancelled.json.value[0].stages[0].workers[0].runId).toBeDefined();
  });
});
