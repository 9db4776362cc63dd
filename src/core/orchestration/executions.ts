import { reach } from '../crash';
import type { Deps } from '../deps';
import { conflict, Conflict, notFound, unprocessable, validationFailed, type FieldProblem } from '../errors';
import { refreshRun } from '../runs/api';
import { isTerminalRun, resolveTarget } from '../runs/model';
import { iso, mapLimit } from '../util';
import { advanceExecution, closeExecution } from './advance';
import { DEFAULT_FACTORY, isRunnable, stagesOfBatch, type Metadata } from './metadata';
import { currentMetadata } from './metadata-store';
import type { Execution, Worker } from './model';
import type { ExecutionStatus } from './rules';
import { ExecutionStore, type Loaded } from './store';

export interface StartExecutionInput {
  batch?: string;
  stages?: string[];
  pipelines?: string[];
}

export type StartExecutionResult = { executionId: string; status: ExecutionStatus; resumed: boolean };

/** A lock left Running this long by a crashed start (no head written) may be taken over. */
/**
 * A batch lock naming an execution whose head was never written (its start died) is taken over after this
 * long. A start still writing then finds the lock gone before it writes its head, and gives up (409).
 */
const ORPHAN_LOCK_MS = 30_000;

/**
 * Starts an execution of a batch (or of all stages), snapshotting the enabled workers it selects.
 * The same batch never runs twice at once; with `restart: resume` a Failed/Stopped last execution resumes.
 */
export async function startExecution(deps: Deps, input: StartExecutionInput): Promise<StartExecutionResult> {
  const stored = await currentMetadata(deps);
  if (!stored) throw notFound('MetadataNotFound', 'No orchestration metadata is stored yet: PUT /api/metadata first.');
  const md = stored.metadata;
  const batch = input.batch ?? null;
  const stageDefs = stagesOfBatch(md, input.batch);
  if (!stageDefs) throw notFound('BatchNotFound', `Batch '${input.batch}' is not in the metadata (version ${stored.version}).`);

  const problems: FieldProblem[] = [];
  input.stages?.forEach((s, i) => {
    if (!stageDefs.some((d) => d.name === s)) problems.push({ path: `stages[${i}]`, message: `no stage '${s}' in ${batch === null ? 'the metadata' : `batch '${batch}'`}` });
  });
  const allWorkers = stageDefs.flatMap((s) => s.pipelines.map((p) => p.name));
  input.pipelines?.forEach((p, i) => {
    if (!allWorkers.includes(p)) problems.push({ path: `pipelines[${i}]`, message: `no pipeline '${p}' in ${batch === null ? 'the metadata' : `batch '${batch}'`}` });
  });
  if (problems.length) throw validationFailed(problems, 'The execution filter names unknown stages or pipelines.');

  const selectedStages = stageDefs.filter((s) => s.enabled && (!input.stages || input.stages.includes(s.name)));
  const now = iso(deps.clock.now());
  const executionId = deps.ids.newId();
  const stageNames: string[] = [];
  const picked = selectedStages.flatMap((s) => s.pipelines.filter((w) => isRunnable(s, w) && (!input.pipelines || input.pipelines.includes(w.name))).map((w) => ({ s, w })));
  const names = new Set(picked.map((x) => x.w.name));
  const workers: Array<Omit<Worker, 'etag'>> = [];
  for (const { s, w } of picked) {
    if (!stageNames.includes(s.name)) stageNames.push(s.name);
    workers.push({
      name: w.name,
      stage: s.name,
      stageIndex: stageNames.indexOf(s.name),
      order: workers.length,
      target: targetOf(deps, md, w.factory, w.pipeline),
      factoryKey: w.factory,
      parameters: w.parameters,
      // A predecessor outside this execution (disabled or not selected) counts as satisfied.
      dependsOn: w.dependsOn.filter((d) => names.has(d)),
      ...(w.timeoutSeconds !== undefined ? { timeoutSeconds: w.timeoutSeconds } : {}),
      status: 'Pending',
      attempt: 1,
    });
  }
  if (workers.length === 0) throw unprocessable('NothingSelected', 'The request selects no enabled pipeline to run.');

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
      await restartExecution(deps, lockedId, {});
      return { executionId: lockedId, status: 'Running', resumed: true };
    }
  }
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
      stages: stageNames,
      rules: { failureHandling: p.failureHandling, cancelledWorkerBlocks: p.cancelledWorkerBlocks, unknownWorkerBlocks: p.unknownWorkerBlocks },
      maxConcurrentWorkers: p.maxConcurrentWorkers,
      restarts: 0,
    },
    workers,
  );
  deps.log.info('execution started', { executionId, batch, workers: workers.length, metadataVersion: stored.version });
  await advanceExecution(deps, executionId);
  return { executionId, status: 'Running', resumed: false };
}

function targetOf(deps: Deps, md: Metadata, factoryKey: string, pipeline: string) {
  const f = md.factories[factoryKey] ?? (factoryKey === DEFAULT_FACTORY ? {} : undefined);
  const defaults = factoryKey === DEFAULT_FACTORY ? { ...deps.settings.defaultFactory } : {};
  return resolveTarget(
    { pipeline, ...(f?.subscriptionId ? { subscriptionId: f.subscriptionId } : {}), ...(f?.resourceGroup ? { resourceGroup: f.resourceGroup } : {}), ...(f?.factory ? { factory: f.factory } : {}), ...(f?.tenantId ? { tenantId: f.tenantId } : {}) },
    { ...deps.settings.defaultFactory, ...defaults },
    `factories.${factoryKey}.`,
  );
}

async function load(deps: Deps, executionId: string): Promise<Loaded> {
  const loaded = await new ExecutionStore(deps).load(executionId);
  if (!loaded) throw notFound('ExecutionNotFound', `No execution '${executionId}'.`);
  return loaded;
}

/** An execution with its workers. */
export async function getExecution(deps: Deps, executionId: string): Promise<Loaded> {
  return load(deps, executionId);
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
export async function restartExecution(deps: Deps, executionId: string, opts: { fromFailure?: boolean }) {
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
  const head = { ...execution, status: 'Running' as const, endedAt: undefined, restarts: execution.restarts + 1 };
  await store.markActive(executionId); // first: a crash after the restart's write must leave it to the sweep
  try {
    await store.saveMany(executionId, reset, head);
  } catch (e) {
    if (e instanceof Conflict) throw conflict('ExecutionChanged', 'The execution changed while restarting; retry.');
    throw e;
  }
  deps.log.info('execution restarted', { executionId, workers: reset.length, fromFailure: !!opts.fromFailure });
  await advanceExecution(deps, executionId);
  return getExecution(deps, executionId);
}
