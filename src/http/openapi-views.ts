/**
 * The JSON the API answers, as zod schemas, for the OpenAPI document (src/http/openapi.ts). They mirror
 * src/http/views/*.ts and DESIGN.md's "Views"; test/unit/openapi.test.ts sends real requests through the
 * handlers and checks every answer against these, so a view that gains or loses a field fails there.
 */
import { z } from 'zod';

export const Instant = z.iso.datetime({ offset: true }).describe('ISO 8601 date and time (UTC).');
const Parameters = z.record(z.string(), z.unknown()).describe("A pipeline's parameters, by name.");

export const FieldProblemView = z.object({
  path: z.string().describe('JSON path such as `stages[1].pipelines[0].dependsOn[0]`, or `$` for the whole body.'),
  message: z.string(),
});

/** RFC 9457 problem+json. Extension members (e.g. AlreadyDecided's `outcome`) may appear beside these. */
export const ProblemView = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  code: z.string().describe('Stable PascalCase code (docs/errors.md): switch on it, not on `detail`.'),
  errors: z.array(FieldProblemView).optional().describe('Every bad field, on validation problems (400, 422).'),
});

/** The delivery of a Webhook activity's callback (DESIGN.md, "Webhook waits"); the URI itself is never shown. */
export const CallbackView = z.object({
  status: z.enum(['pending', 'delivered', 'expired']),
  attempts: z.int().min(0),
  lastError: z.string().optional(),
});

export const RunStatus = z.enum(['Starting', 'Queued', 'InProgress', 'Canceling', 'Succeeded', 'Failed', 'Cancelled', 'Unknown']);

export const RunView = z.object({
  runId: z.string().nullable().describe('null while the start is not confirmed (status Starting).'),
  pipeline: z.string(),
  factory: z.string(),
  resourceGroup: z.string(),
  subscriptionId: z.string(),
  status: RunStatus,
  runStart: Instant.optional(),
  runEnd: Instant.optional(),
  message: z.string().optional(),
  callback: CallbackView.optional(),
});

export const RunStartedView = RunView.extend({ statusUrl: z.url().describe('GET it for the run (also the Location header).') });

const PipelineRefView = {
  pipeline: z.string(),
  factory: z.string(),
  resourceGroup: z.string(),
  subscriptionId: z.string(),
};
const PauseStatus = z.enum(['Waiting', 'Approved', 'Rejected', 'Expired']);
const Decision = z.enum(['approve', 'reject']);

export const PauseCreatedView = z.object({
  pauseId: z.string(),
  token: z.string().describe('64 random bytes, base64url: a bearer secret. Only its SHA-256 hash is stored.'),
  restartUrl: z.url().describe('The approval link (the token is in its fragment).'),
  expiresAt: Instant,
  status: z.literal('Waiting'),
  pauseUrl: z.url(),
  notified: z.boolean().optional().describe('Present when `notify` was given: whether the email went out.'),
});

export const PauseView = z.object({
  pauseId: z.string(),
  status: PauseStatus,
  continuation: z
    .object({ ...PipelineRefView, parameters: Parameters, pauseIdParameter: z.union([z.string(), z.literal(false)]) })
    .optional()
    .describe('Absent when a Webhook activity waits on the pause in place.'),
  data: z.unknown().describe('Exactly as given, or null.'),
  createdAt: Instant,
  expiresAt: Instant,
  decidedAt: Instant.optional(),
  decision: Decision.optional(),
  runId: z.string().optional(),
  runStatus: z.string().optional(),
  pendingDecision: Decision.optional().describe('A decision whose pipeline start Data Factory has not confirmed yet.'),
  onReject: z.object({ ...PipelineRefView, parameters: Parameters }).optional(),
  callback: CallbackView.optional(),
});

const WorkerStatus = z.enum(['Pending', 'Waiting', 'Starting', 'Running', 'Succeeded', 'Failed', 'Cancelled', 'Blocked', 'Unknown']);
export const ExecutionStatus = z.enum(['Running', 'Succeeded', 'Failed', 'Stopped', 'Cancelled']);

export const ActivityErrorView = z.object({ activity: z.string(), code: z.string(), message: z.string() });

export const WorkerView = z.object({
  name: z.string(),
  pipeline: z.string(),
  factory: z.string(),
  stage: z.string(),
  status: WorkerStatus,
  runId: z.string().optional(),
  startedAt: Instant.optional(),
  endedAt: Instant.optional(),
  error: ActivityErrorView.optional(),
  parameters: Parameters.describe('Resolved at the start (placeholders filled in).'),
  queue: z.string().optional().describe('The shared limit whose slot the run takes.'),
  jobId: z.string().optional().describe("Its job in that queue (GET /queues/{queue}/jobs/{jobId})."),
  position: z.int().min(1).optional().describe('While Waiting: 1-based place among the waiting jobs of the queue.'),
  lateAt: Instant.optional().describe('When it passed its warnAfterSeconds.'),
  retryAt: Instant.optional().describe('A retry waits until then.'),
  attempts: z
    .array(z.object({ runId: z.string().optional(), status: z.string(), startedAt: Instant.optional(), endedAt: Instant.optional(), error: ActivityErrorView.optional() }))
    .optional()
    .describe('Every run of the worker, oldest first (retries and restarts), when there was more than one.'),
});

