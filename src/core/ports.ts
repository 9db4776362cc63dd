/**
 * Ports: what the domain needs from the outside world. Plain interfaces speaking domain types;
 * src/adapters implements them on the Azure SDKs, test/support implements small in-memory doubles.
 */

// ---- Factory (Azure Data Factory) ------------------------------------------------------

/** A fully resolved pipeline target. */
export interface PipelineTarget {
  subscriptionId: string;
  resourceGroup: string;
  factory: string;
  pipeline: string;
  /** Tenant of the factory when it is not the app's own. */
  tenantId?: string;
}

/** A factory without the pipeline; `factoryKey()` of it names a feed. */
export type FactoryTarget = Omit<PipelineTarget, 'pipeline'>;

export type AdfRunStatus = 'Queued' | 'InProgress' | 'Canceling' | 'Succeeded' | 'Failed' | 'Cancelled';
export const TERMINAL_ADF_STATUSES: readonly AdfRunStatus[] = ['Succeeded', 'Failed', 'Cancelled'];
export const isTerminalAdf = (s: string): boolean => (TERMINAL_ADF_STATUSES as readonly string[]).includes(s);

/** One pipeline run as ADF reports it. */
export interface RunUpdate {
  runId: string;
  pipeline: string;
  status: AdfRunStatus;
  /** Parameters as ADF echoes them: string values. */
  parameters: Record<string, string>;
  runStart?: string;
  runEnd?: string;
  lastUpdated: string;
  message?: string;
  /** The run's group: its own runId, or the first run's for a recovery rerun. */
  runGroupId?: string;
}

/** What a run query narrows to, with ADF's operands only (ADF has no RunId operand). */
export interface RunQueryFilter {
  /** `PipelineName In [...]`: at most RUN_FILTER_VALUES names per call. */
  pipelines?: string[];
  /** `RunGroupId In [...]`: at most RUN_FILTER_VALUES ids per call. */
  runGroupIds?: string[];
}

/** Values one `In` filter carries: ADF documents no limit, so we stay at its page size. */
export const RUN_FILTER_VALUES = 100;

export interface ActivityError {
  activity: string;
  code: string;
  message: string;
}

export interface StartOptions {
  /** ADF recovery rerun of a previous run. */
  recovery?: { referencePipelineRunId: string; startFromFailure: boolean };
}

/**
 * Azure Data Factory. Errors: NotFound (pipeline/run missing), Rejected (ADF said 400),
 * Throttled (429, nothing happened), Unavailable (5xx/network: a write's outcome is unknown).
 */
export interface Factory {
  /** How long a createRun may be in flight before the client abandons it (its outcome is then unknown). */
  readonly startTimeoutSeconds: number;
  /** createRun. Never retried blindly: an Unavailable here must be reconciled, not repeated. */
  start(target: PipelineTarget, parameters: Record<string, unknown>, options?: StartOptions): Promise<{ runId: string }>;
  /** pipelineRuns.get */
  getRun(factory: FactoryTarget, runId: string): Promise<RunUpdate>;
  /** pipelineRuns.cancel(isRecursive). Cancelling a finished run is not an error. */
  cancel(factory: FactoryTarget, runId: string): Promise<void>;
  /** queryByFactory over [after, before], following every continuation token: the change feed. */
  changedRuns(factory: FactoryTarget, after: Date, before: Date, filter?: RunQueryFilter): AsyncIterable<RunUpdate>;
  /** The failing activities of a run (queryActivityruns, every page). */
  activityErrors(factory: FactoryTarget, runId: string, runStart: Date, runEnd: Date): Promise<ActivityError[]>;
  /** pipelines.get: does the pipeline exist? */
  pipelineExists(target: PipelineTarget): Promise<boolean>;
}

// ---- Tables (Table Storage) ------------------------------------------------------------

export type EntityValue = string | number | boolean;
/** Entity properties, without keys. Numbers must be safe 32-bit integers or doubles. */
export type Props = Record<string, EntityValue>;

export interface Row<P extends Props = Props> {
  partitionKey: string;
  rowKey: string;
  etag: string;
  props: P;
}

/** Transaction operations. No delete: the SDK sends transactional deletes unconditionally. */
export type TxOp =
  | { kind: 'insert'; rowKey: string; props: Props }
  | { kind: 'update'; rowKey: string; props: Props; etag: string };

export interface RangeQuery {
  /** inclusive lower bound of RowKey */
  from?: string;
  /** exclusive upper bound of RowKey */
  to?: string;
  limit?: number;
}

