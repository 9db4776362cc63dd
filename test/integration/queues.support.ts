import type { EmulatedRun } from '../../local/factory-emulator/emulator';
import type { TestStack } from '../support/test-stack';

/** Declares queues through PUT /api/metadata (a stage with `pipeline` satisfies the document's rules). */
export async function declareQueues(stack: TestStack, queues: Array<{ name: string; capacity: number }>, pipeline = 'wk_ok'): Promise<void> {
  const doc = { stages: [{ name: 'main', pipelines: [{ name: pipeline }] }], queues };
  const res = await stack.call('PUT', '/metadata', JSON.stringify(doc), { 'content-type': 'application/json' });
  if (res.status !== 200) throw new Error(`PUT /metadata: ${res.status} ${res.text}`);
}

export interface EnqueueReply {
  status: number;
  json: { jobId: string; queue: string; status: string; position: number; runId?: string; [k: string]: unknown };
}

export async function enqueue(stack: TestStack, queue: string, body: Record<string, unknown>): Promise<EnqueueReply> {
  const res: EnqueueReply & { text: string } = await stack.call('POST', `/queues/${queue}/jobs`, body);
  if (res.status !== 202) throw new Error(`enqueue: ${res.status} ${res.text}`);
  return res;
}

export const getJob = async (stack: TestStack, queue: string, jobId: string) => (await stack.call('GET', `/queues/${queue}/jobs/${jobId}`)).json;
export const getQueue = async (stack: TestStack, queue: string) => (await stack.call('GET', `/queues/${queue}`)).json;

/** The emulator's runs of a pipeline, in creation order. */
export const runsOf = (stack: TestStack, pipeline: string): EmulatedRun[] => stack.emulator.runs().filter((r) => r.pipelineName === pipeline);

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