export const ExecutionView = z.object({
  executionId: z.string(),
  batch: z.string().nullable().describe('null for an execution of all stages.'),
  status: ExecutionStatus,
  metadataVersion: z.int(),
  startedAt: Instant,
  endedAt: Instant.optional(),
  restarts: z.int().min(0),
  parameters: Parameters.optional().describe('`${execution.parameters.*}`: the batch\'s, overridden by the request\'s.'),
  late: z.array(z.string()).optional().describe('What passed its warnAfterSeconds: `execution`, `stage:<name>`.'),
  stages: z.array(z.object({ name: z.string(), status: z.string(), workers: z.array(WorkerView) })).describe('In run order.'),
  callback: CallbackView.optional(),
});

export const ExecutionListView = z.object({ value: z.array(ExecutionView) });

export const ExecutionPlanView = z.object({
  dryRun: z.literal(true),
  batch: z.string().nullable(),
  metadataVersion: z.int().optional(),
  parameters: Parameters,
  stages: z.array(
    z.object({
      name: z.string(),
      maxConcurrentWorkers: z.int().optional(),
      warnAfterSeconds: z.int().optional(),
      workers: z.array(
        z.object({
          name: z.string(),
          pipeline: z.string(),
          factory: z.string(),
          resourceGroup: z.string(),
          subscriptionId: z.string(),
          parameters: Parameters,
          dependsOn: z.array(z.string()),
          waivedDependencies: z.array(z.string()).optional().describe('Predecessors outside this execution (disabled or not selected): satisfied.'),
          queue: z.string().optional(),
          retry: z.object({ count: z.int(), intervalSeconds: z.int(), fromFailure: z.boolean() }).optional(),
          timeoutSeconds: z.int().optional(),
          warnAfterSeconds: z.int().optional(),
        }),
      ),
    }),
  ),
  skipped: z.array(z.object({ name: z.string(), stage: z.string(), reason: z.string() })).describe('Workers that would not run, and why.'),
  sharedLimits: z.array(z.object({ queue: z.string(), capacity: z.int(), workers: z.array(z.string()) })),
});

export const ExecutionStartedView = z.object({
  executionId: z.string(),
  status: ExecutionStatus,
  resumed: z.literal(true).optional().describe("Present (200) when the batch's last Failed or Stopped execution was resumed."),
});

const JobStatus = z.enum(['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'USER_ERROR', 'TERMINATED', 'TIMEDOUT']);

export const JobView = z.object({
  jobId: z.string(),
  queue: z.string(),
  pipeline: z.string(),
  parameters: Parameters,
  status: JobStatus,
  position: z.int().min(0).optional().describe('1-based place among the waiting jobs (0: it did not wait).'),
  runId: z.string().optional(),
  enqueuedAt: Instant,
  startedAt: Instant.optional(),
  endedAt: Instant.optional(),
  timeoutSeconds: z.int().optional(),
  message: z.string().optional(),
  callback: CallbackView.optional(),
});

export const JobEnqueuedView = JobView.extend({ position: z.int().min(0), statusUrl: z.url() });

export const JobCancelledView = JobView.extend({ next: JobView.nullable().describe('The job this cancellation started, if any.') });

export const QueueView = z.object({
  name: z.string(),
  capacity: z.int().min(1),
  running: z.array(JobView),
  waiting: z.array(JobView).describe('In start order.'),
});

export const MetadataAppliedView = z.object({
  version: z.int().min(1),
  updatedAt: Instant,
  stages: z.int(),
  workers: z.int(),
  batches: z.array(z.string()),
  queues: z.array(z.string()),
});

export const StoredMetadataView = z.object({
  version: z.int().min(1),
  updatedAt: Instant,
  metadata: z.record(z.string(), z.unknown()).describe('The metadata as stored, with its defaults filled in.'),
});

/** The dashboard's data as JSON; it grows with the dashboard, so unknown members are allowed. */
export const DashboardView = z.looseObject({
  generatedAt: Instant,
  active: z.array(z.looseObject({ executionId: z.string(), status: z.string() })),
  queues: z.array(z.looseObject({ name: z.string(), capacity: z.int() })),
  approvals: z.array(z.looseObject({ pauseId: z.string(), expiresAt: Instant })),
});

/** Every named view, as it appears under components.schemas. */
export const VIEW_COMPONENTS = {
  Instant,
  Problem: ProblemView,
  FieldProblem: FieldProblemView,
  Callback: CallbackView,
  Run: RunView,
  RunStarted: RunStartedView,
  PauseCreated: PauseCreatedView,
  Pause: PauseView,
  ActivityError: ActivityErrorView,
  Worker: WorkerView,
  Execution: ExecutionView,
  ExecutionList: ExecutionListView,
  ExecutionStarted: ExecutionStartedView,
  ExecutionPlan: ExecutionPlanView,
  ExecutionStartedOrPlan: z.union([ExecutionStartedView, ExecutionPlanView]),
  Job: JobView,
  JobEnqueued: JobEnqueuedView,
  JobCancelled: JobCancelledView,
  Queue: QueueView,
  MetadataApplied: MetadataAppliedView,
  StoredMetadata: StoredMetadataView,
  Dashboard: DashboardView,
} as const;
