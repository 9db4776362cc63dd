import type { Deps } from '../deps';
import { armCallbacks, type CallbackBody } from '../outbox/outbox';
import type { Execution, Worker } from './model';
import { ExecutionStore } from './store';

/** What a Webhook activity waiting on an execution is told: Succeeded 200, any other end 500; undefined while it runs. */
export function executionCallbackBody(e: Execution, workers: Worker[]): CallbackBody | undefined {
  if (e.status === 'Running') return undefined;
  const counts: Record<string, number> = {};
  for (const w of workers) counts[w.status] = (counts[w.status] ?? 0) + 1;
  const Output = { executionId: e.executionId, status: e.status, workers: counts };
  if (e.status === 'Succeeded') return { StatusCode: '200', Output };
  const failed = workers.filter((w) => w.status === 'Failed' || w.status === 'Unknown');
  const lines = failed.slice(0, 20).map((w) => `${w.name}: ${w.error ? `${w.error.activity ? `${w.error.activity}: ` : ''}${w.error.code ? `[${w.error.code}] ` : ''}${w.error.message}` : w.status}`);
  const more = failed.length > 20 ? `; and ${failed.length - 20} more` : '';
  return { StatusCode: '500', Output, Error: { ErrorCode: e.status, Message: `Execution ${e.executionId} ended ${e.status}${lines.length ? `. ${lines.join('; ')}${more}` : '.'}`.slice(0, 4000) } };
}

/** An execution ended: its waiting Webhook activities hear it now (the sweep retries what fails). */
export async function executionEnded(deps: Deps, e: Execution): Promise<void> {
  const loaded = await new ExecutionStore(deps).load(e.executionId);
  const body = loaded && executionCallbackBody(loaded.execution, loaded.workers);
  if (body) await armCallbacks(deps, { area: 'execution', id: e.executionId }, body);
}

/** For the sweep: the callback body of an execution's outcome, read from storage. */
export async function executionOutcome(deps: Deps, executionId: string): Promise<CallbackBody | undefined> {
  const loaded = await new ExecutionStore(deps).load(executionId);
  return loaded && executionCallbackBody(loaded.execution, loaded.workers);
}
