import { unitDeps } from '../../support/fake-factory';
import { purgeOldExecutions } from '../../../src/core/orchestration/advance';
import { saveMetadata } from '../../../src/core/orchestration/metadata-store';
import { parseMetadataText } from '../../../src/http/metadata-text';
import { ExecutionStore } from '../../../src/core/orchestration/store';

describe('execution retention', () => {
  it('when an execution started before executionRetentionDays, then the sweep purges it and keeps the newer ones', async () => {
    const deps = unitDeps();
    const clock = deps.clock;
    const parsed = parseMetadataText('properties: { executionRetentionDays: 7 }\nstages: [{ name: s, pipelines: [{ name: w }] }]');
    if (!parsed.ok) throw new Error('bad metadata');
    await saveMetadata(deps, parsed.metadata, '');
    const store = new ExecutionStore(deps);
    const make = async (id: string, daysAgo: number) =>
      store.create(
        {
          executionId: id,
          batch: null,
          status: 'Succeeded',
          metadataVersion: 1,
          startedAt: new Date(clock.now().getTime() - daysAgo * 86_400_000).toISOString(),
          stages: ['s'],
          rules: { failureHandling: 'Simple', cancelledWorkerBlocks: true, unknownWorkerBlocks: true },
          maxConcurrentWorkers: 5,
          restarts: 0,
        },
        [],
      );
    await make('old', 10);
    await make('new', 2);
    await purgeOldExecutions(deps);
    expect(await store.head('old')).toBeUndefined();
    expect(await store.head('new')).toBeDefined();
    expect(await store.listIds(undefined, 10)).toEqual(['new']);
  });
});
