import { reach } from '../crash';
import { pauseDecided } from './callback';
import type { Deps } from '../deps';
import { Conflict, NotFound, Rejected, Throttled, Unavailable } from '../errors';
import type { PipelineTarget } from '../ports';
import type { TrackedRun } from '../runs/model';
import { attemptLeaseSeconds, reconcileClaim, startTrackedRun } from '../runs/start';
import { claimOf } from '../runs/api';
import { ignore, retryOnConflict } from '../retry';
import { addSeconds, iso } from '../util';
import {
  alreadyDecided,
  continuationNotFound,
  continuationRejected,
  factoryUnavailable,
  startNotConfirmed,
  tokenExpired,
  tokenNotFound,
} from './errors';
import { continuationParameters, trackIdFor, type Decision, type Pause, type RunSpec } from './model';
import { PauseStore } from './store';

/** How long a decision's holder may take to start its pipeline before a retry (or the sweep) may take over. */
/** A decision carries out one start: its lease covers that start's own lease, plus the write that records it. */
export const decisionLeaseSeconds = (deps: Pick<Deps, 'factory'>) => attemptLeaseSeconds(deps) + 15;

const pastExpiry = (p: Pause, now: Date) => iso(now) >= p.expiresAt;
const leaseLive = (p: Pause, now: Date) => !!p.leaseUntil && p.leaseUntil > iso(now);
const refusal = (p: Pause) => (p.status === 'Expired' ? tokenExpired(p) : alreadyDecided(p));
const pending = (run: TrackedRun) => run.status === 'Starting' && !run.runId;

/**
 * What the confirmation page (GET/HEAD) shows. Read-only: it never writes, whatever it finds, because
 * mail scanners prefetch links. A Waiting pause, or a decision whose start was not confirmed, is open.
 */
export async function openPause(deps: Deps, token: string): Promise<Pause> {
  const pause = await new PauseStore(deps.tables).byToken(token);
  if (!pause) throw tokenNotFound();
  const now = deps.clock.now();
  if (pause.status === 'Waiting' && !pastExpiry(pause, now)) return pause;
  if (pause.status === 'Waiting') throw tokenExpired(pause);
  if (pause.status === 'Deciding' && !leaseLive(pause, now)) return pause;
  throw refusal(pause);
}

/**
 * RestartPipeline's POST. Exactly one decision wins the conditional write out of `Waiting`; every other
 * concurrent request re-reads and gets AlreadyDecided. The winner starts the continuation (approve) or
 * onReject (reject) through the tracked-run path with a deterministic trackId.
 */
export async function decidePause(deps: Deps, token: string, decision: Decision): Promise<Pause> {
  const store = new PauseStore(deps.tables);
  let pause = await store.byToken(token);
  if (!pause) throw tokenNotFound();
  for (let round = 0; round < 5; round++) {
    const now = deps.clock.now();
    const lease = iso(addSeconds(now, decisionLeaseSeconds(deps)));
    let claimed: Pause | undefined;
    try {
      if (pause.status === 'Waiting' && pastExpiry(pause, now)) {
        const expired = await store.save({ ...pause, status: 'Expired' });
        throw tokenExpired(expired);
      }
      if (pause.status === 'Waiting' && decision === 'reject' && !pause.onReject) {
        const rejected = await store.save({ ...pause, status: 'Rejected', decision, decidedAt: iso(now) });
        deps.log.info('pause decided', { pauseId: pause.pauseId, decision });
        await pauseDecided(deps, rejected);
        return rejected;
      }
      if (pause.status === 'Waiting') {
        await store.markDeciding(pause.pauseId, iso(now));
        claimed = await store.save({ ...pause, status: 'Deciding', decision, decidedAt: iso(now), leaseUntil: lease });
      } else if (pause.status === 'Deciding' && pause.decision === decision && !leaseLive(pause, now)) {
        // A decision whose start was not confirmed: this request retries it.
        claimed = await store.save({ ...pause, leaseUntil: lease });
      } else {
        throw refusal(pause);
      }
    } catch (e) {
      if (!(e instanceof Conflict)) throw e;
      // Lost the race: re-read and decide again on what won.
      pause = await store.get(pause.pauseId);
      if (!pause) throw tokenNotFound();
      continue;
    }
    reach(deps, 'afterPauseDecision');
    return carryOut(deps, store, claimed);
  }
  throw alreadyDecided(pause);
}

/**
 * Starts the decision's pipeline for a pause we hold in `Deciding`, then records the outcome.
 * - Nothing started (no claim left: throttled, unknown pipeline, refused): the pause reopens to Waiting.
 * - Outcome unknown (a claim is left without a runId): the lease is released; a retry, or the sweep once
 *   the run reconciler resolved the claim, finishes it. Never two runs: the trackId is deterministic.
 */
