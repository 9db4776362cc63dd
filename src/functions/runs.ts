import { z } from 'zod';
import { getRun, runPipeline } from '../core/runs/fire-and-forget';
import { runFinished } from '../core/sweep/sweep';
import { json, parseBody, respond } from '../http/respond';
import { CallbackFields, Parameters, PipelineRefShape } from '../http/schemas';
import { callbackField, checkCallbackRequest, recordRequestCallback } from '../core/outbox/outbox';
import { baseUrl } from '../http/urls';
import { toRunView } from '../http/views/runs';
import { httpFunction } from './define';

export const RunRequest = z.strictObject({
  ...PipelineRefShape,
  parameters: Parameters.optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  ...CallbackFields,
});

export const RunPipeline = httpFunction({
  name: 'RunPipeline',
  route: 'runs',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const body = await parseBody(req, RunRequest);
      const d = deps(ctx);
      const key = body.idempotencyKey ?? req.headers.get('idempotency-key') ?? undefined;
      const { parameters = {}, idempotencyKey: _k, callBackUri, callbackTimeoutSeconds, ...ref } = body;
      const callback = { ...(callBackUri ? { callBackUri } : {}), ...(callbackTimeoutSeconds ? { callbackTimeoutSeconds } : {}) };
      checkCallbackRequest(d, callback);
      const run = await runPipeline(d, { ref, parameters, ...(key ? { idempotencyKey: key } : {}) });
      await recordRequestCallback(d, { area: 'run', id: run.trackId }, callback);
      const statusUrl = `${baseUrl(d, req)}/api/runs/${encodeURIComponent(run.runId ?? run.trackId)}`;
      return json(202, { ...toRunView(run), statusUrl }, { location: statusUrl });
    }),
});

export const GetRun = httpFunction({
  name: 'GetRun',
  route: 'runs/{runId}',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const run = await getRun(d, req.params.runId ?? '');
      return json(200, { ...toRunView(run), ...(await callbackField(d, { area: 'run', id: run.trackId })) });
    }),
});

export const RunFinishedRequest = z.strictObject({ runId: z.string().min(1).max(100) });

export const RunFinished = httpFunction({
  name: 'RunFinished',
  route: 'callbacks/run-finished',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const { runId } = await parseBody(req, RunFinishedRequest);
      return json(200, toRunView(await runFinished(deps(ctx), runId)));
    }),
});
