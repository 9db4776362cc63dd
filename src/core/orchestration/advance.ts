import { cancelRun } from '../runs/pacing';
import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, Throttled } from '../errors';
import type { ActivityError } from '../ports';
import { isTerminalRun, type TrackedRun } from '../runs/model';
import { startTrackedRun } from '../runs/start';
import { claimOf } from '../runs/api';
import { ignore, retryOnConflict } from '../retry';
import { addSeconds, iso, mapLimit } from '../util';
import { recordExecutionAlert } from './alerts';
import { checkLate } from './late';
import { cancelWorkerJob, enqueueWorker, syncQueuedWorkers } from './shared-limits';
import { executionEnded } from './callback';
import { deliver } from '../outbox/outbox';
import { reach } from '../crash';
import { currentMetadata } from './metadata-store';
import { workerKey, workerOwnerId, workerTrackId, type Execution, type Worker } from './model';
import { isTerminalWorker, plan, type WorkerStatus } from './rules';
import { ExecutionStore } from './store';

const inFlight = new WeakMap<object, Map<string, { again: boolean; done: Promise<void> }>>();

/**
 * Moves one execution forward: recover stuck starts, time out overdue workers, apply the failure rules,
 * start what the stage barrier and the cap allow, and finish the execution when every worker is terminal.
 * Calls for the same execution in one process coalesce (many callbacks → few passes); across instances
 * every change is an ETag-conditional write, so racing passes are safe.
 */
export function advanceExecution(deps: Deps, executionId: string): Promise<void> {
  let map = inFlight.get(deps.tables);
  if (!map) inFlight.set(deps.tables, (map = new Map<string, { again: boolean; done: Promise<void> }>()));
  const current = map.get(executionId);
  if (current) {
    current.again = true;
    return current.done;
  }
  const entry = { again: false, done: Promise.resolve() };
  entry.done = (async () => {
    try {
      do {
        entry.again = false;
        await advanceLoop(deps, executionId);
      } while (entry.again);
    } finally {
      map.delete(executionId);
    }
  })();
  map.set(executionId, entry);
  return entry.done;
}

async function advanceLoop(deps: Deps, executionId: string): Promise<void> {
  const store = new ExecutionStore(deps);
  for (let pass = 0; pass < 20; pass++) {
    const loaded = await store.load(executionId);
    if (!loaded) {
      // Marked active, but its head was never written (a crash inside the start): drop the mark once surely dead.
      await store.unmarkActiveBefore(executionId, iso(addSeconds(deps.clock.now(), -ORPHAN_ACTIVE_SECONDS)));
      return;
    }
    const { execution: e, workers } = loaded;
    if (e.status !== 'Running') {
      await closeExecution(deps, store, e);
      return;
    }
    let changed = await syncQueuedWorkers(deps, store, e, workers);
    changed = (await recoverStarting(deps, store, e, workers)) || changed;
    changed = (await timeOutOverdue(deps, store, e, workers)) || changed;
    if (changed) continue;

    if (await checkLate(deps, store, e, workers)) continue;
    const stageCaps = Object.fromEntries(Object.entries(e.stageCaps ?? {}).map(([name, cap]) => [e.stages.indexOf(name), cap]));
    const p = plan(workers, e.rules, e.maxConcurrentWorkers, { now: iso(deps.clock.now()), stageCaps });
    if (p.block.length) {
      const now = iso(deps.clock.now());
      const blocked = workers.filter((w) => p.block.includes(w.name)).map((w) => ({ ...w, status: 'Blocked' as const, endedAt: now }));
      await store.saveMany(executionId, blocked).catch(ignore(Conflict, NotFound));
      deps.log.info('workers blocked', { executionId, count: blocked.length });
      continue;
    }
    if (p.start.length) {
      const byName = new Map(workers.map((w) => [w.name, w]));
      await mapLimit(p.start, 8, (name) => startWorker(deps, store, e, byName.get(name) as Worker));
      continue;
    }
    if (p.outcome) await finishExecution(deps, store, e, p.outcome);
    return;
  }
}

/** Claims a worker's start (conditional write with its deterministic trackId); undefined when another pass has it. */
export async function claimWorker(store: ExecutionStore, e: Execution, w: Worker, status: 'Starting' | 'Waiting'): Promise<Worker | undefined> {
  try {
    return await store.saveWorker(e.executionId, { ...w, status, trackId: workerTrackId(e.executionId, w) });
  } catch (err) {
    if (err instanceof Conflict) return undefined; // another pass claimed it
    throw err;
  }
}

