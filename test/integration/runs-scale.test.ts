import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';
import { runStatuses, sleep, startManualRuns } from './runs-feed-support';

const scenario: Scenario = { pipelines: { wk_manual: { durationMs: null } }, unknownPipelines: 'notFound' };
const factory = { subscriptionId: TEST_SUBSCRIPTION, resourceGroup: TEST_RG, factory: TEST_FACTORY };

describe('a production-like factory: untracked runs change around ours', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario, env: { FEED_OVERLAP_SECONDS: '1', RUN_STALE_SECONDS: '300' } });
  });
  afterAll(() => stack.close());

  it('when 1,000 tracked runs are in flight and 5,000 untracked runs of other pipelines change, then a pass makes at most 4 ARM reads and settles the 10 that finished', async () => {
    const runs = await startManualRuns(stack, 1000);
    await stack.sweep(); // Queued → InProgress, and the watermark
    await sleep(1100); // past the overlap
    // Other teams' schedule triggers: 5,000 runs that start and finish inside the next feed window.
    stack.emulator.seedRuns({ factory, pipeline: 'pl_other_team', count: 2500, durationMs: 0 });
    stack.emulator.seedRuns({ factory, pipeline: 'pl_nightly_copy', count: 2500, durationMs: 0 });
    const finished = runs.slice(0, 10);
    finished.forEach((r) => stack.emulator.finish(r.runId!, 'Succeeded'));
    await sleep(50);
    stack.emulator.resetStats();
    await stack.sweep();

    const stats = stack.emulator.stats();
    expect((stats.queryPipelineRuns ?? 0) + (stats.getRun ?? 0) + (stats.queryActivityruns ?? 0)).toBeLessThanOrEqual(4);
    expect(stats.getRun).toBe(0);
    const now = await runStatuses(stack);
    expect(finished.every((r) => now.get(r.runId!) === 'Succeeded')).toBe(true);
    expect(await stack.deps.tables.table('ActiveRuns').scanAll()).toHaveLength(990);
  }, 120_000);

  it('when a burst of Queued → InProgress changes arrives, then the run records are not rewritten (the index takes them in batches) and GET /runs shows the live status', async () => {
    const before = await stack.deps.tables.table('Runs').scanAll();
    const etags = new Map(before.map((r) => [r.partitionKey, r.etag]));
    const fresh = await startManualRuns(stack, 150);
    const recorded = new Map((await stack.deps.tables.table('Runs').scanAll()).map((r) => [r.partitionKey, r.etag]));
    await sleep(50);
    await stack.sweep();
    const after = await stack.deps.tables.table('Runs').scanAll();
    const rewritten = after.filter((r) => fresh.some((f) => f.trackId === r.partitionKey) && recorded.get(r.partitionKey) !== r.etag);
    expect(rewritten).toHaveLength(0);
    expect(after.filter((r) => etags.has(r.partitionKey) && etags.get(r.partitionKey) !== r.etag)).toHaveLength(0);
    const view = await stack.call('GET', `/runs/${fresh[0]!.runId}`);
    expect(view.json.status).toBe('InProgress');
  }, 60_000);
});
