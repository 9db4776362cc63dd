import type { CoreSettings, Deps } from '../../../src/core/deps';
import { parseMetadataText } from '../../../src/http/metadata-text';
import { saveMetadata } from '../../../src/core/orchestration/metadata-store';
import type { Job } from '../../../src/core/queues/model';
import { enqueueJob, type Enqueued } from '../../../src/core/queues/queues';
import { observeOne } from '../../../src/core/runs/observe';
import type { AdfRunStatus } from '../../../src/core/ports';
import { settlers } from '../../../src/core/sweep/sweep';
import { unitDeps } from '../../support/fake-factory';

export type QueueDeps = ReturnType<typeof unitDeps>;

/** Pipelines the fake factory knows; any other name is NotFound (→ USER_ERROR). */
export const KNOWN_PIPELINES = ['wk_a', 'wk_b'];

/** Core deps on in-memory doubles, with these queues declared in stored metadata. */
export async function queueDeps(queues: Array<{ name: string; capacity?: number }>, settings: Partial<CoreSettings> = {}): Promise<QueueDeps> {
  const deps = unitDeps({ armWritesPerSecond: 1_000_000, armWriteBurst: 1_000_000, ...settings });
  deps.factory.pipelines = new Set(KNOWN_PIPELINES);
  await declareQueues(deps, queues);
  return deps;
}

export async function declareQueues(deps: Deps, queues: Array<{ name: string; capacity?: number }>): Promise<void> {
  const text = JSON.stringify({ stages: [{ name: 'main', pipelines: [{ name: 'wk_a' }] }], queues });
  const parsed = parseMetadataText(text);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  await saveMetadata(deps, parsed.metadata, text);
}

export function enqueue(deps: Deps, queue: string, n: number, extra: { pipeline?: string; timeoutSeconds?: number } = {}): Promise<Enqueued> {
  return enqueueJob(deps, queue, {
    ref: { pipeline: extra.pipeline ?? 'wk_a' },
    parameters: { n },
    ...(extra.timeoutSeconds !== undefined ? { timeoutSeconds: extra.timeoutSeconds } : {}),
  });
}

/** Ends a job's ADF run in the fake factory, then delivers the completion callback for it. */
export async function finishRun(deps: QueueDeps, job: Pick<Job, 'runId'>, status: AdfRunStatus = 'Succeeded'): Promise<void> {
  if (!job.runId) throw new Error('job has no runId');
  deps.factory.finish(job.runId, status, status === 'Failed' ? 'Copy failed' : undefined);
  await observeOne(deps, settlers, job.runId);
}

/** The `n` parameter of every run the fake factory was asked to start, in start order. */
export const startedNs = (deps: QueueDeps, pipeline = 'wk_a') => deps.factory.runs.filter((r) => r.pipeline === pipeline).map((r) => Number(r.parameters.n));
