import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import type { Deps } from '../core/deps';
import { cancelJob, enqueueJob, getJob, getQueue } from '../core/queues/queues';
import { json, parseBody, respond } from '../http/respond';
import { CallbackFields, Parameters, PipelineRefShape, TimeoutSeconds } from '../http/schemas';
import { callbackField, checkCallbackRequest, recordRequestCallback } from '../core/outbox/outbox';
import { jobOwnerId } from '../core/queues/model';
import { baseUrl } from '../http/urls';
import { toJobView, toPlacedJobView, toQueueView } from '../http/views/queues';
import { httpFunction } from './define';

export const EnqueueRequest = z.strictObject({
  ...PipelineRefShape,
  parameters: Parameters.optional(),
  timeoutSeconds: TimeoutSeconds.optional(),
  ...CallbackFields,
});

export const CancelRequest = z.strictObject({ reason: z.string().max(1000).optional() });

const jobUrl = (d: Deps, req: HttpRequest, queue: string, jobId: string) =>
  `${baseUrl(d, req)}/api/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(jobId)}`;

export const EnqueueJob = httpFunction({
  name: 'EnqueueJob',
  route: 'queues/{queue}/jobs',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const { parameters = {}, timeoutSeconds, callBackUri, callbackTimeoutSeconds, ...ref } = await parseBody(req, EnqueueRequest);
      const d = deps(ctx);
      const callback = { ...(callBackUri ? { callBackUri } : {}), ...(callbackTimeoutSeconds ? { callbackTimeoutSeconds } : {}) };
      checkCallbackRequest(d, callback);
      const queue = req.params.queue ?? '';
      const { job, position } = await enqueueJob(d, queue, { ref, parameters, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) });
      await recordRequestCallback(d, { area: 'job', id: jobOwnerId(job) }, callback);
      const statusUrl = jobUrl(d, req, queue, job.jobId);
      return json(202, { ...toJobView(job), position, statusUrl }, { location: statusUrl });
    }),
});

export const GetQueue = httpFunction({
  name: 'GetQueue',
  route: 'queues/{queue}',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) => respond(ctx, async () => json(200, toQueueView(await getQueue(deps(ctx), req.params.queue ?? '')))),
});

export const GetJob = httpFunction({
  name: 'GetJob',
  route: 'queues/{queue}/jobs/{jobId}',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const job = await getJob(d, req.params.queue ?? '', req.params.jobId ?? '');
      return json(200, { ...toPlacedJobView(job), ...(await callbackField(d, { area: 'job', id: jobOwnerId(job) })) });
    }),
});

export const CancelJob = httpFunction({
  name: 'CancelJob',
  route: 'queues/{queue}/jobs/{jobId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const { reason } = await parseBody(req, CancelRequest);
      const { job, next } = await cancelJob(deps(ctx), req.params.queue ?? '', req.params.jobId ?? '', reason);
      return json(200, { ...toJobView(job), next: next ? toJobView(next) : null });
    }),
});
