import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, Throttled, Unavailable } from '../errors';
import type { PipelineTarget, RunUpdate, StartOptions } from '../ports';
import { addSeconds, iso } from '../util';
import { factoryOf, sameParams, type Owner, type TrackedRun } from './model';
import { writePacer } from './pacing';
import { RunStore } from './store';

export interface StartRequest {
  /** Deterministic for owned starts (so a retry after a crash finds its own claim); random otherwise. */
  trackId?: string;
  target: PipelineTarget;
  parameters: Record<string, unknown>;
  owner: Owner;
  requestHash?: string;
  recovery?: StartOptions['recovery'];
}

export type StartResult =
  /** The claim is ours and ADF has (or will be reconciled to) one run for it. */
  | { kind: 'started'; run: TrackedRun }
  /** The trackId was already claimed (a concurrent or earlier start): here is that claim. */
  | { kind: 'existing'; run: TrackedRun };

/**
 * The one start path: claim → createRun → record runId.
 * - A definitive refusal (NotFound, Rejected, Throttled) removes the claim and is rethrown: nothing was started.
 * - An ambiguous failure (Unavailable: ADF may have created the run) is reconciled at once; if ADF shows
 *   no such run it is started again exactly once more. If that is still ambiguous (or ADF cannot be asked):
 *   - a claim someone can come back to (a deterministic `trackId`, or an owner) stays `Starting` and the
 *     sweep's Reconcile step finishes it: the result is `started` with no runId yet;
 *   - an anonymous claim (random trackId, no owner) becomes adopt-only and Unavailable is thrown: the caller
 *     is told to retry, so the sweep may adopt the run ADF did create but never starts one itself.
 * The claim holds a lease while its createRun may be in flight, so the sweep never starts it a second time
 * behind a slow request. Never two runs.
 */
export async function startTrackedRun(deps: Deps, req: StartRequest): Promise<StartResult> {
  const store = new RunStore(deps.tables);
  const trackId = req.trackId ?? deps.ids.newId();
  let run: TrackedRun;
  try {
    run = await store.insert({
      trackId,
      status: 'Starting',
      target: req.target,
      parameters: req.parameters,
      owner: req.owner,
      claimedAt: iso(deps.clock.now()),
      attempt: 1,
      settled: false,
      leaseUntil: leaseEnd(deps),
      ...(req.requestHash ? { requestHash: req.requestHash } : {}),
      ...(req.recovery ? { recovery: req.recovery } : {}),
    });
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    const existing = await store.get(trackId);
    if (!existing) throw e;
    return { kind: 'existing', run: existing };
  }
  const done = await createAndRecord(deps, store, run, 'inline');
  if (done.runId || done.status !== 'Starting') return { kind: 'started', run: done };
  const anonymous = req.trackId === undefined && req.owner.kind === 'none';
  const released = await releaseLease(store, done, anonymous);
  if (anonymous && !released.runId && released.status === 'Starting') {
    deps.log.warn('createRun outcome unknown; the caller is told to retry and the claim only adopts', { trackId });
    throw new Unavailable('Data Factory did not confirm the start');
  }
  return { kind: 'started', run: released };
}

/**
 * How long a createRun attempt may be in flight. The Functions host stops an invocation after its
 * functionTimeout (5 min, host.json) and ArmFactory aborts a createRun long before that.
 */
export const ATTEMPT_LEASE_SECONDS = 300;
const leaseEnd = (deps: Deps) => iso(addSeconds(deps.clock.now(), ATTEMPT_LEASE_SECONDS));
const leaseHeld = (deps: Deps, run: TrackedRun) => run.leaseUntil !== undefined && run.leaseUntil > iso(deps.clock.now());

/** The attempt is over without an answer: let the sweep (or nobody, for adopt-only) take over. */
async function releaseLease(store: RunStore, run: TrackedRun, adoptOnly: boolean): Promise<TrackedRun> {
  for (let i = 0, current: TrackedRun | undefined = run; i < 5 && current; i++) {
    if (current.runId || current.status !== 'Starting') return current;
    try {
      const { leaseUntil: _released, ...rest } = current;
      return await store.save({ ...rest, ...(adoptOnly ? { adoptOnly } : {}) });
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      current = await store.get(run.trackId);
    }
  }
  return (await store.get(run.trackId)) ?? run;
}

async function createAndRecord(deps: Deps, store: RunStore, run: TrackedRun, mode: 'inline' | 'reconcile'): Promise<TrackedRun> {
  await writePacer.take(deps, run.target.subscriptionId);
  let runId: string;
  try {
    ({ runId } = await deps.factory.start(run.target, run.parameters, run.recovery ? { recovery: run.recovery } : undefined));
  } catch (e) {
    if (e instanceof Throttled) await writePacer.throttled(deps, run.target.subscriptionId, e.retryAfter);
    if (e instanceof Unavailable) {
      deps.log.warn('createRun outcome unknown; reconciling', { trackId: run.trackId, pipeline: run.target.pipeline });
      return reconcileOrKeep(deps, store, run, { mayRestart: mode === 'inline', force: true, holdsLease: true });
    }
    const definitive = e instanceof NotFound || e instanceof Rejected;
    if (mode === 'inline' && (definitive || e instanceof Throttled)) {
      await store.removeClaim(run);
      throw e;
    }
    if (mode === 'reconcile' && definitive) return endNotStarted(deps, store, run, e.message);
    throw e; // Throttled while reconciling: stays Starting for the next pass
  }
  deps.log.info('run started', { trackId: run.trackId, runId, pipeline: run.target.pipeline, attempt: run.attempt });
  try {
    return await recordRunId(deps, store, run, runId);
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    // Another claim for the same pipeline and parameters adopted our run while its own answer was lost:
    // its run is ours to adopt now (the two are interchangeable). Starting another would make two.
    return reconcileOrKeep(deps, store, run, { mayRestart: false, force: true });
  }
}

