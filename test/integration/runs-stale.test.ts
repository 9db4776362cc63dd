import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, type TestStack } from '../support/test-stack';
import { runStatuses, sleep, startManualRuns } from './runs-feed-support';

const scenario: Scenario = { pipelines: { wk_manual: { durationMs: null } }, unknownPipelines: 'notFound' };

describe('a run the change feed has not mentioned for too long', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario, env: { FEED_OVERLAP_SECONDS: '0', RUN_STALE_SECONDS: '1' } });
  });
  afterAll(() => stack.close());

  it('when nothing changes for RUN_STALE_SECONDS, then the sweep falls back to one per-run GET for each stale run', async () => {
    const [quiet, other] = await startManualRuns(stack, 2);
    await stack.sweep();
    stack.emulator.resetStats();
    await stack.sweep(); // just checked: nothing is stale yet
    expect(stack.emulator.stats()).toMatchObject({ queryPipelineRuns: 1, getRun: 0 });

    await sleep(1200);
    stack.emulator.resetStats();
    await stack.sweep();
    expect(stack.emulator.stats()).toMatchObject({ queryPipelineRuns: 1, getRun: 2 });

    // The GETs touched nothing else: the runs are still tracked and a finish still comes through.
    await sleep(1200);
    stack.emulator.finish(quiet!.runId!, 'Succeeded');
    await stack.sweep();
    const now = await runStatuses(stack);
    expect(now.get(other!.runId!)).toBe('InProgress');
    expect(now.get(quiet!.runId!)).toBe('Succeeded');
  });
});