async function startWorker(deps: Deps, store: ExecutionStore, e: Execution, w: Worker): Promise<void> {
  if (w.queue) return enqueueWorker(deps, store, e, w);
  const claimed = await claimWorker(store, e, w, 'Starting');
  if (!claimed) return;
  const trackId = claimed.trackId as string;
  let run: TrackedRun;
  try {
    const res = await startTrackedRun(deps, {
      trackId,
      target: w.target,
      parameters: w.parameters,
      owner: { kind: 'worker', id: workerOwnerId(e.executionId, workerKey(w.stageIndex, w.name)) },
      ...(w.recoverRunId ? { recovery: { referencePipelineRunId: w.recoverRunId, startFromFailure: true } } : {}),
    });
    run = res.run;
  } catch (err) {
    if (err instanceof Throttled) {
      await store.saveWorker(e.executionId, { ...claimed, status: 'Pending', trackId: undefined }).catch(ignore(Conflict, NotFound));
      return;
    }
    if (err instanceof NotFound || err instanceof Rejected) {
      const code = err instanceof NotFound ? 'PipelineNotFound' : err.upstreamCode;
      await finishWorker(deps, store, e.executionId, claimed, 'Failed', { activity: '', code, message: err.message });
      return;
    }
    throw err; // storage trouble: the worker stays Starting and the next pass recovers it
  }
  await applyRun(deps, store, e.executionId, claimed, run);
  // A cancel that raced this start: do not leave an ADF run behind.
  const head = await store.head(e.executionId);
  if (head?.status === 'Cancelled' && run.runId && !isTerminalRun(run.status)) await cancelRun(deps, run.target, run.runId).catch(() => undefined);
}

/** Brings a worker up to date with its tracked run (Running once it has a runId; terminal once settled). */
async function applyRun(deps: Deps, store: ExecutionStore, executionId: string, w: Worker, run: TrackedRun): Promise<void> {
  if (isTerminalRun(run.status)) {
    await store.saveWorker(executionId, await settledWorker(deps, w, run)).catch(ignore(Conflict, NotFound));
    return;
  }
  if (run.runId && w.status !== 'Running') {
    await store
      .saveWorker(executionId, { ...w, status: 'Running', runId: run.runId, startedAt: run.runStart ?? iso(deps.clock.now()) })
      .catch(ignore(Conflict, NotFound));
  }
}

/** Workers left Starting (a crash, a lost response) are resolved from their tracked run before anything else. */
async function recoverStarting(deps: Deps, store: ExecutionStore, e: Execution, workers: Worker[]): Promise<boolean> {
  const stuck = workers.filter((w) => w.status === 'Starting' || (w.status === 'Running' && !w.runId));
  let changed = false;
  await mapLimit(stuck, 8, async (w) => {
    const run = w.trackId ? await claimOf(deps, w.trackId) : undefined;
    if (run) {
      if (run.runId || isTerminalRun(run.status)) {
        await applyRun(deps, store, e.executionId, w, run);
        changed = true;
      }
      return; // still Starting: the sweep's Reconcile step owns it
    }
    // No claim at all: the crash came between marking the worker and claiming. Claim again (same trackId).
    await store.saveWorker(e.executionId, { ...w, status: 'Pending', trackId: undefined }).catch(ignore(Conflict, NotFound));
    changed = true;
  });
  return changed;
}

async function timeOutOverdue(deps: Deps, store: ExecutionStore, e: Execution, workers: Worker[]): Promise<boolean> {
  const now = deps.clock.now();
  const overdue = workers.filter(
    (w) => w.status === 'Running' && w.timeoutSeconds !== undefined && w.startedAt && addSeconds(new Date(w.startedAt), w.timeoutSeconds) < now,
  );
  for (const w of overdue) {
    if (w.runId) await cancelRun(deps, w.target, w.runId);
    await finishWorker(deps, store, e.executionId, w, 'Failed', { activity: '', code: 'Timeout', message: `The worker exceeded its timeout of ${w.timeoutSeconds} s and was cancelled.` });
    deps.log.warn('worker timed out', { executionId: e.executionId, worker: w.name, runId: w.runId });
  }
  return overdue.length > 0;
}

