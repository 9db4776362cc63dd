import type { Deps } from '../deps';
import { MAX_PARAMETER_CHARS } from '../names';
import { notFound, NotFound, payloadTooLarge, Rejected, unprocessable } from '../errors';
import type { PipelineTarget } from '../ports';
import { canonicalJson, sha256Hex } from '../util';
import { resolveTarget, type RunReference, type TrackedRun } from './model';
import { startTrackedRun } from './start';
import { RunStore } from './store';

export interface RunPipelineInput {
  ref: RunReference;
  parameters: Record<string, unknown>;
  idempotencyKey?: string;
}

/** How long a duplicate request waits for the first one to record its runId. */
const DUPLICATE_WAIT_MS = 15_000;

/** Starts a pipeline and returns at once (fire-and-forget), exactly once per idempotency key. */
export async function runPipeline(deps: Deps, input: RunPipelineInput): Promise<TrackedRun> {
  const target = resolveTarget(input.ref, deps.settings.defaultFactory);
  const size = JSON.stringify(input.parameters).length;
  if (size > MAX_PARAMETER_CHARS) throw payloadTooLarge(`parameters are ${size} characters of JSON; a run's must stay under ${MAX_PARAMETER_CHARS}.`);
  const requestHash = sha256Hex(canonicalJson({ target, parameters: input.parameters }));
  const trackId = input.idempotencyKey ? `k${sha256Hex(input.idempotencyKey).slice(0, 40)}` : undefined;
  for (let round = 0; round < 3; round++) {
    const result = await start(deps, target, input.parameters, trackId, requestHash);
    if (result.kind === 'started') return result.run;
    if (result.run.requestHash !== requestHash)
      throw unprocessable('IdempotencyKeyReused', 'This Idempotency-Key was already used with a different request body.');
    const settled = await awaitRunId(deps, result.run);
    if (settled) return settled;
    // The first request's claim vanished (ADF refused it): decide again.
  }
  throw unprocessable('IdempotencyKeyReused', 'This Idempotency-Key could not be settled; use a new key.');
}

async function start(deps: Deps, target: PipelineTarget, parameters: Record<string, unknown>, trackId: string | undefined, requestHash: string) {
  try {
    return await startTrackedRun(deps, { ...(trackId ? { trackId } : {}), target, parameters, owner: { kind: 'none', id: '' }, requestHash });
  } catch (e) {
    if (e instanceof NotFound) throw notFound('PipelineNotFound', `Pipeline '${target.pipeline}' was not found in factory '${target.factory}'.`);
    if (e instanceof Rejected) throw unprocessable('PipelineRejected', `Data Factory refused to start '${target.pipeline}' (${e.upstreamCode}); check its parameters.`);
    throw e;
  }
}

/** A concurrent duplicate waits for the first request to record the runId (or to give up). */
async function awaitRunId(deps: Deps, run: TrackedRun): Promise<TrackedRun | undefined> {
  const store = new RunStore(deps);
  let current: TrackedRun | undefined = run;
  for (let waited = 0; current && !current.runId && current.status === 'Starting' && waited < DUPLICATE_WAIT_MS; waited += 100) {
    await deps.sleep(100);
    current = await store.get(run.trackId);
  }
  return current;
}

export async function getRun(deps: Deps, id: string): Promise<TrackedRun> {
  const run = await new RunStore(deps).view(id);
  if (!run) throw notFound('RunNotFound', `No tracked run '${id}'.`);
  return run;
}
