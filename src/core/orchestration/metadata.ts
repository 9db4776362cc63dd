/**
 * Orchestration metadata: the YAML/JSON document that says which worker pipelines run, in which
 * stages, batches and factories, and how failures are handled (procfwk v1.8 semantics).
 *
 * This file holds the validated document's types, its limits and the questions use cases ask of it.
 * Around it: metadata-schema.ts (the zod schema), metadata-validate.ts (`validateMetadata`: schema and
 * integrity in one pass), metadata-integrity.ts (cross-references, cycles, stage order) and
 * metadata-problems.ts (problem paths and order). The text (YAML or JSON) is parsed outside the
 * domain, by src/http/metadata-text.ts. The reference for users is docs/orchestration.md; keep the two in step.
 */
import type { FieldProblem } from '../errors';
import { NAME_LIMITS } from '../names';

// ---- Public types ----------------------------------------------------------------------

export type FailureHandling = 'None' | 'Simple' | 'DependencyChain';
export type RestartMode = 'resume' | 'new';
export type AlertOutcome = 'Succeeded' | 'Failed' | 'Stopped' | 'Cancelled';

export interface FactoryDef {
  subscriptionId?: string;
  resourceGroup?: string;
  factory?: string;
  tenantId?: string;
}
export interface WorkerDef {
  /** Worker id, unique across all stages. */
  name: string;
  /** ADF pipeline name; defaults to `name`. */
  pipeline: string;
  /** Key into `factories`; defaults to 'default'. */
  factory: string;
  parameters: Record<string, unknown>;
  enabled: boolean;
  /** Names of predecessor workers, each in a strictly earlier stage. */
  dependsOn: string[];
  timeoutSeconds?: number;
  /** A declared queue: the worker's run takes one of its slots (FIFO with the queue's jobs) while it lasts. */
  queue?: string;
  /** A Failed run is started again, up to `count` times, `intervalSeconds` apart, before the failure counts. */
  retry?: RetryDef;
  /** Past this long running, the worker is Late (one email to `Late` subscribers); it runs on. */
  warnAfterSeconds?: number;
}
export interface RetryDef {
  count: number;
  intervalSeconds: number;
  /** ADF's recovery rerun from the failed activity (`isRecovery` + `startFromFailure`), instead of a plain rerun. */
  fromFailure: boolean;
}
export interface StageDef {
  name: string;
  enabled: boolean;
  pipelines: WorkerDef[];
  /** At most this many of the stage's workers run at once (besides the execution's cap). */
  maxConcurrentWorkers?: number;
  warnAfterSeconds?: number;
}
export interface BatchDef {
  name: string;
  stages: string[];
  enabled: boolean;
  /** `${execution.parameters.<name>}` values; `POST /executions {parameters}` overrides them. */
  parameters: Record<string, unknown>;
}
export interface QueueDef {
  name: string;
  capacity: number;
}
export interface RecipientDef {
  email: string;
  /** Outcomes that trigger a mail: an execution's, a pause's or a queue job's (ALERT_OUTCOMES). */
  on: string[];
  /** Narrows execution outcomes: batch names, or '*' for every execution. */
  batches: string[];
  /** Narrows execution outcomes to executions that ran one of these workers and, unless Succeeded, where one of them did not succeed; '*' for all. */
  workers: string[];
  /** Narrows job outcomes: queue names, or '*' for every queue. */
  queues: string[];
}
export interface MetadataProperties {
  failureHandling: FailureHandling;
  cancelledWorkerBlocks: boolean;
  unknownWorkerBlocks: boolean;
  restart: RestartMode;
  maxConcurrentWorkers: number;
  executionRetentionDays: number;
  /** A worker without its own `timeoutSeconds` is cancelled after this long (ADF itself would wait 7 days). */
  defaultWorkerTimeoutSeconds: number;
  /** Past this long, a Running execution is Late. */
  warnAfterSeconds?: number;
}
export interface Metadata {
  properties: MetadataProperties;
  factories: Record<string, FactoryDef>;
  stages: StageDef[];
  batches: BatchDef[];
  queues: QueueDef[];
  recipients: RecipientDef[];
}
export type MetadataResult = { ok: true; metadata: Metadata } | { ok: false; errors: FieldProblem[] };