export async function carryOut(deps: Deps, store: PauseStore, pause: Pause): Promise<Pause> {
  const decision = pause.decision ?? 'approve';
  const spec: RunSpec | undefined = decision === 'approve' ? pause.continuation && { target: pause.continuation.target, parameters: continuationParameters(pause) } : pause.onReject;
  if (!spec) return recordDecision(deps, store, pause);
  const trackId = trackIdFor(pause.pauseId, decision);
  let run: TrackedRun;
  try {
    const started = await startTrackedRun(deps, { trackId, target: spec.target, parameters: spec.parameters, owner: { kind: 'pause', id: pause.pauseId } });
    run = started.run;
    // An earlier attempt's claim: adopt what ADF created (or start it again once the grace period has passed).
    if (started.kind === 'existing' && pending(run)) run = await reconcileClaim(deps, trackId, { mayRestart: true });
  } catch (e) {
    return startFailed(deps, store, pause, trackId, spec.target, e);
  }
  if (pending(run)) {
    await release(store, { ...pause, trackId });
    deps.log.warn('decision start not confirmed; kept for a retry or the sweep', { pauseId: pause.pauseId, trackId });
    throw startNotConfirmed(pause);
  }
  return recordDecision(deps, store, pause, run);
}

async function startFailed(deps: Deps, store: PauseStore, pause: Pause, trackId: string, target: PipelineTarget, e: unknown): Promise<Pause> {
  const claim = await claimOf(deps, trackId).catch(() => 'unknown' as const);
  const error = e instanceof Error ? e.name : 'Error';
  if (claim !== undefined) {
    await release(store, { ...pause, trackId });
    deps.log.warn('decision start not confirmed; kept for a retry or the sweep', { pauseId: pause.pauseId, trackId, error });
    throw startNotConfirmed(pause, e instanceof Unavailable || e instanceof Throttled ? e.retryAfter : 5);
  }
  const definitive = e instanceof NotFound || e instanceof Rejected;
  // A rejection stands even when its onReject pipeline cannot run: the continuation must not run either way.
  if (pause.decision === 'reject' && definitive) return recordDecision(deps, store, pause, undefined, 'NotStarted');
  deps.log.warn('decision not carried out; the pause is Waiting again', { pauseId: pause.pauseId, error });
  await reopen(store, pause);
  if (e instanceof NotFound) throw continuationNotFound(pause, target.pipeline, target.factory);
  if (e instanceof Rejected) throw continuationRejected(pause, target.pipeline, e.upstreamCode);
  if (e instanceof Throttled || e instanceof Unavailable) throw factoryUnavailable(pause, e.retryAfter);
  throw e;
}

/** Deciding → Approved/Rejected with the run. Idempotent: whoever records first wins, the rest read it. */
export async function recordDecision(deps: Deps, store: PauseStore, pause: Pause, run?: TrackedRun, runStatus?: string): Promise<Pause> {
  const final = pause.decision === 'reject' ? 'Rejected' : 'Approved';
  let reads = 0;
  const current = await retryOnConflict(
    deps,
    async () => (reads++ === 0 ? pause : store.get(pause.pauseId)),
    async (current) => {
      if (!current || current.status !== 'Deciding') return current;
      const saved = await store.save({
        ...current,
        status: final,
        leaseUntil: undefined,
        ...(run ? { trackId: run.trackId, runStatus: run.notStarted ? 'NotStarted' : run.status } : {}),
        ...(run?.runId ? { runId: run.runId } : {}),
        ...(runStatus ? { runStatus } : {}),
      });
      await store.unmarkDeciding(pause.pauseId);
      deps.log.info('pause decided', { pauseId: pause.pauseId, decision: pause.decision, runId: saved.runId });
      return saved;
    },
  ).catch(async (e: unknown) => {
    if (!(e instanceof Conflict)) throw e;
    return store.get(pause.pauseId);
  });
  if (!current) throw tokenNotFound();
  await pauseDecided(deps, current);
  return current;
}

/** Nothing was started: back to Waiting, so the approver can try again (or decide otherwise). */
async function reopen(store: PauseStore, p: Pause): Promise<void> {
  await store
    .save({ ...p, status: 'Waiting', decision: undefined, decidedAt: undefined, leaseUntil: undefined, trackId: undefined })
    .catch(ignore(Conflict, NotFound));
  await store.unmarkDeciding(p.pauseId);
}

/** The start's outcome is unknown: keep the decision, let the next attempt take over at once. */
async function release(store: PauseStore, p: Pause): Promise<void> {
  await store.save({ ...p, leaseUntil: '' }).catch(ignore(Conflict, NotFound));
}
