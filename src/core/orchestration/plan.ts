/**
 * What an execution of a batch would run: the one pure function behind `POST /executions` (which stores
 * its workers), `POST /executions {dryRun: true}` and `adf-conductor plan` (which only show it).
 * Stages in order with the workers that would start, their resolved parameters and factories, what is
 * disabled or left out and why, and the shared limits (queues) they would wait on.
 */
import { unprocessable, validationFailed, type FieldProblem } from '../errors';
import type { FactoryTarget, PipelineTarget } from '../ports';
import { MAX_PARAMETER_CHARS } from '../names';
import { resolveTarget } from '../runs/model';
import { DEFAULT_FACTORY, stagesOfBatch, type Metadata } from './metadata';
import type { Worker } from './model';
import { referencedParameters, resolveParameters } from './placeholders';

export interface PlanInput {
  batch?: string;
  stages?: string[];
  pipelines?: string[];
  /** Override the batch's `parameters`. */
  parameters?: Record<string, unknown>;
}

export interface PlanContext {
  executionId: string;
  startedAt: string;
  defaultFactory: Partial<FactoryTarget>;
}

export interface Skipped {
  name: string;
  stage: string;
  reason: string;
}

export interface ExecutionPlan {
  batch: string | null;
  /** Stage names in run order (only stages with a worker to run). */
  stages: string[];
  /** The workers as they would be stored, in stage order, each with its resolved parameters and factory. */
  workers: Array<Omit<Worker, 'etag'>>;
  skipped: Skipped[];
  parameters: Record<string, unknown>;
  stageCaps: Record<string, number>;
  stageWarnAfterSeconds: Record<string, number>;
  /** Predecessors outside this execution (disabled or not selected), which count as satisfied, by worker. */
  waivedDependencies: Record<string, string[]>;
  /** Queues the workers take a slot in, with their capacity. */
  sharedLimits: Array<{ queue: string; capacity: number; workers: string[] }>;
}

/**
 * Undefined for an unknown batch (the caller says BatchNotFound). Throws: an unknown stage or pipeline in the
 * filter, a missing execution parameter or resolved parameters too large (400 ValidationFailed); nothing selected (422).
 */
