/**
 * The dry run's answer (`POST /executions {dryRun: true}`) and `adf-conductor plan`'s: what an execution
 * of the batch would run, stage by stage, with every worker's resolved parameters and factory.
 */
import type { ExecutionPlan } from '../../core/orchestration/plan';

export function toPlanView(plan: ExecutionPlan, metadataVersion?: number) {
  return {
    dryRun: true as const,
    batch: plan.batch,
    ...(metadataVersion !== undefined ? { metadataVersion } : {}),
    parameters: plan.parameters,
    stages: plan.stages.map((name) => ({
      name,
      ...(plan.stageCaps[name] !== undefined ? { maxConcurrentWorkers: plan.stageCaps[name] } : {}),
      ...(plan.stageWarnAfterSeconds[name] !== undefined ? { warnAfterSeconds: plan.stageWarnAfterSeconds[name] } : {}),
      workers: plan.workers
        .filter((w) => w.stage === name)
        .map((w) => ({
          name: w.name,
          pipeline: w.target.pipeline,
          factory: w.target.factory,
          resourceGroup: w.target.resourceGroup,
          subscriptionId: w.target.subscriptionId,
          parameters: w.parameters,
          dependsOn: w.dependsOn,
          ...(plan.waivedDependencies[w.name] ? { waivedDependencies: plan.waivedDependencies[w.name] } : {}),
          ...(w.queue ? { queue: w.queue } : {}),
          ...(w.retry ? { retry: w.retry } : {}),
          ...(w.timeoutSeconds !== undefined ? { timeoutSeconds: w.timeoutSeconds } : {}),
          ...(w.warnAfterSeconds !== undefined ? { warnAfterSeconds: w.warnAfterSeconds } : {}),
        })),
    })),
    skipped: plan.skipped,
    sharedLimits: plan.sharedLimits,
  };
}
