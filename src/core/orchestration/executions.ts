import { reach } from '../crash';
import type { Deps } from '../deps';
import { conflict, Conflict, notFound } from '../errors';
import { refreshRun } from '../runs/api';
import { isTerminalRun } from '../runs/model';
import { iso, mapLimit } from '../util';
import { advanceExecution, closeExecution } from './advance';
import { stagesOfBatch } from './metadata';
import { queuePositions } from './shared-limits';
import { planExecution, type ExecutionPlan, type PlanInput } from './plan';
import { currentMetadata } from './metadata-store';
import type { Execution, Worker } from './model';
import type { ExecutionStatus } from './rules';
import { ExecutionStore, type Loaded } from './store';

export interface StartExecutionInput extends PlanInput {
  /** Answer with the plan; start nothing, write nothing. */
  dryRun?: boolean;
}

export type StartExecutionResult = { executionId: string; status: ExecutionStatus; resumed: boolean };

/**
 * A batch lock naming an execution whose head was never written (its start died) is taken over after this
 * long. A start still writing then finds the lock gone before it writes its head, and gives up (409).
 */
const ORPHAN_LOCK_MS = 30_000;

/** What an execution of the batch would run now (`dryRun`): reads the metadata, writes nothing. */
export async function dryRunExecution(deps: Deps, input: PlanInput): Promise<{ metadataVersion: number; plan: ExecutionPlan }> {
  const stored = await mustHaveMetadata(deps);
  const plan = planExecution(stored.metadata, input, { executionId: '(dry run)', startedAt: iso(deps.clock.now()), defaultFactory: deps.settings.defaultFactory });
  if (!plan) throw batchNotFound(input.batch, stored.version);
  return { metadataVersion: stored.version, plan };
}

async function mustHaveMetadata(deps: Deps) {
  const stored = await currentMetadata(deps);
  if (!stored) throw notFound('MetadataNotFound', 'No orchestration metadata is stored yet: PUT /api/metadata first.');
  return stored;
}

const batchNotFound = (batch: string | undefined, version: number) => notFound('BatchNotFound', `Batch '${batch}' is not in the metadata (version ${version}).`);

/**
 * Starts an execution of a batch (or of all stages), snapshotting the enabled workers it selects with their
 * parameters resolved. The same batch never runs twice at once; with `restart: resume` a Failed/Stopped last
 * execution resumes.
 */
export async function startExecution(deps: Deps, input: StartExecutionInput): Promise<StartExecutionResult> {
  const stored = await mustHaveMetadata(deps);
  const md = stored.metadata;
  const batch = input.batch ?? null;
  const now = iso(deps.clock.now());
  const executionId = deps.ids.newId();
  if (!stagesOfBatch(md, input.batch)) throw batchNotFound(input.batch, stored.version);

  const store = new ExecutionStore(deps);
  const lock = await store.batchLock(batch);
  if (lock) {
    const lockedId = lock.executionId;
    const status = lock.status;
    if (status === 'Running') {
      const head = await store.head(lockedId);
      const orphan = !head && deps.clock.now().getTime() - new Date(lock.at).getTime() > ORPHAN_LOCK_MS;
      if (!orphan && (head?.status ?? 'Running') === 'Running')
        throw conflict('ExecutionInProgress', `Execution ${lockedId} of ${batch === null ? 'all stages' : `batch '${batch}'`} is still running.`);
    }
    if ((status === 'Failed' || status === 'Stopped') && md.properties.restart === 'resume' && !input.stages && !input.pipelines) {
      await restartExecution(deps, lockedId, input.parameters ? { parameters: input.parameters } : {});
      return { executionId: lockedId, status: 'Running', resumed: true };
    }
  }
  // Planned only for a new execution: a resume keeps the parameters and workers it has.
  const plan = planExecution(md, input, { executionId, startedAt: now, defaultFactory: deps.settings.defaultFactory });
  if (!plan) throw batchNotFound(input.batch, stored.version);
  try {
    await store.takeBatchLock(batch, executionId, lock);
  } catch (e) {
    if (e instanceof Conflict) throw conflict('ExecutionInProgress', `Another execution of ${batch === null ? 'all stages' : `batch '${batch}'`} started at the same time.`);
    throw e;
  }
  const p = md.properties;
  // Marked active first: a crash after the head is written must still leave the execution to the sweep.
  await store.markActive(executionId);
  await createOrYield(store, batch, {
      executionId,
      batch,
      status: 'Running',
      metadataVersion: stored.version,
      startedAt: now,
      stages: plan.stages,
      rules: { failureHandling: p.failureHandling, cancelledWorkerBlocks: p.cancelledWorkerBlocks, unknownWorkerBlocks: p.unknownWorkerBlocks },
      maxConcurrentWorkers: p.maxConcurrentWorkers,
      ...(Object.keys(plan.stageCaps).length ? { stageCaps: plan.stageCaps } : {}),
      ...(Object.keys(plan.parameters).length ? { parameters: plan.parameters } : {}),
      ...(p.warnAfterSeconds !== undefined ? { warnAfterSeconds: p.warnAfterSeconds } : {}),
      ...(Object.keys(plan.stageWarnAfterSeconds).length ? { stageWarnAfterSeconds: plan.stageWarnAfterSeconds } : {}),
      restarts: 0,
    },
    plan.workers,
  );
  deps.log.info('execution started', { executionId, batch, workers: plan.workers.length, metadataVersion: stored.version });
  await advanceExecution(deps, executionId);
  return { executionId, status: 'Running', resumed: false };
}

