import { unitDeps } from '../../support/fake-factory';
import { ExecutionStore } from '../../../src/core/orchestration/store';
import { Conflict } from '../../../src/core/errors';

const execution = (id: string) => ({
  executionId: id,
  batch: 'daily',
  status: 'Running' as const,
  metadataVersion: 1,
  startedAt: '2026-11-28T00:00:00.000Z',
  stages: ['s'],
  rules: { failureHandling: 'Simple' as const, cancelledWorkerBlocks: true, unknownWorkerBlocks: true },
  maxConcurrentWorkers: 5,
  restarts: 0,
});

describe('a start that lost its batch lock', () => {
  it('when another start took the batch lock over while this one was writing, then this one writes no head (it never runs)', async () => {
    const deps = unitDeps();
    const store = new ExecutionStore(deps);
    await store.takeBatchLock('daily', 'slow', undefined);
    await store.takeBatchLock('daily', 'takeover', await store.batchLock('daily')); // the orphan-lock takeover
    await expect(store.create(execution('slow'), [], { holdingBatchLock: true })).rejects.toBeInstanceOf(Conflict);
    expect(await store.head('slow')).toBeUndefined();
    await store.create(execution('takeover'), [], { holdingBatchLock: true });
    expect(await store.head('takeover')).toBeDefined();
  });

  it('when the process dies just after the head is written, then the execution is already listed (found by the random-kill fault test: it was unlisted, and a client that looked for it resumed it instead)', async () => {
    const deps = unitDeps();
    const executions = deps.tables.table('Executions');
    const insert = executions.insert.bind(executions);
    let headWritten = false;
    executions.insert = async (pk, rk, props) => {
      if (headWritten) throw new Error('killed'); // nothing after the head is written
      const row = await insert(pk, rk, props);
      if (rk === 'head') headWritten = true;
      return row;
    };
    const store = new ExecutionStore(deps);
    await store.takeBatchLock('daily', 'e1', undefined);
    await store.create(execution('e1'), [], { holdingBatchLock: true }).catch(() => undefined);
    expect(await store.head('e1')).toBeDefined();
    expect(await store.listIds(undefined, 10)).toEqual(['e1']);
    expect(await store.listIds('daily', 10)).toEqual(['e1']);
  });
});