export function planExecution(md: Metadata, input: PlanInput, ctx: PlanContext): ExecutionPlan | undefined {
  const batch = input.batch ?? null;
  const stageDefs = stagesOfBatch(md, input.batch);
  if (!stageDefs) return undefined; // the caller says BatchNotFound
  const where = batch === null ? 'the metadata' : `batch '${batch}'`;

  const problems: FieldProblem[] = [];
  input.stages?.forEach((s, i) => {
    if (!stageDefs.some((d) => d.name === s)) problems.push({ path: `stages[${i}]`, message: `no stage '${s}' in ${where}` });
  });
  const allWorkers = stageDefs.flatMap((s) => s.pipelines.map((p) => p.name));
  input.pipelines?.forEach((p, i) => {
    if (!allWorkers.includes(p)) problems.push({ path: `pipelines[${i}]`, message: `no pipeline '${p}' in ${where}` });
  });
  if (problems.length) throw validationFailed(problems, 'The execution filter names unknown stages or pipelines.');

  const parameters = { ...(md.batches.find((b) => b.name === batch)?.parameters ?? {}), ...(input.parameters ?? {}) };
  const skipped: Skipped[] = [];
  const picked: Array<{ stage: (typeof stageDefs)[number]; worker: (typeof stageDefs)[number]['pipelines'][number] }> = [];
  for (const stage of stageDefs) {
    for (const worker of stage.pipelines) {
      const reason = !stage.enabled
        ? `stage '${stage.name}' is disabled`
        : !worker.enabled
          ? 'the worker is disabled'
          : input.stages && !input.stages.includes(stage.name)
            ? 'its stage is not selected'
            : input.pipelines && !input.pipelines.includes(worker.name)
              ? 'it is not selected'
              : undefined;
      if (reason) skipped.push({ name: worker.name, stage: stage.name, reason });
      else picked.push({ stage, worker });
    }
  }
  if (picked.length === 0) throw unprocessable('NothingSelected', 'The request selects no enabled pipeline to run.');

  const missing = [...new Set(picked.flatMap(({ worker }) => referencedParameters(worker.parameters)))].filter((p) => !Object.hasOwn(parameters, p));
  if (missing.length)
    throw validationFailed(
      missing.map((p) => ({ path: `parameters.${p}`, message: `is used by a worker (\${execution.parameters.${p}}) but set neither ${batch === null ? '' : `in the parameters of batch '${batch}' nor `}in the execution's parameters` })),
      'Execution parameters are missing.',
    );

  const names = new Set(picked.map((x) => x.worker.name));
  const stages: string[] = [];
  const workers: Array<Omit<Worker, 'etag'>> = [];
  const waivedDependencies: Record<string, string[]> = {};
  for (const { stage, worker: w } of picked) {
    const waived = w.dependsOn.filter((d) => !names.has(d));
    if (waived.length) waivedDependencies[w.name] = waived;
    if (!stages.includes(stage.name)) stages.push(stage.name);
    const resolved = resolveParameters(w.parameters, { executionId: ctx.executionId, batch, startedAt: ctx.startedAt, stage: stage.name, worker: w.name, parameters });
    workers.push({
      name: w.name,
      stage: stage.name,
      stageIndex: stages.indexOf(stage.name),
      order: workers.length,
      target: targetOf(md, w.factory, w.pipeline, ctx.defaultFactory),
      factoryKey: w.factory,
      parameters: resolved as Record<string, unknown>,
      // A predecessor outside this execution (disabled or not selected) counts as satisfied.
      dependsOn: w.dependsOn.filter((d) => names.has(d)),
      timeoutSeconds: w.timeoutSeconds ?? md.properties.defaultWorkerTimeoutSeconds,
      ...(w.queue ? { queue: w.queue } : {}),
      ...(w.retry && w.retry.count > 0 ? { retry: w.retry } : {}),
      ...(w.warnAfterSeconds !== undefined ? { warnAfterSeconds: w.warnAfterSeconds } : {}),
      status: 'Pending',
      attempt: 1,
    });
  }
  const tooLarge = workers.filter((w) => JSON.stringify(w.parameters).length > MAX_PARAMETER_CHARS);
  if (tooLarge.length)
    throw validationFailed(
      tooLarge.map((w) => ({ path: `parameters`, message: `worker '${w.name}': its parameters, resolved, are ${JSON.stringify(w.parameters).length} characters of JSON; at most ${MAX_PARAMETER_CHARS}` })),
      'Resolved parameters are too large.',
    );
  const used = stageDefs.filter((s) => stages.includes(s.name));
  const stageCaps = Object.fromEntries(used.filter((s) => s.maxConcurrentWorkers !== undefined).map((s) => [s.name, s.maxConcurrentWorkers as number]));
  const stageWarnAfterSeconds = Object.fromEntries(used.filter((s) => s.warnAfterSeconds !== undefined).map((s) => [s.name, s.warnAfterSeconds as number]));
  const queues = [...new Set(workers.flatMap((w) => (w.queue ? [w.queue] : [])))];
  const sharedLimits = queues.map((queue) => ({ queue, capacity: md.queues.find((q) => q.name === queue)?.capacity ?? 1, workers: workers.filter((w) => w.queue === queue).map((w) => w.name) }));
  return { batch, stages, workers, skipped, parameters, stageCaps, stageWarnAfterSeconds, waivedDependencies, sharedLimits };
}

function targetOf(md: Metadata, factoryKey: string, pipeline: string, defaultFactory: Partial<FactoryTarget>): PipelineTarget {
  const f = md.factories[factoryKey] ?? (factoryKey === DEFAULT_FACTORY ? {} : undefined);
  return resolveTarget(
    { pipeline, ...(f?.subscriptionId ? { subscriptionId: f.subscriptionId } : {}), ...(f?.resourceGroup ? { resourceGroup: f.resourceGroup } : {}), ...(f?.factory ? { factory: f.factory } : {}), ...(f?.tenantId ? { tenantId: f.tenantId } : {}) },
    defaultFactory,
    `factories.${factoryKey}.`,
  );
}
