import type { FailureHandling } from './metadata';

/** Worker statuses. Terminal ones record an end time. */
/** `Waiting`: started from the execution's side, waiting for a slot in its shared limit (a queue). */
export type WorkerStatus = 'Pending' | 'Waiting' | 'Starting' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled' | 'Blocked' | 'Unknown';
export type ExecutionStatus = 'Running' | 'Succeeded' | 'Failed' | 'Stopped' | 'Cancelled';

export const TERMINAL_WORKER: readonly WorkerStatus[] = ['Succeeded', 'Failed', 'Cancelled', 'Blocked', 'Unknown'];
export const isTerminalWorker = (s: WorkerStatus) => TERMINAL_WORKER.includes(s);
export const isActiveWorker = (s: WorkerStatus) => s === 'Waiting' || s === 'Starting' || s === 'Running';

export interface Rules {
  failureHandling: FailureHandling;
  cancelledWorkerBlocks: boolean;
  unknownWorkerBlocks: boolean;
}

export interface WorkerState {
  name: string;
  stageIndex: number;
  status: WorkerStatus;
  /** Predecessors inside this execution (disabled or unselected ones are already left out: satisfied). */
  dependsOn: string[];
  /** A retry waits until then (ISO). */
  notBefore?: string;
}

export interface PlanLimits {
  /** ISO now: retries whose `notBefore` is later wait. */
  now?: string;
  /** Per-stage caps, by stage index. */
  stageCaps?: Record<number, number>;
}

/** Does this outcome count as a failure for blocking (procfwk v1.8)? */
export function isFailure(status: WorkerStatus, rules: Rules): boolean {
  return status === 'Failed' || (status === 'Cancelled' && rules.cancelledWorkerBlocks) || (status === 'Unknown' && rules.unknownWorkerBlocks);
}

export interface Plan {
  /** Pending workers that become Blocked now. */
  block: string[];
  /** Pending workers of the current stage to start now (within the concurrency cap). */
  start: string[];
  /** The stage running now: the earliest stage with an unfinished worker. */
  currentStage: number | undefined;
  /** Set when every worker is terminal. */
  outcome: Exclude<ExecutionStatus, 'Running' | 'Cancelled'> | undefined;
}

/**
 * The whole orchestration rule set, as a pure function of the workers' statuses:
 * - stages run in order: a stage starts when every worker of the earlier stages is terminal;
 * - None: a failure blocks nothing; the execution ends Failed;
 * - Simple: the failed worker's stage finishes, every later worker is Blocked, the execution ends Stopped;
 * - DependencyChain: the failed worker's dependants are Blocked, transitively; the rest runs; ends Failed.
 */
export function plan(workers: readonly WorkerState[], rules: Rules, maxConcurrent: number, limits: PlanLimits = {}): Plan {
  const status = new Map(workers.map((w) => [w.name, w.status] as const));
  const block: string[] = [];
  const ordered = [...workers].sort((a, b) => a.stageIndex - b.stageIndex);

  if (rules.failureHandling === 'Simple') {
    const failedStages = workers.filter((w) => isFailure(w.status, rules)).map((w) => w.stageIndex);
    if (failedStages.length) {
      const first = Math.min(...failedStages);
      for (const w of ordered) if (w.status === 'Pending' && w.stageIndex > first) block.push(w.name);
    }
  } else if (rules.failureHandling === 'DependencyChain') {
    // Predecessors sit in earlier stages, so one pass in stage order propagates blocking transitively.
    for (const w of ordered) {
      if (w.status !== 'Pending') continue;
      const blocked = w.dependsOn.some((d) => {
        const s = status.get(d);
        return s !== undefined && (s === 'Blocked' || isFailure(s, rules));
      });
      if (blocked) {
        block.push(w.name);
        status.set(w.name, 'Blocked');
      }
    }
  }
  for (const name of block) status.set(name, 'Blocked');

  const unfinished = ordered.filter((w) => !isTerminalWorker(status.get(w.name) as WorkerStatus));
  const currentStage = unfinished[0]?.stageIndex;
  let start: string[] = [];
  if (currentStage !== undefined) {
    const active = workers.filter((w) => isActiveWorker(status.get(w.name) as WorkerStatus));
    const stageCap = limits.stageCaps?.[currentStage];
    const stageRoom = stageCap === undefined ? Infinity : stageCap - active.filter((w) => w.stageIndex === currentStage).length;
    const room = Math.max(0, Math.min(maxConcurrent - active.length, stageRoom));
    start = unfinished
      .filter((w) => w.stageIndex === currentStage && status.get(w.name) === 'Pending' && !(w.notBefore && limits.now && w.notBefore > limits.now))
      .slice(0, room)
      .map((w) => w.name);
  }

  let outcome: Plan['outcome'];
  if (currentStage === undefined) {
    const final = workers.map((w) => status.get(w.name) as WorkerStatus);
    if (rules.failureHandling === 'Simple' && workers.some((w) => isFailure(status.get(w.name) as WorkerStatus, rules))) outcome = 'Stopped';
    else outcome = final.every((s) => s === 'Succeeded') ? 'Succeeded' : 'Failed';
  }
  return { block, start, currentStage, outcome };
}
