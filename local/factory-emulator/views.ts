/**
 * What the factory emulator shows of a run: ADF's PipelineRun JSON, the inspection view (`GET /_emulator/runs`),
 * and its activity runs.
 */
import { randomUUID } from 'node:crypto';
import type { EmulatedRun, PipelineRunJson, Run } from './model';

const iso = (ms: number) => new Date(ms).toISOString();

/** A run in ADF's PipelineRun JSON shape; `isLatest` as the service knows it. */
export function pipelineRunJson(run: Run, isLatest: boolean): PipelineRunJson {
  const json: PipelineRunJson = {
    runId: run.runId,
    runGroupId: run.runGroupId,
    isLatest,
    pipelineName: run.pipelineName,
    parameters: { ...run.parameters },
    runDimensions: {},
    invokedBy: { name: 'Manual', id: run.invokedById, invokedByType: 'Manual' },
    lastUpdated: iso(run.lastUpdated),
    runStart: iso(run.runStart),
    status: run.status,
    message: run.message,
  };
  if (run.runEnd !== undefined) {
    json.runEnd = iso(run.runEnd);
    json.durationInMs = run.runEnd - run.runStart;
  }
  return json;
}

/** A run as `GET /_emulator/runs` shows it. */
export function emulatedRun(run: Run, isLatest: boolean): EmulatedRun {
  const view: EmulatedRun = {
    ...pipelineRunJson(run, isLatest),
    factory: run.factory,
    subscriptionId: run.subscriptionId,
    resourceGroup: run.resourceGroup,
    isRecovery: run.isRecovery,
    startFromFailure: run.startFromFailure,
  };
  if (run.referencePipelineRunId !== undefined) view.referencePipelineRunId = run.referencePipelineRunId;
  if (run.startActivityName !== undefined) view.startActivityName = run.startActivityName;
  return view;
}

// ---------------------------------------------------------------------------------------------
// Activity runs: a prepare step that succeeds, then the main activity, which carries the failure.

export interface ActivityRunJson {
  activityName: string;
  activityType: string;
  pipelineName: string;
  pipelineRunId: string;
  activityRunId: string;
  linkedServiceName: string;
  status: string;
  activityRunStart: string;
  activityRunEnd?: string;
  durationInMs?: number;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
  error: { errorCode: string; message: string; failureType: string; target: string };
}

export interface ActivityView {
  json: ActivityRunJson;
  lastUpdated: number;
  start: number;
  end?: number;
  index: number;
}

export function activityRunsOf(run: Run): ActivityView[] {
  if (run.startedAt === undefined) return [];
  if (run.webhook) return [webhookActivityOf(run, run.startedAt)];
  const start = run.startedAt;
  const views: ActivityView[] = [];
  const make = (index: number, name: string, type: string, status: string, end: number | undefined, failed: boolean): ActivityView =>
    activityView(run, { index, activityRunId: run.activityRunIds[index] ?? randomUUID(), name, type, status, start, end, failed, input: {}, output: failed ? {} : { executionDuration: 0 } });
  views.push(make(0, 'Prepare', 'SetVariable', 'Succeeded', start, false));
  const mainName = run.failure.activity;
  const mainType = 'Copy';
  if (run.status === 'Failed') views.push(make(1, mainName, mainType, 'Failed', run.runEnd, true));
  else if (run.status === 'Succeeded') views.push(make(1, mainName, mainType, 'Succeeded', run.runEnd, false));
  else if (run.status === 'Cancelled') views.push(make(1, mainName, mainType, 'Cancelled', run.runEnd, false));
  else views.push(make(1, mainName, mainType, 'InProgress', undefined, false));
  return views;
}

/**
 * A webhook pipeline's one activity (type `WebHook`): InProgress while it waits, then Succeeded, Failed (the
 * callback's StatusCode >= 400, or the POST failed), `TimedOut` (no callback in time, as ADF names it) or Cancelled.
 * Its output is the callback's `Output`; its error the callback's `Error`, the POST's error or the timeout.
 */
function webhookActivityOf(run: Run, start: number): ActivityView {
  const webhook = run.webhook!;
  const name = webhook.activity;
  const status = run.status === 'Failed' ? (webhook.timedOut ? 'TimedOut' : 'Failed')
    : run.status === 'Succeeded' || run.status === 'Cancelled' ? run.status
    : 'InProgress';
  const failed = run.status === 'Failed';
  const end = status === 'InProgress' ? undefined : run.runEnd;
  const input = structuredClone(webhook.input);
  const output = structuredClone(webhook.output);
  return activityView(run, { index: 0, activityRunId: run.activityRunIds[0], name, type: 'WebHook', status, start, end, failed, input, output });
}

interface ActivityParts {
  index: number;
  activityRunId: string;
  name: string;
  type: string;
  status: string;
  start: number;
  end: number | undefined;
  failed: boolean;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
}

/** One activity run of `run` as ADF shows it, with activityRunEnd and durationInMs once it has ended. */
function activityView(run: Run, a: ActivityParts): ActivityView {
  const { name, start, end } = a;
  const json: ActivityRunJson = {
    activityName: name,
    activityType: a.type,
    pipelineName: run.pipelineName,
    pipelineRunId: run.runId,
    activityRunId: a.activityRunId,
    linkedServiceName: '',
    status: a.status,
    activityRunStart: iso(start),
    input: a.input,
    output: a.output,
    // ADF returns an error object with empty fields for activities that did not fail.
    error: a.failed
      ? { errorCode: run.failure.code, message: run.failure.message, failureType: 'UserError', target: name }
      : { errorCode: '', message: '', failureType: '', target: name },
  };
  if (end !== undefined) {
    json.activityRunEnd = iso(end);
    json.durationInMs = end - start;
  }
  return { json, lastUpdated: end ?? start, start, end, index: a.index };
}