async function load(deps: Deps, executionId: string): Promise<Loaded> {
  const loaded = await new ExecutionStore(deps).load(executionId);
  if (!loaded) throw notFound('ExecutionNotFound', `No execution '${executionId}'.`);
  return loaded;
}

/** An execution with its workers. */
export async function getExecution(deps: Deps, executionId: string): Promise<Loaded> {
  const loaded = await load(deps, executionId);
  return { ...loaded, positions: await queuePositions(deps, loaded) };
}

/** The newest executions first, with their workers. */
export async function listExecutions(deps: Deps, q: { batch?: string; status?: string; limit?: number }): Promise<Loaded[]> {
  const store = new ExecutionStore(deps);
  const limit = Math.min(Math.max(q.limit ?? 20, 1), 100);
  // Read a little further than asked when filtering by status (the index is by time only).
  const ids = await store.listIds(q.batch === undefined ? undefined : q.batch === '' ? null : q.batch, q.status ? limit * 5 : limit);
  const loaded = await mapLimit(ids, 8, (id) => store.load(id));
  return loaded
    .filter((l): l is Loaded => !!l && (!q.status || l.execution.status === q.status))
    .slice(0, limit);
}

/** Writes a new execution; a start that lost its batch lock meanwhile (too slow, taken over) is a 409. */
async function createOrYield(store: ExecutionStore, batch: string | null, e: Parameters<ExecutionStore['create']>[0], workers: Parameters<ExecutionStore['create']>[1]): Promise<void> {
  try {
    await store.create(e, workers, { holdingBatchLock: true });
  } catch (err) {
    if (err instanceof Conflict) throw conflict('ExecutionInProgress', `Another execution of ${batch === null ? 'all stages' : `batch '${batch}'`} took over while this one was starting.`);
    throw err;
  }
}

/** Cancels the running ADF runs (recursively) and marks every unfinished worker Cancelled. */
export async function cancelExecution(deps: Deps, executionId: string) {
  const store = new ExecutionStore(deps);
  const { execution } = await load(deps, executionId);
  if (execution.status !== 'Running') throw conflict('ExecutionNotRunning', `Execution ${executionId} is ${execution.status}; only a Running execution can be cancelled.`);
  let head: Execution;
  try {
    head = await store.saveHead({ ...execution, status: 'Cancelled', endedAt: iso(deps.clock.now()) });
  } catch (e) {
    if (e instanceof Conflict) throw conflict('ExecutionChanged', 'The execution changed while cancelling; retry.');
    throw e;
  }
  reach(deps, 'afterOutcome');
  await closeExecution(deps, store, head);
  deps.log.info('execution cancelled', { executionId });
  return getExecution(deps, executionId);
}

