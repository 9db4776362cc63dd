/**
 * `adf-conductor plan`: the dry run's plan without a server. The plan is the one `planExecution` computes for
 * `POST /executions {dryRun: true}`, shaped by the same `toPlanView`; this file turns `--param` into execution
 * parameters, finds the default factory in the environment, and prints the view as lines for a CI log.
 */
import { NAME_LIMITS, PARAMETER_NAME_MSG, PARAMETER_NAME_RE } from '../core/names';
import type { FactoryTarget } from '../core/ports';
import type { toPlanView } from '../http/views/plan';
import { oneLine } from './report';

export type PlanView = ReturnType<typeof toPlanView>;
type PlanWorker = PlanView['stages'][number]['workers'][number];

/** The app settings that name the default factory, and what an offline plan shows when one is not set. */
export const FACTORY_SETTINGS = {
  subscriptionId: 'ADF_SUBSCRIPTION_ID',
  resourceGroup: 'ADF_RESOURCE_GROUP',
  factory: 'ADF_FACTORY_NAME',
} as const;

/**
 * The default factory as the app would have it: its settings from the environment, else a placeholder naming
 * the setting, so a plan made away from the app still shows which workers run on the default factory.
 */
export function defaultFactoryFrom(env: Record<string, string | undefined>): FactoryTarget {
  const pick = (setting: string) => env[setting]?.trim() || `<${setting}>`;
  return {
    subscriptionId: pick(FACTORY_SETTINGS.subscriptionId),
    resourceGroup: pick(FACTORY_SETTINGS.resourceGroup),
    factory: pick(FACTORY_SETTINGS.factory),
  };
}

/** A `--param` that cannot be used; its message never repeats the value (it may be a secret). */
export class ParamError extends Error {
  override name = 'ParamError';
}

/**
 * `--param name=value` (repeatable) as execution parameters: a value that parses as JSON is that JSON value
 * (`5`, `true`, `{"a":1}`, `"quoted"`), anything else is the string as typed. A later `--param` of the same
 * name wins, as a later key in a JSON body would.
 */
export function parseParams(raw: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [i, arg] of raw.entries()) {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new ParamError(`--param #${i + 1} has no "=": write --param name=value, e.g. --param region=EU`);
    const name = arg.slice(0, eq);
    if (!PARAMETER_NAME_RE.test(name)) throw new ParamError(`--param "${oneLine(name).slice(0, 60)}": ${PARAMETER_NAME_MSG}`);
    params[name] = jsonOrString(arg.slice(eq + 1));
  }
  // The API refuses more than ADF allows per pipeline; the plan of a request the server would refuse is no plan.
  const count = Object.keys(params).length;
  if (count > NAME_LIMITS.maxParameters) throw new ParamError(`${count} execution parameters; at most ${NAME_LIMITS.maxParameters} (ADF's limit per pipeline)`);
  return params;
}

function jsonOrString(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Compact JSON on one line (control characters in string values cannot reach the terminal). */
const compact = (v: unknown) => oneLine(JSON.stringify(v));

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The plan as plain lines: a header, each stage in run order with its workers, then what is skipped and why,
 * then the shared limits. No colours and no cursor movement, so it reads the same in a CI log as on a terminal.
 */
export function planLines(view: PlanView, file: string): string[] {
  const workers = view.stages.reduce((n, s) => n + s.workers.length, 0);
  const scope = view.batch === null ? 'all stages (no batch)' : `batch ${oneLine(view.batch)}`;
  const params = Object.keys(view.parameters).length ? compact(view.parameters) : 'none';
  const lines = [`plan of ${scope} from ${oneLine(file)}: ${plural(view.stages.length, 'stage')}, ${plural(workers, 'worker')}; execution parameters ${params}`];

  view.stages.forEach((stage, i) => {
    const limits = [
      ...(stage.maxConcurrentWorkers !== undefined ? [`at most ${stage.maxConcurrentWorkers} at a time`] : []),
      ...(stage.warnAfterSeconds !== undefined ? [`warn after ${stage.warnAfterSeconds} s`] : []),
    ];
    lines.push(`stage ${i + 1} ${oneLine(stage.name)}${limits.length ? ` (${limits.join(', ')})` : ''}`);
    for (const w of stage.workers) lines.push(...workerLines(w, view));
  });

  if (view.skipped.length) {
    lines.push('skipped:');
    for (const s of view.skipped) lines.push(`  ${oneLine(s.name)} (stage ${oneLine(s.stage)}): ${oneLine(s.reason)}`);
  }
  if (view.sharedLimits.length) {
    lines.push('shared limits:');
    for (const q of view.sharedLimits) lines.push(`  queue ${oneLine(q.queue)} (capacity ${q.capacity}): ${q.workers.map(oneLine).join(', ')}`);
  }
  return lines;
}

function workerLines(w: PlanWorker, view: PlanView): string[] {
  const lines = [`  ${oneLine(w.name)}: ${oneLine(w.pipeline)} @ ${oneLine(w.factory)} (${oneLine(w.resourceGroup)})`];
  lines.push(`    parameters ${Object.keys(w.parameters).length ? compact(w.parameters) : 'none'}`);
  const capacity = view.sharedLimits.find((q) => q.queue === w.queue)?.capacity;
  const details = [
    w.dependsOn.length ? `after ${w.dependsOn.map(oneLine).join(', ')}` : 'no dependencies',
    // A predecessor that is disabled or not selected counts as satisfied: say so, or the plan looks wrong.
    ...(w.waivedDependencies?.length ? [`waived ${w.waivedDependencies.map(oneLine).join(', ')} (not in this execution)`] : []),
    ...(w.queue !== undefined ? [`queue ${oneLine(w.queue)}${capacity !== undefined ? ` (capacity ${capacity})` : ''}`] : []),
    ...(w.retry ? [`retry ${plural(w.retry.count, 'time')} after ${w.retry.intervalSeconds} s${w.retry.fromFailure ? ' from the failed activity' : ''}`] : []),
    ...(w.timeoutSeconds !== undefined ? [`timeout ${w.timeoutSeconds} s`] : []),
    ...(w.warnAfterSeconds !== undefined ? [`warn after ${w.warnAfterSeconds} s`] : []),
  ];
  lines.push(`    ${details.join(' · ')}`);
  return lines;
}
