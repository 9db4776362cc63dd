import type { Deps } from '../deps';
import { advanceExecutions, settleWorkerRun } from '../orchestration/advance';
import { observeAndSettle, type Settlers } from '../runs/observe';
import { advanceQueues, settleJobRun } from '../queues/advance';
import { expirePauses, settlePauseRun } from '../pauses/sweep';

/** Who is told when a tracked run ends, by owner kind. One line per area. */
export const settlers: Settlers = {
  pause: settlePauseRun,
  job: settleJobRun,
  worker: settleWorkerRun,
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
 * One pass: Observe (change feed) → Settle (owners, exactly once) → Advance → Reconcile.
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

/** Advance steps, one line per area (each must be idempotent and touch only active work). */
const advanceSteps: Array<(deps: Deps) => Promise<void>> = [
  expirePauses,
  advanceQueues,
  advanceExecutions,
];
