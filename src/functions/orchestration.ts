import { z } from 'zod';
import { notFound, unprocessable } from '../core/errors';
import { NAME_LIMITS } from '../core/names';
import { parseMetadataText } from '../http/metadata-text';
import { applyMetadata, currentMetadata } from '../core/orchestration/metadata-store';
import { cancelExecution, dryRunExecution, getExecution, listExecutions, restartExecution, startExecution } from '../core/orchestration/executions';
import { toPlanView } from '../http/views/plan';
import { json, parseBody, plainText, readText, respond, validate } from '../http/respond';
import { toLoadedExecutionView } from '../http/views/executions';
import { callbackField, checkCallbackRequest, recordRequestCallback } from '../core/outbox/outbox';
import { CallbackFields, Parameters } from '../http/schemas';
import { httpFunction } from './define';

export const PutMetadata = httpFunction({
  name: 'PutMetadata',
  route: 'metadata',
  methods: ['PUT'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const text = await readText(req);
      const parsed = parseMetadataText(text);
      if (!parsed.ok) throw unprocessable('MetadataInvalid', `The metadata has ${parsed.errors.length} problem(s); nothing was stored.`, parsed.errors);
      return json(200, await applyMetadata(deps(ctx), parsed.metadata, text));
    }),
});

export const GetMetadata = httpFunction({
  name: 'GetMetadata',
  route: 'metadata',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const stored = await currentMetadata(deps(ctx));
      if (!stored) throw notFound('MetadataNotFound', 'No orchestration metadata is stored yet: PUT /api/metadata first.');
      if (req.query.get('format') === 'source') return plainText(200, stored.source);
      return json(200, { version: stored.version, updatedAt: stored.updatedAt, metadata: stored.metadata });
    }),
});

const Name = z.string().min(1).max(NAME_LIMITS.nameMaxLength);
const Names = z.array(Name).min(1).max(1000);
export const StartRequest = z.strictObject({
  batch: Name.optional(),
  stages: Names.optional(),
  pipelines: Names.optional(),
  /** `${execution.parameters.<name>}` values; override the batch's `parameters`. */
  parameters: Parameters.optional(),
  /** Answer 200 with the plan; start nothing, write nothing. */
  dryRun: z.boolean().optional(),
  ...CallbackFields,
});

export const StartExecution = httpFunction({
  name: 'StartExecution',
  route: 'executions',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const { callBackUri, callbackTimeoutSeconds, dryRun, ...input } = await parseBody(req, StartRequest);
      const d = deps(ctx);
      if (dryRun) {
        const { plan, metadataVersion } = await dryRunExecution(d, input);
        return json(200, toPlanView(plan, metadataVersion));
      }
      const callback = { ...(callBackUri ? { callBackUri } : {}), ...(callbackTimeoutSeconds ? { callbackTimeoutSeconds } : {}) };
      checkCallbackRequest(d, callback);
      const r = await startExecution(d, input);
      // A resumed execution keeps every waiting caller's callback: each is its own (one per callBackUri).
      await recordRequestCallback(d, { area: 'execution', id: r.executionId }, callback);
      return r.resumed ? json(200, { executionId: r.executionId, status: r.status, resumed: true }) : json(202, { executionId: r.executionId, status: r.status });
    }),
});

export const GetExecution = httpFunction({
  name: 'GetExecution',
  route: 'executions/{executionId}',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const loaded = await getExecution(d, req.params.executionId ?? '');
      return json(200, { ...toLoadedExecutionView(loaded), ...(await callbackField(d, { area: 'execution', id: loaded.execution.executionId })) });
    }),
});

export const ListQuery = z.strictObject({
  batch: z.string().max(NAME_LIMITS.nameMaxLength).optional(),
  status: z.enum(['Running', 'Succeeded', 'Failed', 'Stopped', 'Cancelled']).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

export const ListExecutions = httpFunction({
  name: 'ListExecutions',
  route: 'executions',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const q = validate(ListQuery, Object.fromEntries(req.query.entries()));
      return json(200, { value: (await listExecutions(deps(ctx), q)).map(toLoadedExecutionView) });
    }),
});

export const CancelExecution = httpFunction({
  name: 'CancelExecution',
  route: 'executions/{executionId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) => respond(ctx, async () => json(200, toLoadedExecutionView(await cancelExecution(deps(ctx), req.params.executionId ?? '')))),
});

export const RestartRequest = z.strictObject({
  fromFailure: z.boolean().optional(),
  /** New values for the rerun workers' parameters (only the keys each worker has). */
  parameters: Parameters.optional(),
});

export const RestartExecution = httpFunction({
  name: 'RestartExecution',
  route: 'executions/{executionId}/restart',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const body = await parseBody(req, RestartRequest);
      return json(202, toLoadedExecutionView(await restartExecution(deps(ctx), req.params.executionId ?? '', body)));
    }),
});
