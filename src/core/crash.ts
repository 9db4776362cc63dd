import type { Deps } from './deps';

/**
 * Named steps where a test may kill the process (`CONDUCTOR_CRASH_AT=afterClaim:3`: the third time that
 * step is reached). Production never sets it; the fault suite (`npm run test:faults`) uses each one.
 */
export type CrashStep =
  /** runs/start: the claim is written, createRun not called yet. */
  | 'afterClaim'
  /** runs/start: ADF accepted createRun, its runId is not recorded yet. */
  | 'afterCreateRun'
  /** runs/start: the runId is recorded on the run and its index row. */
  | 'afterRecord'
  /** orchestration: some, not all, of a stage's settled workers are written. */
  | 'midStageSettle'
  /** queues: the finished job is written, the next one not started yet. */
  | 'midQueueAdvance'
  /** pauses: the decision is written, the continuation not started yet. */
  | 'afterPauseDecision'
  /** an outcome is written, its email not delivered yet. */
  | 'afterOutcome'
  /** outbox: the provider accepted the email, the delivery is not recorded yet. */
  | 'afterSend'
  /** outbox: a callback's outcome is decided, the POST to its callBackUri not made yet. */
  | 'beforeCallback'
  /** shared limits: a worker is claimed (Waiting), its queue job not enqueued yet. */
  | 'midWorkerEnqueue';

export const CRASH_STEPS: readonly CrashStep[] = ['afterClaim', 'afterCreateRun', 'afterRecord', 'midStageSettle', 'midQueueAdvance', 'afterPauseDecision', 'afterOutcome', 'afterSend', 'beforeCallback', 'midWorkerEnqueue'];

/** Where a crash may happen. A no-op unless the process was started with a crash point. */
export function reach(deps: Pick<Deps, 'crash'>, step: CrashStep): void {
  deps.crash?.(step);
}
