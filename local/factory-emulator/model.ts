/**
 * The factory emulator's data model, shared by its parts: the public run shapes and errors (re-exported by
 * `emulator.ts`), ARM's error, and the internal `Run` with what creates one.
 */
import { TERMINAL_STATUSES, type PipelineScenario, type TerminalStatus } from './scenario';

export const API_VERSION = '2018-06-01';

export type RunStatus = 'Queued' | 'InProgress' | 'Canceling' | TerminalStatus;

/** A pipeline run in ADF's PipelineRun JSON shape. */
export interface PipelineRunJson {
  runId: string;
  runGroupId: string;
  isLatest: boolean;
  pipelineName: string;
  parameters: Record<string, string>;
  runDimensions: Record<string, string>;
  invokedBy: { name: string; id: string; invokedByType: string };
  lastUpdated: string;
  runStart: string;
  runEnd?: string;
  durationInMs?: number;
  status: RunStatus;
  message: string;
}

/** What `GET /_emulator/runs` returns for each run. */
export interface EmulatedRun extends PipelineRunJson {
  factory: string;
  subscriptionId: string;
  resourceGroup: string;
  isRecovery: boolean;
  referencePipelineRunId?: string;
  startFromFailure: boolean;
  startActivityName?: string;
}

/** What `seedRuns` creates. */
export interface SeedSpec {
  factory: { subscriptionId: string; resourceGroup: string; factory: string };
  pipeline: string;
  count: number;
  /** Time InProgress; `null` = until finished by hand. */
  durationMs: number | null;
  /** Time Queued before InProgress; default: the scenario's `queuedMs` (0). */
  queuedMs?: number;
  /** Default Succeeded. */
  outcome?: TerminalStatus;
  parameters?: Record<string, string>;
}

/** `finish` named a run the emulator does not know. */
export class RunNotFound extends Error {
  override name = 'RunNotFound';
}
/** `finish` named a run that has already reached a terminal status. */
export class RunAlreadyFinished extends Error {
  override name = 'RunAlreadyFinished';
}

/** A request the emulator refuses, answered with ARM's error body. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new ArmError(400, 'BadRequest', message);

export function faultError(status: number, message: string): ArmError {
  const code = status === 429 ? 'TooManyRequests' : status === 503 ? 'ServiceUnavailable'
    : status === 500 ? 'InternalServerError' : 'InjectedFault';
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': '1' } : {};
  return new ArmError(status, code, message, headers);
}

/** A run as the service keeps it; `views.ts` makes ADF's JSON of it. */
export interface Run {
  runId: string;
  runGroupId: string;
  factoryKey: string;
  subscriptionId: string;
  resourceGroup: string;
  factory: string;
  pipelineName: string;
  parameters: Record<string, string>;
  status: RunStatus;
  message: string;
  runStart: number;
  lastUpdated: number;
  /** Bumped at every `lastUpdated` change: the index's entries with an older `seq` are superseded. */
  seq: number;
  /** Forgotten (maxRuns): the index skips it. */
  evicted: boolean;
  /** When the run went InProgress (activities start then). */
  startedAt?: number;
  runEnd?: number;
  /** Logical time the run is planned to go InProgress. */
  plannedStart: number;
  /** null = stays InProgress until finished by hand. */
  durationMs: number | null;
  outcome: TerminalStatus;
  failure: { activity: string; code: string; message: string };
  /** Time of the next automatic transition; null = none. */
  dueAt: number | null;
  /** Bumped whenever the plan changes, so stale heap entries are skipped. */
  gen: number;
  isRecovery: boolean;
  referencePipelineRunId?: string;
  startFromFailure: boolean;
  startActivityName?: string;
  invokedById: string;
  activityRunIds: [string, string];
  /** Set for a webhook pipeline's run: its one activity is ADF's Webhook activity. */
  webhook: WebhookRun | undefined;
}

/** The Webhook activity of a run. */
export interface WebhookRun {
  activity: string;
  url: string;
  /** As in the scenario, expressions unresolved. */
  body: Record<string, unknown>;
  timeoutMs: number;
  caFile?: string;
  /** pending: the run is Queued; waiting: POSTed (or POSTing), a callback is accepted; done: no callback accepted. */
  phase: 'pending' | 'waiting' | 'done';
  /** The activity's input, as ADF shows it: method, url (without its query), body (resolved, no callBackUri), timeout. */
  input: Record<string, unknown>;
  /** The callback's Output. */
  output: Record<string, unknown>;
  callbackReceived: boolean;
  timedOut: boolean;
}

/** A callback as `GET /_emulator/callbacks` lists it. The callBackUri itself is never shown. */
export interface CallbackRecord {
  runId: string;
  pipelineName: string;
  factory: string;
  /** ISO time it arrived. */
  at: string;
  /** null when the body had none (success). */
  statusCode: number | null;
  output: Record<string, unknown>;
  error: { ErrorCode?: string; Message?: string } | null;
  /** false: refused with 409 (already called back, or the activity no longer waits); nothing changed. */
  accepted: boolean;
  /** The 409's code when refused. */
  refusal?: string;
}

/** What `addRun` needs; the rest of a Run is derived. */
export type NewRun = Pick<Run,
  'runId' | 'runGroupId' | 'factoryKey' | 'subscriptionId' | 'resourceGroup' | 'factory' | 'pipelineName' | 'parameters' |
  'durationMs' | 'outcome' | 'isRecovery' | 'referencePipelineRunId' | 'startFromFailure' | 'startActivityName'> & {
  queuedMs: number;
  error?: PipelineScenario['error'];
  webhook?: PipelineScenario['webhook'];
};

export interface CreateRunInput {
  subscriptionId: string;
  resourceGroup: string;
  factory: string;
  pipelineName: string;
  parameters: Record<string, unknown>;
  referencePipelineRunId?: string;
  isRecovery: boolean;
  startFromFailure: boolean;
  startActivityName?: string;
}

export const isTerminal = (status: RunStatus): status is TerminalStatus =>
  (TERMINAL_STATUSES as readonly string[]).includes(status);

export const factoryKeyOf = (subscriptionId: string, resourceGroup: string, factory: string) =>
  `${subscriptionId}/${resourceGroup}/${factory}`.toLowerCase();

export const compare = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
