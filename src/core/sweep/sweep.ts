import type { Deps } from '../deps';
import { advanceExecutions, settleWorkerRun } from '../orchestration/advance';
import { pokeWorkersOfQueue } from '../orchestration/shared-limits';
import { notFound } from '../errors';
import type { TrackedRun } from '../runs/model';
import { observeAndSettle, observeOne, type Settlers } from '../runs/observe';
import { advanceQueues, settleJobRun } from '../queues/advance';
import { expirePauses, settlePauseRun } from '../pauses/sweep';
import { deliverOutbox, type AlertOutcomes, type CallbackOutcomes } from '../outbox/outbox';
import { pauseAlert } from '../pauses/alerts';
import { jobAlert } from '../queues/alerts';
import { executionOutcome } from '../orchestration/callback';
import { jobOutcome } from '../queues/callback';
import { pauseOutcome } from '../pauses/callback';
import { runOutcome, settleCallbackRun } from '../runs/callback';

/** Where an alert watch's email is read once its owner decided, by owner area. */
export const alertOutcomes: AlertOutcomes = {
  pause: pauseAlert,
  job: jobAlert,
};

/** Who is told when a tracked run ends, by owner kind. One line per area. */
export const settlers: Settlers = {
  pause: settlePauseRun,
  // A job that ran for an execution's worker (a shared limit) moves that execution on at once.
  job: async (deps, run) => {
    await settleJobRun(deps, run);
    await pokeWorkersOfQueue(deps, run);
  },
  worker: settleWorkerRun,
  none: settleCallbackRun,
};

/** Where a waiting callback's outcome is read, by owner area: the sweep delivers what no decision path did. */
export const callbackOutcomes: CallbackOutcomes = {
  pause: pauseOutcome,
  execution: executionOutcome,
  job: jobOutcome,
  run: runOutcome,
};

export interface SweepReport {
  active: number;
  changed: number;
  settled: number;
  staleChecks: number;
  /** ARM reads of Observe (feed pages, re-check pages, GETs). */
  armReads: number;
  unknown: number;
  reconciled: number;
  errors: number;
  ms: number;
}

/**
 * One pass. Per factory: Observe (the change feed, stale re-checks by the page), Reconcile (claims left
 * without a runId) and Settle (owners, exactly once); then Advance, area by area. Reconcile runs inside
 * each factory's Observe step, so a claim it resolves is settled in the same pass.
 * Idempotent and safe to interrupt at any line: the next pass finishes the work.
 */
export async function runSweep(deps: Deps): Promise<SweepReport> {
  const t0 = deps.clock.now().getTime();
  const obs = await observeAndSettle(deps, settlers);
  for (const step of advanceSteps) {
    try {
      await step(deps);
    } catch (e) {
      obs.errors++;
      deps.log.warn('sweep step failed; the next pass retries', { step: step.name, error: (e as Error).name, message: (e as Error).message });
    }
  }
  return {
    active: obs.active,
    changed: obs.changed,
    settled: obs.settled.length,
    staleChecks: obs.staleChecks,
    armReads: obs.armReads,
    unknown: obs.unknown,
    reconciled: obs.reconciled,
    errors: obs.errors,
    ms: deps.clock.now().getTime() - t0,
  };
}

/**
 * The completion callback: Observe + Settle for one run now, by its ADF runId.
 * Throws RunNotFound for a run we do not track.
 */
export async function runFinished(deps: Deps, runId: string): Promise<TrackedRun> {
  const run = await observeOne(deps, settlers, runId);
  if (!run) throw notFound('RunNotFound', `No tracked run '${runId}'.`);
  return run;
}

/** Advance steps, one line per area (each must be idempotent and touch only active work). */
const advanceSteps: Array<(deps: Deps) => Promise<void>> = [
  expirePauses,
  advanceQueues,
  advanceExecutions,
  // Last: what the steps above recorded and could not deliver at once, and callbacks whose owner has decided.
  function deliverOutboxStep(deps: Deps) {
    return deliverOutbox(deps, callbackOutcomes, alertOutcomes);
  },
];