/** Reconciles; when Data Factory cannot be asked right now the claim stays as it is for the next try. */
async function reconcileOrKeep(deps: Deps, store: RunStore, run: TrackedRun, opts: ReconcileOptions): Promise<TrackedRun> {
  try {
    return await reconcileClaim(deps, run.trackId, opts);
  } catch (e) {
    if (!(e instanceof Unavailable) && !(e instanceof Throttled)) throw e;
    return (await store.get(run.trackId)) ?? run;
  }
}

/** ADF definitively refused a reconciling start: an anonymous claim goes away, an owned one ends Failed. */
async function endNotStarted(deps: Deps, store: RunStore, run: TrackedRun, message: string): Promise<TrackedRun> {
  const ended: TrackedRun = { ...run, status: 'Failed', notStarted: true, message, runEnd: iso(deps.clock.now()) };
  if (run.owner.kind === 'none') {
    await store.removeClaim(run);
    return ended;
  }
  // An owned claim must still reach its owner: it ends Failed, never started.
  return store.save(ended);
}

/** Records the runId: the runId index (an atomic claim of that ADF run) then the run record. */
async function recordRunId(deps: Deps, store: RunStore, run: TrackedRun, runId: string, seen?: RunUpdate): Promise<TrackedRun> {
  await store.indexRunId(runId, run.trackId);
  let current = run;
  for (let i = 0; i < 5; i++) {
    if (current.runId) return current;
    try {
      const saved = await store.save({
        ...current,
        runId,
        status: seen?.status ?? 'Queued',
        ...(seen?.runStart ? { runStart: seen.runStart } : {}),
        ...(seen?.lastUpdated ? { lastUpdated: seen.lastUpdated } : {}),
      });
      await store.mirror(saved, iso(deps.clock.now()));
      return saved;
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      const fresh = await store.get(run.trackId);
      if (!fresh) throw e;
      current = fresh;
    }
  }
  return current;
}

export interface ReconcileOptions {
  /** Start it again when ADF has no such run. */
  mayRestart: boolean;
  /** Do not wait for the grace period (the caller just saw the attempt fail). */
  force?: boolean;
  /** The caller made the attempt in flight, so the claim's lease is its own. */
  holdsLease?: boolean;
}

/**
 * Resolves a claim that has no runId: adopt the run ADF did create (same pipeline, parameters and time
 * window, not owned by another tracked run) or, when ADF has none and `mayRestart`, start it again
 * (never while another caller's attempt may be in flight, never for an adopt-only claim).
 * Used inline after a lost response and by the sweep for claims older than the grace period.
 */
export async function reconcileClaim(deps: Deps, trackId: string, opts: ReconcileOptions): Promise<TrackedRun> {
  const store = new RunStore(deps.tables);
  const run = await store.get(trackId);
  if (!run) throw new NotFound(`no claim ${trackId}`);
  if (run.runId || run.status !== 'Starting') return run;

  const since = addSeconds(new Date(run.claimedAt), -deps.settings.feedOverlapSeconds - 60);
  const until = addSeconds(deps.clock.now(), 60);
  const candidates: RunUpdate[] = [];
  for await (const u of deps.factory.changedRuns(factoryOf(run.target), since, until, { pipelines: [run.target.pipeline] })) {
    if (u.pipeline === run.target.pipeline && sameParams(run.parameters, u.parameters)) candidates.push(u);
  }
  candidates.sort((a, b) => (a.runStart ?? '').localeCompare(b.runStart ?? ''));
  for (const c of candidates) {
    const owner = await store.trackIdOf(c.runId);
    if (owner && owner !== trackId) continue;
    try {
      deps.log.info('claim adopted the run ADF created', { trackId, runId: c.runId });
      return await recordRunId(deps, store, run, c.runId, c);
    } catch (e) {
      if (!(e instanceof Conflict)) throw e; // another claim adopted it first: try the next candidate
    }
  }

  const ageSeconds = (deps.clock.now().getTime() - new Date(run.claimedAt).getTime()) / 1000;
  if (!opts.mayRestart || (!opts.force && ageSeconds < deps.settings.reconcileGraceSeconds)) return run;
  if (!opts.holdsLease && leaseHeld(deps, run)) return run; // an attempt may still be in flight
  if (run.adoptOnly) {
    deps.log.info('adopt-only claim: Data Factory has no such run; dropping it', { trackId });
    return endNotStarted(deps, store, run, 'Data Factory did not start this run; the caller was told to retry.');
  }

  // ADF has no such run: start it again, once per attempt number (the conditional write elects one reconciler).
  let bumped: TrackedRun;
  try {
    bumped = await store.save({ ...run, attempt: run.attempt + 1, leaseUntil: leaseEnd(deps) });
  } catch (e) {
    if (e instanceof Conflict) return (await store.get(trackId)) ?? run;
    throw e;
  }
  let done: TrackedRun;
  try {
    done = await createAndRecord(deps, store, bumped, 'reconcile');
  } catch (e) {
    if (!(e instanceof Throttled)) throw e;
    done = bumped;
  }
  return opts.holdsLease ? done : releaseLease(store, done, false);
}