/**
 * Reruns only the workers that did not succeed, from the earliest unfinished stage, under the same id.
 * Workers left Starting/Running are first resolved from ADF's real status; one still running is never rerun.
 */
export async function restartExecution(deps: Deps, executionId: string, opts: { fromFailure?: boolean; parameters?: Record<string, unknown> }) {
  const store = new ExecutionStore(deps);
  const { execution, workers } = await load(deps, executionId);
  if (execution.status === 'Running') throw conflict('ExecutionInProgress', `Execution ${executionId} is still running.`);
  if (execution.status === 'Succeeded') throw conflict('NothingToRestart', `Execution ${executionId} succeeded; there is nothing to rerun.`);

  const lock = await store.batchLock(execution.batch);
  if (lock && lock.executionId !== executionId && lock.status === 'Running')
    throw conflict('ExecutionInProgress', `Execution ${lock.executionId} of this batch is running.`);
  try {
    await store.takeBatchLock(execution.batch, executionId, lock);
  } catch (e) {
    if (e instanceof Conflict) throw conflict('ExecutionInProgress', 'Another start or restart of this batch happened at the same time.');
    throw e;
  }

  const reset: Worker[] = [];
  for (const w of workers) {
    if (w.status === 'Succeeded') continue;
    if (w.status === 'Starting' || w.status === 'Running') {
      // Clean-up of a worker left in an unknown state: ask ADF before deciding anything.
      const run = w.trackId ? await refreshRun(deps, w.trackId) : undefined;
      if (run?.runId) {
        if (!isTerminalRun(run.status)) continue; // still running in ADF: never start it twice
        if (run.status === 'Succeeded') {
          reset.push({ ...w, status: 'Succeeded', runId: run.runId, endedAt: run.runEnd ?? iso(deps.clock.now()) });
          continue;
        }
      } else if (run && run.status === 'Starting') continue; // the sweep is still reconciling this claim
    }
    reset.push({
      ...w,
      // New values for the parameters the worker has (a key it does not have is not sent to its pipeline).
      parameters: overrideParameters(w.parameters, opts.parameters),
      history: w.runId ? [...(w.history ?? []), { status: w.status, runId: w.runId, ...(w.startedAt ? { startedAt: w.startedAt } : {}), ...(w.endedAt ? { endedAt: w.endedAt } : {}), ...(w.error ? { error: w.error } : {}) }] : w.history,
      retriesUsed: 0,
      notBefore: undefined,
      lateAt: undefined,
      jobId: undefined,
      status: 'Pending',
      attempt: w.attempt + 1,
      trackId: undefined,
      runId: undefined,
      startedAt: undefined,
      endedAt: undefined,
      error: undefined,
      recoverRunId: opts.fromFailure && w.status === 'Failed' && w.runId ? w.runId : undefined,
    });
  }
  const head = {
    ...execution,
    status: 'Running' as const,
    endedAt: undefined,
    restarts: execution.restarts + 1,
    // What was reported Late stays reported: a restart does not warn again for the execution or a stage.
  };
  await store.markActive(executionId); // first: a crash after the restart's write must leave it to the sweep
  try {
    await store.saveMany(executionId, reset, head);
  } catch (e) {
    if (e instanceof Conflict) throw conflict('ExecutionChanged', 'The execution changed while restarting; retry.');
    throw e;
  }
  deps.log.info('execution restarted', { executionId, workers: reset.length, fromFailure: !!opts.fromFailure, parameters: Object.keys(opts.parameters ?? {}) });
  await advanceExecution(deps, executionId);
  return getExecution(deps, executionId);
}

function overrideParameters(current: Record<string, unknown>, overrides?: Record<string, unknown>): Record<string, unknown> {
  if (!overrides) return current;
  return Object.fromEntries(Object.entries(current).map(([k, v]) => [k, Object.hasOwn(overrides, k) ? overrides[k] : v]));
}
