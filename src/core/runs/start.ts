/**
 * The one start path, as a small state machine: claim → attempt → record | reconcile (adopt | retry | give up).
 *
 *   claim ──► attempt ──ok──► record ──► done
 *               │ Unavailable (ADF may have created it)       ▲
 *               ▼                                             │
 *            reconcile ──adopt (ADF has it)──► record ────────┘
 *               │ none, may restart, lease free ──► attempt (once)
 *               │ adopt-only ──► ended, not started
 *               └ otherwise ──► done (still Starting: the sweep's Reconcile step comes back)
 *
 * Definitive refusals (NotFound, Rejected) and throttling of the first, inline attempt remove the claim and
 * are rethrown: nothing was started. Each transition is a function of its own (unit-tested one by one).
 * The claim holds a lease while its createRun may be in flight, so nobody starts it again behind a slow
 * request. Never two runs.
 */
import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, Throttled, Unavailable } from '../errors';
import type { PipelineTarget, RunUpdate, StartOptions } from '../ports';
import { retryOnConflict } from '../retry';
import { reach } from '../crash';
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

export interface ReconcileOptions {
  /** Start it again when ADF has no such run. */
  mayRestart: boolean;
  /** Do not wait for the grace period (the caller just saw the attempt fail). */
  force?: boolean;
  /** The caller made the attempt in flight, so the claim's lease is its own. */
  holdsLease?: boolean;
}

/** Where the machine is. `inline`: the first attempt, made by the request that claimed. */
export type Step =
  | { kind: 'attempt'; run: TrackedRun; inline: boolean; mayRestartAfter: boolean }
  | { kind: 'record'; run: TrackedRun; runId: string; seen?: RunUpdate }
  | { kind: 'reconcile'; run: TrackedRun; opts: ReconcileOptions }
  | { kind: 'done'; run: TrackedRun };

/** Beyond the factory's own createRun timeout: the record write after the answer, and clock skew between instances. */
export const LEASE_MARGIN_SECONDS = 15;
/**
 * How long a createRun attempt may be in flight: the factory client's own timeout (ArmFactory: 60 s) plus a
 * margin. A claim orphaned by a crash is therefore reconciled about a minute and a quarter later, not after
 * the Functions timeout. The attempt renews the lease if pacing made it wait (see `attempt`).
 */
export const attemptLeaseSeconds = (deps: Pick<Deps, 'factory'>) => deps.factory.startTimeoutSeconds + LEASE_MARGIN_SECONDS;
const leaseEnd = (deps: Deps) => iso(addSeconds(deps.clock.now(), attemptLeaseSeconds(deps)));
const leaseHeld = (deps: Deps, run: TrackedRun) => run.leaseUntil !== undefined && run.leaseUntil > iso(deps.clock.now());

/** Claim → attempt → …, for a new start. */
export async function startTrackedRun(deps: Deps, req: StartRequest): Promise<StartResult> {
  const store = new RunStore(deps);
  const claimed = await claim(deps, store, req);
  if (claimed.kind === 'existing') return claimed;
  const done = await drive(deps, store, { kind: 'attempt', run: claimed.run, inline: true, mayRestartAfter: true });
  if (done.runId || done.status !== 'Starting') return { kind: 'started', run: done };
  // The attempt is over without an answer: the sweep takes over, or, for an anonymous caller who was
  // told to retry, nobody starts it again (adopt-only).
  const anonymous = req.trackId === undefined && req.owner.kind === 'none';
  const released = await releaseLease(deps, store, done, anonymous);
  if (anonymous && !released.runId && released.status === 'Starting') {
    deps.log.warn('createRun outcome unknown; the caller is told to retry and the claim only adopts', { trackId: done.trackId });
    throw new Unavailable('Data Factory did not confirm the start');
  }
  return { kind: 'started', run: released };
}

/**
 * Resolves a claim that has no runId: adopt the run ADF did create, or, when ADF has none and `mayRestart`,
 * start it again (never while another caller's attempt may be in flight, never for an adopt-only claim).
 * Used by the sweep's Reconcile step for claims older than the grace period.
 */
export async function reconcileClaim(deps: Deps, trackId: string, opts: ReconcileOptions): Promise<TrackedRun> {
  const store = new RunStore(deps);
  const run = await store.get(trackId);
  if (!run) throw new NotFound(`no claim ${trackId}`);
  const done = await drive(deps, store, { kind: 'reconcile', run, opts });
  return opts.holdsLease ? done : releaseLease(deps, store, done, false);
}

