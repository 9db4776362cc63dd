import { workerKey, workerTrackId, workerOwnerId } from '../../src/core/orchestration/model';
import { ExecutionStore } from '../../src/core/orchestration/store';
import { RunStore } from '../../src/core/runs/store';
import { startTestStack, sweepUntil, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

const md = `
properties: { failureHandling: Simple, restart: new, maxConcurrentWorkers: 1 }
stages:
  - name: one
    pipelines:
      - { name: first, pipeline: wk_quick }
      - { name: crashy, pipeline: wk_manual, parameters: { day: "2026-11-22" } }
`;

describe('orchestration recovery after a crash between createRun and recording the runId', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_quick: { durationMs: 30 }, wk_manual: { durationMs: null } }, unknownPipelines: 'notFound' } as never });
  });
  afterAll(() => stack.close());

  it('when a worker is left Starting and ADF has its run, then the run is adopted, never started twice, and the worker finishes', async () => {
    expect((await stack.call('PUT', '/metadata', md)).status).toBe(200);
    const started = await stack.call('POST', '/executions', {});
    const id = started.json.executionId as string;
    // maxConcurrentWorkers 1: `first` runs, `crashy` waits. Simulate the crash on `crashy` by hand:
    // the worker claimed (Starting + trackId), the tracked-run claim written, ADF created the run, and then the process died.
    const store = new ExecutionStore(stack.deps);
    const loaded = await store.load(id);
    const crashy = loaded!.workers.find((w) => w.name === 'crashy')!;
    const trackId = workerTrackId(id, crashy);
    const target = { subscriptionId: TEST_SUBSCRIPTION, resourceGroup: TEST_RG, factory: TEST_FACTORY, pipeline: 'wk_manual' };
    await new RunStore(stack.deps).insert({
      trackId,
      status: 'Starting',
      target,
      parameters: crashy.parameters,
      owner: { kind: 'worker', id: workerOwnerId(id, workerKey(crashy.stageIndex, crashy.name)) },
      claimedAt: new Date(Date.now() - 5000).toISOString(),
      attempt: 1,
      settled: false,
    });
    const { runId } = await stack.deps.factory.start(target, crashy.parameters);
    await store.saveWorker(id, { ...crashy, status: 'Starting', trackId });

    await sweepUntil(stack, async () => {
      const v = (await stack.call('GET', `/executions/${id}`)).json;
      return v.stages[0].workers.find((w: { name: string }) => w.name === 'crashy').runId === runId;
    });
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'wk_manual')).toHaveLength(1);

    stack.emulator.finish(runId, 'Succeeded');
    await sweepUntil(stack, async () => (await stack.call('GET', `/executions/${id}`)).json.status !== 'Running');
    const v = (await stack.call('GET', `/executions/${id}`)).json;
    expect(v.status).toBe('Succeeded');
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'wk_manual')).toHaveLength(1);
  });

  it('when a worker is marked Starting but its claim was never written, then it is claimed again and runs once', async () => {
    const started = await stack.call('POST', '/executions', {});
    const id = started.json.executionId as string;
    const store = new ExecutionStore(stack.deps);
    const crashy = (await store.load(id))!.workers.find((w) => w.name === 'crashy')!;
    const before = stack.emulator.runs().filter((r) => r.pipelineName === 'wk_manual').length;
    await store.saveWorker(id, { ...crashy, status: 'Starting', trackId: workerTrackId(id, crashy) });
    let runId = '';
    await sweepUntil(stack, async () => {
      const w = (await stack.call('GET', `/executions/${id}`)).json.stages[0].workers.find((x: { name: string }) => x.name === 'crashy');
      runId = w.runId ?? '';
      return w.status === 'Running';
    });
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'wk_manual')).toHaveLength(before + 1);
    stack.emulator.finish(runId, 'Succeeded');
    await sweepUntil(stack, async () => (await stack.call('GET', `/executions/${id}`)).json.status === 'Succeeded');
  });
});
