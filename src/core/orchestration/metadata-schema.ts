/**
 * The shape of an orchestration metadata document, with its defaults. Names and limits shared with
 * the HTTP API come from src/core/names.ts; integrity rules across the document are in
 * metadata-integrity.ts.
 */
import { z } from 'zod';
import { EntityName, FactoryName, Guid, intIn, Key, Parameters, PipelineName, ResourceGroupName, TimeoutSeconds } from '../names';
import { ALERT_OUTCOMES, ALL_BATCHES, DEFAULT_FACTORY, DEFAULT_WORKER_TIMEOUT_SECONDS, FAILURE_HANDLING_VALUES, MAX_RETRIES, METADATA_LIMITS, RESTART_VALUES } from './metadata';

const PropertiesSchema = z.strictObject({
  failureHandling: z.enum(FAILURE_HANDLING_VALUES).default('Simple'),
  cancelledWorkerBlocks: z.boolean().default(true),
  unknownWorkerBlocks: z.boolean().default(true),
  restart: z.enum(RESTART_VALUES).default('resume'),
  maxConcurrentWorkers: intIn(1, METADATA_LIMITS.maxConcurrentWorkers).default(50),
  executionRetentionDays: intIn(1, METADATA_LIMITS.maxExecutionRetentionDays).default(90),
  defaultWorkerTimeoutSeconds: TimeoutSeconds.default(DEFAULT_WORKER_TIMEOUT_SECONDS),
  warnAfterSeconds: TimeoutSeconds.optional(),
});

const FactorySchema = z.strictObject({
  subscriptionId: Guid.optional(),
  resourceGroup: ResourceGroupName.optional(),
  factory: FactoryName.optional(),
  tenantId: Guid.optional(),
});

/** ADF's parameter rules, plus our payload limit per worker. */
const WorkerParameters = Parameters.superRefine((params, ctx) => {
  const bytes = jsonBytes(params);
  if (bytes > METADATA_LIMITS.maxParameterBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `parameters are ${bytes} bytes as JSON; the limit is ${METADATA_LIMITS.maxParameterBytes} bytes per worker`,
    });
  }
});

const WorkerSchema = z.strictObject({
  name: EntityName,
  pipeline: PipelineName.optional(),
  factory: z.string().min(1, { error: 'must name a factory' }).default(DEFAULT_FACTORY),
  parameters: WorkerParameters.default({}),
  enabled: z.boolean().default(true),
  dependsOn: z.array(z.string().min(1, { error: 'must name a worker' })).default([]),
  timeoutSeconds: TimeoutSeconds.optional(),
  queue: z.string().min(1, { error: 'must name a queue' }).optional(),
  retry: z
    .strictObject({
      count: intIn(0, MAX_RETRIES),
      intervalSeconds: intIn(0, 86_400).default(0),
      fromFailure: z.boolean().default(false),
    })
    .optional(),
  warnAfterSeconds: TimeoutSeconds.optional(),
});

const StageSchema = z.strictObject({
  name: EntityName,
  enabled: z.boolean().default(true),
  pipelines: z.array(WorkerSchema).min(1, { error: 'a stage needs at least one pipeline' }),
  maxConcurrentWorkers: intIn(1, METADATA_LIMITS.maxConcurrentWorkers).optional(),
  warnAfterSeconds: TimeoutSeconds.optional(),
});

const BatchSchema = z.strictObject({
  name: EntityName,
  stages: z.array(z.string().min(1, { error: 'must name a stage' })).min(1, { error: 'a batch needs at least one stage' }),
  enabled: z.boolean().default(true),
  parameters: Parameters.default({}),
});

const QueueSchema = z.strictObject({
  name: Key,
  capacity: intIn(1, METADATA_LIMITS.maxQueueCapacity).default(1),
});

const RecipientSchema = z.strictObject({
  email: z.email({ error: 'must be an email address' }),
  on: z
    .array(z.enum(ALERT_OUTCOMES))
    .min(1, { error: 'list at least one outcome' })
    .default(['Failed', 'Stopped', 'Cancelled']),
  batches: z.array(z.string().min(1, { error: 'must name a batch or be "*"' })).default([ALL_BATCHES]),
  workers: z.array(z.string().min(1, { error: 'must name a worker or be "*"' })).default([ALL_BATCHES]),
  queues: z.array(z.string().min(1, { error: 'must name a queue or be "*"' })).default([ALL_BATCHES]),
});

export const MetadataSchema = z.strictObject({
  properties: PropertiesSchema.prefault({}),
  factories: z.record(z.string(), FactorySchema).default({}),
  stages: z.array(StageSchema).min(1, { error: 'at least one stage is required' }),
  batches: z.array(BatchSchema).default([]),
  queues: z.array(QueueSchema).default([]),
  recipients: z.array(RecipientSchema).default([]),
});

export type ParsedMetadata = z.output<typeof MetadataSchema>;

function jsonBytes(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
