import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, type TestStack } from '../support/test-stack';
import { runStatuses, sleep, startManualRuns } from './runs-feed-support';

// Runs stay Queued in ADF until finished by hand, so the baseline pass has nothing to write.
const scenario: Scenario = { pipelines: { wk_manual: { durationMs: null } }, queuedMs: 3_600_000, unknownPipelines: 'notFound' };

describe('the sweep reads the change feed, not every run', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // A 1 s overlap so the measured pass reads only what changed after the baseline pass.
    stack = await startTestStack({ scenario, env: { FEED_OVERLAP_SECONDS: '1', RUN_STALE_SECONDS: '300' } });
  });
  afterAll(() => stack.close());

  it('when 1,000 runs are in flight and 150 finish, then one sweep makes at most 1 + ceil(150/100) queryPipelineRuns calls and no per-run GET', async () => {
    const runs = await startManualRuns(stack, 1000);
    expect(stack.emulator.runs()).toHaveLength(1000);
    await sleep(1100); // the baseline pass's overlap must not reach back to the starts
    stack.emulator.resetStats();
    await stack.sweep(); // baseline: no watermark yet, so it reads from the oldest claim (all 1,000 runs), and sets one
    expect(stack.emulator.stats()).toMatchObject({ queryPipelineRuns: 10, getRun: 0 });

    await sleep(1100); // past the overlap
    const finished = runs.slice(0, 150);
    finished.forEach((r, i) => stack.emulator.finish(r.runId!, i % 5 === 0 ? 'Failed' : 'Succeeded'));
    stack.emulator.resetStats();
    await stack.sweep();

    const stats = stack.emulator.stats();
    expect(stats.queryPipelineRuns).toBeGreaterThanOrEqual(2); // it followed every page
    expect(stats.queryPipelineRuns).toBeLessThanOrEqual(1 + Math.ceil(150 / 100));
    expect(stats.getRun).toBe(0);
    expect(stats.createRun).toBe(0);
    const now = await runStatuses(stack);
    expect(finished.filter((r) => now.get(r.runId!) === 'Succeeded')).toHaveLength(120);
    expect(finished.filter((r) => now.get(r.runId!) === 'Failed')).toHaveLength(30);
    expect([...now.values()].filter((s) => s === 'Queued')).toHaveLength(850);
    expect(await stack.deps.tables.table('ActiveRuns').scanAll()).toHaveLength(850);
  }, 60_000);
});