/**
 * Whether Table Storage can hold `s` as a PartitionKey or RowKey: 1 to 512 UTF-16 units (1 KiB), well-formed,
 * without `/ \ # ?` or control characters. Request-supplied ids are checked against this before they become keys.
 */
export function isTableKey(s: string): boolean {
  return s.length >= 1 && s.length <= 512 && s.isWellFormed() && !/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(s);
}

/**
 * One table of Table Storage. Every state transition is conditional:
 * `insert` fails with Conflict on a duplicate key, `update`/`delete` with Conflict on a stale ETag.
 * `delete`/`update` of a missing row raise NotFound.
 * A key that is not `isTableKey` finds nothing (`get` undefined, `query` no rows) and cannot be written (Error).
 */
export interface Table {
  readonly name: string;
  get(partitionKey: string, rowKey: string): Promise<Row | undefined>;
  insert(partitionKey: string, rowKey: string, props: Props): Promise<Row>;
  /** Replaces the entity's properties, if `etag` still matches. */
  update(partitionKey: string, rowKey: string, props: Props, etag: string): Promise<Row>;
  delete(partitionKey: string, rowKey: string, etag: string): Promise<void>;
  /** Rows of ONE partition, RowKey ascending. */
  query(partitionKey: string, range?: RangeQuery): Promise<Row[]>;
  /** Every row of the table. Only for tables that hold active work only (indexes), never history. */
  scanAll(): Promise<Row[]>;
  /** The same rows as `scanAll`, a page (at most 1,000 rows) at a time, so a reader holds one page. */
  pages(): AsyncIterable<Row[]>;
  /** Up to 100 operations in one partition, all or nothing. Conflict if any condition fails. */
  transact(partitionKey: string, ops: TxOp[]): Promise<void>;
}

export interface Tables {
  table(name: TableName): Table;
}

export type TableName =
  | 'Runs'
  | 'ActiveRuns'
  | 'Pauses'
  | 'PauseExpiry'
  | 'Executions'
  | 'ActiveExecutions'
  | 'Metadata'
  | 'Queues'
  | 'ActiveQueues'
  | 'Idempotency'
  | 'Outbox'
  | 'Sweep'
  | 'SweepPasses';

// ---- Mail, time, logs ------------------------------------------------------------------

export interface MailMessage {
  to: string[];
  cc?: string[];
  subject: string;
  html: string;
  text: string;
  /** Images the HTML shows as `cid:<contentId>` (inline attachments). */
  inline?: InlineImage[];
}

export interface InlineImage {
  contentId: string;
  name: string;
  contentType: string;
  contentBase64: string;
}

/** Makes a resend of the same message a no-op at the provider. */
export interface SendOptions {
  /** A UUID, the same for every attempt of one message (ACS `Operation-Id` and `Repeatability-Request-Id`). */
  idempotencyKey: string;
  /** When the first attempt was made (ACS `Repeatability-First-Sent`). */
  firstAttemptAt: Date;
}

export interface Mailer {
  /** Queues a message for delivery; resolves when the provider accepted it (not when delivered). */
  send(message: MailMessage, options?: SendOptions): Promise<{ id: string }>;
  /** Whether the provider already accepted a message sent with this idempotency key (past its repeatability window). */
  accepted?(idempotencyKey: string): Promise<boolean>;
}

/**
 * POSTs a Webhook activity's callback. Answers the HTTP status (never follows a redirect: a 3xx is an answer,
 * not a success). Throws Unavailable when the receiver cannot be reached or does not answer in time.
 */
export interface Callbacks {
  post(uri: string, body: unknown): Promise<number>;
}

export interface RenderedEmail {
  html: string;
  text: string;
}

/**
 * Email templates, chosen by name (`approval`, `execution-alert`): the domain gives the values, the
 * implementation owns the files and the escaping (HTML escapes every value, plain text none).
 */
export interface MailTemplates {
  /** True when the template exists. Safe to call with a request-supplied name. */
  has(name: string): boolean;
  /** Both parts of the email. Throws DomainError TemplateNotFound (422) when there is no such template. */
  render(name: string, view: Record<string, unknown>): RenderedEmail;
}

export interface Clock {
  now(): Date;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Waiting, injected so that tests never wait on the wall clock. */
export type Sleep = (ms: number) => Promise<void>;

export interface Ids {
  /** A new unique, URL-safe id. */
  newId(): string;
  /** `n` bytes from a CSPRNG. */
  randomBytes(n: number): Buffer;
}