async function finishWorker(deps: Deps, store: ExecutionStore, executionId: string, w: Worker, status: WorkerStatus, error?: ActivityError): Promise<void> {
  await store
    .saveWorker(executionId, { ...w, status, endedAt: iso(deps.clock.now()), ...(error ? { error } : {}) })
    .catch(ignore(Conflict, NotFound));
}

/** The failing activity's error, from queryActivityruns (every page). */
async function failureOf(deps: Deps, run: TrackedRun): Promise<ActivityError> {
  if (run.notStarted || !run.runId) return { activity: '', code: 'NotStarted', message: run.message ?? 'Data Factory did not start the run.' };
  try {
    const start = new Date(run.runStart ?? run.claimedAt);
    const end = new Date(run.runEnd ?? deps.clock.now());
    const errors = await deps.factory.activityErrors(run.target, run.runId, start, end);
    const last = errors[errors.length - 1];
    if (last) return last;
  } catch (e) {
    deps.log.warn('could not read activity errors', { runId: run.runId, error: (e as Error).name });
  }
  return { activity: '', code: '', message: run.message ?? 'The pipeline run failed.' };
}

/** Settler for owner kind `worker`: records the outcome and advances the execution at once. */
export async function settleWorkerRun(deps: Deps, run: TrackedRun): Promise<void> {
  const slash = run.owner.id.indexOf('/');
  const executionId = run.owner.id.slice(0, slash);
  const key = run.owner.id.slice(slash + 1);
  const store = new ExecutionStore(deps);
  const found = await retryOnConflict(
    deps,
    () => store.worker(executionId, key),
    async (w) => {
      if (w) await store.saveWorker(executionId, await settledWorker(deps, w, run)); // Conflict: already settled, or changed
      return !!w;
    },
    3,
  ).catch((e: unknown) => {
    if (e instanceof Conflict) return true; // nothing (left) to settle: the execution still advances
    throw e;
  });
  reach(deps, 'midStageSettle'); // the worker is settled, the stage not advanced
  if (found) await advanceExecution(deps, executionId);
}

async function settledWorker(deps: Deps, w: Worker, run: TrackedRun): Promise<Worker> {
  if (isTerminalWorker(w.status) || w.trackId !== run.trackId) throw new Conflict('nothing to settle');
  const status: WorkerStatus = run.status === 'Succeeded' || run.status === 'Cancelled' || run.status === 'Unknown' ? run.status : 'Failed';
  return finishedWorker(deps, w, status, run);
}

/**
 * A worker whose run ended `status` (its own run, or its queue job's): with its runId, times and, when it
 * failed, the failing activity's error; a failure with retries left becomes the next attempt instead.
 */
export async function finishedWorker(deps: Deps, w: Worker, status: WorkerStatus, run?: TrackedRun, error?: ActivityError, retryable = true): Promise<Worker> {
  const settled: Worker = {
    ...w,
    status,
    ...(run?.runId ? { runId: run.runId } : {}),
    startedAt: w.startedAt ?? run?.runStart ?? run?.claimedAt,
    endedAt: run?.runEnd ?? iso(deps.clock.now()),
    ...(status === 'Failed' ? { error: error ?? (run ? await failureOf(deps, run) : { activity: '', code: '', message: 'The worker failed.' }) } : {}),
  };
  return retryable && status === 'Failed' && w.retry && (w.retriesUsed ?? 0) < w.retry.count ? retryOf(deps, settled) : settled;
}

/**
 * A Failed run with retries left: the attempt goes into the worker's history and the worker waits
 * `retry.intervalSeconds` as Pending (a new attempt, so a new deterministic trackId), plain or from the failure.
 */
function retryOf(deps: Deps, failed: Worker): Worker {
  const retry = failed.retry as NonNullable<Worker['retry']>;
  const { runId, startedAt, endedAt, error } = failed;
  deps.log.info('worker failed; retrying', { worker: failed.name, runId, retry: (failed.retriesUsed ?? 0) + 1, of: retry.count, inSeconds: retry.intervalSeconds });
  return {
    ...failed,
    status: 'Pending',
    attempt: failed.attempt + 1,
    retriesUsed: (failed.retriesUsed ?? 0) + 1,
    history: [...(failed.history ?? []), { status: 'Failed', ...(runId ? { runId } : {}), ...(startedAt ? { startedAt } : {}), ...(endedAt ? { endedAt } : {}), ...(error ? { error } : {}) }],
    notBefore: iso(addSeconds(deps.clock.now(), retry.intervalSeconds)),
    recoverRunId: retry.fromFailure && runId ? runId : undefined,
    trackId: undefined,
    runId: undefined,
    startedAt: undefined,
    endedAt: undefined,
    error: undefined,
    lateAt: undefined,
    jobId: undefined,
  };
}