// ---- Limits and rules (documented in docs/orchestration.md; names and their limits: src/core/names.ts)

export const METADATA_LIMITS = {
  nameMaxLength: NAME_LIMITS.nameMaxLength,
  /** ADF allows 50 parameters per pipeline. */
  maxParametersPerWorker: NAME_LIMITS.maxParameters,
  /** Our payload limit for one worker's parameters, as UTF-8 JSON bytes (createRun body headroom). */
  maxParameterBytes: 30_000,
  maxTimeoutSeconds: NAME_LIMITS.maxTimeoutSeconds,
  maxQueueCapacity: 50,
  maxConcurrentWorkers: 1000,
  maxExecutionRetentionDays: 3650,
} as const;

export const FAILURE_HANDLING_VALUES = ['None', 'Simple', 'DependencyChain'] as const;
export const RESTART_VALUES = ['resume', 'new'] as const;
export const EXECUTION_OUTCOMES = ['Succeeded', 'Failed', 'Stopped', 'Cancelled'] as const;
/** An execution, stage or worker past its `warnAfterSeconds`. */
export const LATE_OUTCOME = 'Late';
export const PAUSE_OUTCOMES = ['Approved', 'Rejected', 'Expired'] as const;
export const JOB_OUTCOMES = ['FAILED', 'TIMEDOUT', 'USER_ERROR'] as const;
/** What a recipient may subscribe to (`on:`): execution, pause and queue-job outcomes. */
export const ALERT_OUTCOMES = [...EXECUTION_OUTCOMES, LATE_OUTCOME, ...PAUSE_OUTCOMES, ...JOB_OUTCOMES] as const;
/** The default of `properties.defaultWorkerTimeoutSeconds`: one day. */
export const DEFAULT_WORKER_TIMEOUT_SECONDS = 86_400;
export const MAX_RETRIES = 10;
/** The factory key every worker may use without declaring it; missing parts come from settings. */
export const DEFAULT_FACTORY = 'default';
/** In a recipient's `batches`, `workers` or `queues`: matches every one (every execution, with or without a batch). */
export const ALL_BATCHES = '*';

// ---- Questions use cases ask ----------------------------------------------------------

/**
 * Where each runnable worker sits: enabled workers of enabled stages only. A name absent from the
 * map is disabled (or unknown), and as a predecessor it counts as satisfied.
 * Pass `{ includeDisabled: true }` to index every worker.
 */
export function workerIndex(
  m: Metadata,
  options: { includeDisabled?: boolean } = {},
): Map<string, { stage: StageDef; stageIndex: number; worker: WorkerDef }> {
  const index = new Map<string, { stage: StageDef; stageIndex: number; worker: WorkerDef }>();
  m.stages.forEach((stage, stageIndex) => {
    for (const worker of stage.pipelines) {
      if (options.includeDisabled || (stage.enabled && worker.enabled)) {
        index.set(worker.name, { stage, stageIndex, worker });
      }
    }
  });
  return index;
}

/**
 * Stages of a batch in the order of `stages` (not the batch's own list order), disabled ones
 * included; no batch means all stages. Undefined when the batch does not exist.
 */
export function stagesOfBatch(m: Metadata, batch?: string): StageDef[] | undefined {
  if (batch === undefined) return [...m.stages];
  const def = m.batches.find((b) => b.name === batch);
  if (!def) return undefined;
  const wanted = new Set(def.stages);
  return m.stages.filter((s) => wanted.has(s.name));
}

/** True when the worker would run: it and its stage are enabled. */
export const isRunnable = (stage: StageDef, worker: WorkerDef): boolean => stage.enabled && worker.enabled;
