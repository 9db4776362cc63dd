import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, type TestStack } from '../support/test-stack';
import { runStatuses, sleep, startManualRuns } from './runs-feed-support';

const scenario: Scenario = { pipelines: { wk_manual: { durationMs: null } }, unknownPipelines: 'notFound' };

describe('runs the change feed has not mentioned for RUN_STALE_SECONDS (long copies)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario, env: { FEED_OVERLAP_SECONDS: '0', RUN_STALE_SECONDS: '8' } });
  });
  afterAll(() => stack.close());

  it('when 1,000 tracked runs are all past RUN_STALE_SECONDS, then a pass re-checks them by the page in at most 15 ARM reads, no GET per run, and still notices one that finished', async () => {
    const runs = await startManualRuns(stack, 1000);
    await stack.sweep(); // Queued → InProgress: news for all
    await sleep(8200);
    const quiet = runs[17]!;
    stack.emulator.finish(quiet.runId!, 'Succeeded');
    stack.emulator.resetStats();
    await stack.sweep();

    const stats = stack.emulator.stats();
    expect(stats.getRun).toBe(0);
    expect(stats.queryPipelineRuns).toBeGreaterThanOrEqual(10); // 1,000 runs are 10 pages of 100
    expect(stats.queryPipelineRuns).toBeLessThanOrEqual(15);
    const now = await runStatuses(stack);
    expect(now.get(quiet.runId!)).toBe('Succeeded');
    expect([...now.values()].filter((s) => s === 'InProgress')).toHaveLength(999);

    // Re-checked just now: the next pass reads the feed only.
    stack.emulator.resetStats();
    await stack.sweep();
    expect(stack.emulator.stats()).toMatchObject({ queryPipelineRuns: 1, getRun: 0 });
  }, 120_000);
});

describe('a run Data Factory no longer knows', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { pipelines: { wk_manual: { durationMs: null }, wk_after: { durationMs: 50 } }, unknownPipelines: 'notFound' }, env: { FEED_OVERLAP_SECONDS: '0', RUN_STALE_SECONDS: '1' } });
  });
  afterAll(() => stack.close());

  it('when the factory forgets a queue job\'s run (404), then the run ends Unknown, the job ends FAILED and the next job starts', async () => {
    const meta = 'stages:\n  - name: s\n    pipelines:\n      - { name: w, pipeline: wk_after }\nqueues:\n  - { name: q, capacity: 1 }\n';
    expect((await stack.call('PUT', '/metadata', meta, { 'content-type': 'application/yaml' })).status).toBe(200);
    const first = await stack.call('POST', '/queues/q/jobs', { pipeline: 'wk_manual' });
    const second = await stack.call('POST', '/queues/q/jobs', { pipeline: 'wk_after' });
    expect([first.json.status, second.json.status]).toEqual(['RUNNING', 'PENDING']);
    await stack.sweep();
    const job = (await stack.call('GET', `/queues/q/jobs/${first.json.jobId}`)).json;
    expect(job.runId).toEqual(expect.any(String));

    // The emulator restarts with an empty history: the run is gone from Data Factory.
    await stack.restartEmulator();
    await sleep(1100);
    await stack.sweep();
    const ended = (await stack.call('GET', `/queues/q/jobs/${first.json.jobId}`)).json;
    expect(ended.status).toBe('FAILED');
    expect((await stack.call('GET', `/runs/${job.runId}`)).json.status).toBe('Unknown');
    const next = (await stack.call('GET', `/queues/q/jobs/${second.json.jobId}`)).json;
    expect(next.status).toMatch(/RUNNING|COMPLETED/);
    expect(stack.emulator.runs().filter((r) => r.pipelineName === 'wk_after')).toHaveLength(1);
  }, 60_000);
});

describe('when Data Factory refuses RunGroupId with several values (azure-sdk-for-net#22025)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario: { ...scenario, runGroupIdValues: 'one' }, env: { FEED_OVERLAP_SECONDS: '0', RUN_STALE_SECONDS: '3' } });
  });
  afterAll(() => stack.close());

  it('then stale runs are re-checked by pipeline pages over their window instead, within the budget, and a finished one is still noticed', async () => {
    const runs = await startManualRuns(stack, 300);
    await stack.sweep();
    await sleep(3200);
    const quiet = runs[123]!;
    stack.emulator.finish(quiet.runId!, 'Succeeded');
    stack.emulator.resetStats();
    await stack.sweep();
    const stats = stack.emulator.stats();
    expect(stats.getRun).toBe(0);
    expect(stats.queryPipelineRuns).toBeLessThanOrEqual(1 + 1 + 10); // the feed, the refused page, the budget
    const now = await runStatuses(stack);
    expect(now.get(quiet.runId!)).toBe('Succeeded');
    expect([...now.values()].filter((s) => s === 'InProgress')).toHaveLength(299);
    expect(stack.logs.some((l) => l.includes('refused RunGroupId'))).toBe(true);
  }, 60_000);
});