async function finishExecution(deps: Deps, store: ExecutionStore, e: Execution, outcome: Execution['status']): Promise<void> {
  let done: Execution;
  try {
    done = await store.saveHead({ ...e, status: outcome, endedAt: iso(deps.clock.now()) });
  } catch (err) {
    if (err instanceof Conflict) return;
    throw err;
  }
  deps.log.info('execution finished', { executionId: e.executionId, status: outcome });
  reach(deps, 'afterOutcome');
  await closeExecution(deps, store, done);
}

/** An active mark without an execution head is dropped after this long (the start that wrote it died). */
const ORPHAN_ACTIVE_SECONDS = 300;

/**
 * Everything an ended execution still owes, idempotent and in an order that survives a crash at any line:
 * a cancel's open workers are cancelled, the batch lock records the outcome, the alert is recorded in the
 * outbox; only then is the execution dropped from the active index (until then every pass comes back here).
 * The alert is then delivered at once; the sweep retries it if that fails.
 */
export async function closeExecution(deps: Deps, store: ExecutionStore, e: Execution): Promise<void> {
  if (e.status === 'Cancelled') await cancelOpenWorkers(deps, store, e.executionId);
  await releaseBatch(deps, e);
  const alert = await recordExecutionAlert(deps, e);
  await store.unmarkActive(e.executionId);
  await executionEnded(deps, e).catch((err: unknown) => deps.log.warn('execution callback not delivered yet; the sweep retries', { executionId: e.executionId, error: (err as Error).name }));
  if (alert) await deliver(deps, alert).catch((err: unknown) => deps.log.warn('alert not delivered yet; the sweep retries', { executionId: e.executionId, error: (err as Error).name }));
}

/** Cancels the ADF runs of the workers that are not finished (recursively) and marks them Cancelled. */
export async function cancelOpenWorkers(deps: Deps, store: ExecutionStore, executionId: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const loaded = await store.load(executionId);
    const open = (loaded?.workers ?? []).filter((w) => !isTerminalWorker(w.status));
    if (open.length === 0) return;
    await mapLimit(open, 8, async (w) => {
      if (w.queue && w.jobId) await cancelWorkerJob(deps, w); // frees (or leaves) its place in the queue, and cancels its run
      else if (w.runId) await cancelRun(deps, w.target, w.runId).catch((err: unknown) => deps.log.warn('cancel failed', { runId: w.runId, error: (err as Error).name }));
      await store.saveWorker(executionId, { ...w, status: 'Cancelled', endedAt: iso(deps.clock.now()) }).catch(ignore(Conflict, NotFound));
    });
  }
}

/** Records the execution's final status on its batch lock (if the lock is still this execution's). */
export async function releaseBatch(deps: Deps, e: Execution): Promise<void> {
  await new ExecutionStore(deps).releaseBatchLock(e);
}

/** Sweep step: advance every active execution (never the history). */
export async function advanceExecutions(deps: Deps): Promise<void> {
  const store = new ExecutionStore(deps);
  await mapLimit(await store.activeIds(), 4, (id) => advanceExecution(deps, id));
  await purgeOldExecutions(deps);
}

/** Retention: drops executions that started more than `executionRetentionDays` ago, a few per pass. */
export async function purgeOldExecutions(deps: Deps): Promise<void> {
  const store = new ExecutionStore(deps);
  // The metadata's `executionRetentionDays` wins; the app setting covers a store with no metadata yet.
  const days = (await currentMetadata(deps))?.metadata.properties.executionRetentionDays ?? deps.settings.executionRetentionDays;
  const cutoff = iso(addSeconds(deps.clock.now(), -days * 86_400));
  for (const id of await store.purge(cutoff, 10)) deps.log.info('execution purged (retention)', { executionId: id });
}