/** Runs the machine to `done`. Every path is bounded: one restart at most, then adopt-only reconciles. */
async function drive(deps: Deps, store: RunStore, first: Step): Promise<TrackedRun> {
  let step = first;
  for (;;) {
    switch (step.kind) {
      case 'attempt':
        step = await attempt(deps, store, step);
        break;
      case 'record':
        step = await record(deps, store, step);
        break;
      case 'reconcile':
        step = await reconcile(deps, store, step).catch(async (e: unknown) => {
          // Data Factory cannot be asked right now: the claim stays as it is for the next try.
          if (!(e instanceof Unavailable) && !(e instanceof Throttled)) throw e;
          return { kind: 'done' as const, run: (await store.get(step.run.trackId)) ?? step.run };
        });
        break;
      case 'done':
        return step.run;
    }
  }
}

/** claim: the index row and the record, with a lease for the attempt. An existing claim is returned as is. */
export async function claim(deps: Deps, store: RunStore, req: StartRequest): Promise<StartResult> {
  const trackId = req.trackId ?? deps.ids.newId();
  try {
    const run = await store.insert({
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
    return { kind: 'started', run };
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    const existing = await store.get(trackId);
    if (!existing) throw e;
    return { kind: 'existing', run: existing };
  }
}

/** attempt: one createRun, paced to ARM's write budget. */
export async function attempt(deps: Deps, store: RunStore, step: Extract<Step, { kind: 'attempt' }>): Promise<Step> {
  const { inline } = step;
  let { run } = step;
  await writePacer.take(deps, run.target.subscriptionId);
  // Pacing may have waited: the lease must still cover the whole createRun, or a reconciler could start it too.
  if (!run.leaseUntil || run.leaseUntil < iso(addSeconds(deps.clock.now(), deps.factory.startTimeoutSeconds + 5))) {
    try {
      run = await store.save({ ...run, leaseUntil: leaseEnd(deps) });
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      return { kind: 'done', run: (await store.get(run.trackId)) ?? run }; // someone else moved the claim on
    }
  }
  reach(deps, 'afterClaim');
  try {
    const { runId } = await deps.factory.start(run.target, run.parameters, run.recovery ? { recovery: run.recovery } : undefined);
    deps.log.info('run started', { trackId: run.trackId, runId, pipeline: run.target.pipeline, attempt: run.attempt });
    reach(deps, 'afterCreateRun');
    return { kind: 'record', run, runId };
  } catch (e) {
    if (e instanceof Throttled) await writePacer.throttled(deps, run.target.subscriptionId, e.retryAfter);
    if (e instanceof Unavailable) {
      deps.log.warn('createRun outcome unknown; reconciling', { trackId: run.trackId, pipeline: run.target.pipeline });
      return { kind: 'reconcile', run, opts: { mayRestart: step.mayRestartAfter, force: true, holdsLease: true } };
    }
    const definitive = e instanceof NotFound || e instanceof Rejected;
    if (inline && (definitive || e instanceof Throttled)) {
      await store.removeClaim(run);
      throw e;
    }
    if (definitive) return { kind: 'done', run: await endNotStarted(deps, store, run, e.message) };
    if (e instanceof Throttled) return { kind: 'done', run }; // stays Starting for the next pass
    throw e;
  }
}

/**
 * record: the runId index (an atomic claim of that ADF run), then the run record and its index row.
 * Losing the runId to another claim means that claim adopted our run while its own answer was lost:
 * the two are interchangeable, so this one adopts in turn (never starts another).
 */
export async function record(deps: Deps, store: RunStore, step: Extract<Step, { kind: 'record' }>): Promise<Step> {
  const { run, runId, seen } = step;
  try {
    await store.indexRunId(runId, run.trackId);
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    return { kind: 'reconcile', run, opts: { mayRestart: false, force: true } };
  }
  let reads = 0;
  const saved = await retryOnConflict(
    deps,
    async () => (reads++ === 0 ? run : store.get(run.trackId)),
    async (current) => {
      if (!current) throw new NotFound(`claim ${run.trackId} is gone`);
      if (current.runId) return current;
      return store.save({
        ...current,
        runId,
        status: seen?.status ?? 'Queued',
        ...(seen?.runStart ? { runStart: seen.runStart } : {}),
        ...(seen?.lastUpdated ? { lastUpdated: seen.lastUpdated } : {}),
      });
    },
  );
  await store.mirror(saved, iso(deps.clock.now()));
  reach(deps, 'afterRecord');
  return { kind: 'done', run: saved };
}

/**
 * reconcile: adopt the run ADF created for this claim (same pipeline and parameters, inside the claim's time
 * window, not owned by another claim); else retry once if allowed, end an adopt-only claim, or leave it.
 */
export async function reconcile(deps: Deps, store: RunStore, step: Extract<Step, { kind: 'reconcile' }>): Promise<Step> {
  const { opts } = step;
  const run = (await store.get(step.run.trackId)) ?? step.run;
  if (run.runId || run.status !== 'Starting') return { kind: 'done', run };

  const adopted = await findAdoptable(deps, store, run);
  if (adopted) {
    deps.log.info('claim adopted the run ADF created', { trackId: run.trackId, runId: adopted.runId });
    return { kind: 'record', run, runId: adopted.runId, seen: adopted };
  }

  const ageSeconds = (deps.clock.now().getTime() - new Date(run.claimedAt).getTime()) / 1000;
  if (!opts.mayRestart || (!opts.force && ageSeconds < deps.settings.reconcileGraceSeconds)) return { kind: 'done', run };
  if (!opts.holdsLease && leaseHeld(deps, run)) return { kind: 'done', run }; // an attempt may still be in flight
  if (run.adoptOnly) {
    deps.log.info('adopt-only claim: Data Factory has no such run; dropping it', { trackId: run.trackId });
    return { kind: 'done', run: await endNotStarted(deps, store, run, 'Data Factory did not start this run; the caller was told to retry.') };
  }
  // ADF has no such run: start it again, once per attempt number (the conditional write elects one reconciler).
  try {
    const bumped = await store.save({ ...run, attempt: run.attempt + 1, leaseUntil: leaseEnd(deps) });
    return { kind: 'attempt', run: bumped, inline: false, mayRestartAfter: false };
  } catch (e) {
    if (!(e instanceof Conflict)) throw e;
    return { kind: 'done', run: (await store.get(run.trackId)) ?? run };
  }
}

/** The oldest run of this pipeline and parameters in the claim's window that no other claim owns. */
async function findAdoptable(deps: Deps, store: RunStore, run: TrackedRun): Promise<RunUpdate | undefined> {
  const since = addSeconds(new Date(run.claimedAt), -deps.settings.feedOverlapSeconds - 60);
  const until = addSeconds(deps.clock.now(), 60);
  const candidates: RunUpdate[] = [];
  for await (const u of deps.factory.changedRuns(factoryOf(run.target), since, until, { pipelines: [run.target.pipeline] })) {
    if (u.pipeline === run.target.pipeline && sameParams(run.parameters, u.parameters)) candidates.push(u);
  }
  candidates.sort((a, b) => (a.runStart ?? '').localeCompare(b.runStart ?? ''));
  for (const c of candidates) {
    const owner = await store.trackIdOf(c.runId);
    if (!owner || owner === run.trackId) return c;
  }
  return undefined;
}

/** ADF definitively refused: an anonymous claim goes away, an owned one ends Failed (it must still reach its owner). */
async function endNotStarted(deps: Deps, store: RunStore, run: TrackedRun, message: string): Promise<TrackedRun> {
  const ended: TrackedRun = { ...run, status: 'Failed', notStarted: true, message, runEnd: iso(deps.clock.now()) };
  if (run.owner.kind === 'none') {
    await store.removeClaim(run);
    return ended;
  }
  return store.save(ended);
}

/** Drops the lease of an attempt that ended without an answer (and marks an anonymous claim adopt-only). */
async function releaseLease(deps: Deps, store: RunStore, run: TrackedRun, adoptOnly: boolean): Promise<TrackedRun> {
  let reads = 0;
  const released = await retryOnConflict(
    deps,
    async () => (reads++ === 0 ? run : store.get(run.trackId)),
    async (current) => {
      if (!current || current.runId || current.status !== 'Starting') return current;
      const { leaseUntil: _released, ...rest } = current;
      return store.save({ ...rest, ...(adoptOnly ? { adoptOnly } : {}) });
    },
  ).catch(async (e: unknown) => {
    if (!(e instanceof Conflict)) throw e;
    return store.get(run.trackId);
  });
  return released ?? run;
}
