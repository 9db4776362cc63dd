import type { TrackedRun } from '../../src/core/runs/model';
import { startTrackedRun } from '../../src/core/runs/start';
import { mapLimit } from '../../src/core/util';
import { TEST_FACTORY, TEST_RG, TEST_SUBSCRIPTION, type TestStack } from '../support/test-stack';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `n` tracked runs of wk_manual through the one start path, in process (faster than HTTP). */
export async function startManualRuns(stack: TestStack, n: number): Promise<TrackedRun[]> {
  const target = { subscriptionId: TEST_SUBSCRIPTION, resourceGroup: TEST_RG, factory: TEST_FACTORY, pipeline: 'wk_manual' };
  return mapLimit(Array.from({ length: n }, (_, i) => i), 50, async (i) => {
    const { run } = await startTrackedRun(stack.deps, { target, parameters: { i }, owner: { kind: 'none', id: '' } });
    if (!run.runId) throw new Error('the run did not start');
    return run;
  });
}

/** runId → status as GET /runs shows it: the record's, or for a live run the index's (where the sweep keeps it). */
export async function runStatuses(stack: TestStack): Promise<Map<string, string>> {
  const live = new Map((await stack.deps.tables.table('ActiveRuns').scanAll()).map((r) => [r.rowKey, String(r.props.status)]));
  const rows = await stack.deps.tables.table('Runs').scanAll();
  return new Map(
    rows
      .filter((r) => typeof r.props.runId === 'string' && r.props.status)
      .map((r) => [String(r.props.runId), r.props.settled === true ? String(r.props.status) : (live.get(r.partitionKey) ?? String(r.props.status))]),
  );
}
