import fs from 'node:fs';
import { DataFactoryManagementClient, type PipelineRun, type RunFilterParameters, type RunQueryFilter as RunQueryFilterSdk } from '@azure/arm-datafactory';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { NotFound, Rejected, Throttled, Unavailable } from '../core/errors';
import { retryAfterOf, statusCodeOf } from './http-errors';
import type { ActivityError, AdfRunStatus, Factory, FactoryTarget, PipelineTarget, RunQueryFilter, RunUpdate, StartOptions } from '../core/ports';

export interface ArmFactoryOptions {
  /** ARM endpoint; https://management.azure.com unless pointing at the local emulator. */
  endpoint?: string;
  /** `default` = DefaultAzureCredential per tenant; `emulator` = a static token (local emulator only). */
  credential?: 'default' | 'emulator' | TokenCredential;
  /** Extra CA (PEM) trusted for the endpoint: the emulator's self-signed certificate. */
  caCert?: string;
  caCertFile?: string;
  /** createRun is abandoned after this long; its outcome is then unknown (Unavailable). Default 60 s. */
  startTimeoutMs?: number;
}

/** A fixed bearer token: the emulator accepts any token. Never used against Azure. */
export const emulatorCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'emulator-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

const PAGE_GUARD = 10_000;
/** A createRun is abandoned (and reconciled) after this long; a claim's lease covers it (runs/start.ts attemptLeaseSeconds). */
const START_TIMEOUT_MS = 60_000;

/** Maps ARM/SDK errors to the port's errors. SDK messages never reach callers. */
export function mapArmError(e: unknown, what: string): Error {
  const err = e as { code?: string } | undefined;
  const status = statusCodeOf(e);
  if (status === 404) return new NotFound(`${what}: not found`);
  if (status === 400) return new Rejected(err?.code ?? 'BadRequest', `${what}: rejected by Data Factory (${err?.code ?? 'BadRequest'})`);
  if (status === 429) return new Throttled(retryAfterOf(e) || 5, `${what}: throttled`);
  if (status === 401 || status === 403) return new Unavailable(`${what}: not authorized (${status}); check the identity's Data Factory Contributor role`, 30);
  return new Unavailable(`${what}: ${status ? `HTTP ${status}` : (err?.code ?? 'network error')}`, retryAfterOf(e));
}

function toUpdate(r: PipelineRun): RunUpdate {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.parameters ?? {})) params[k] = String(v);
  return {
    runId: r.runId ?? '',
    pipeline: r.pipelineName ?? '',
    status: (r.status ?? 'Queued') as AdfRunStatus,
    parameters: params,
    ...(r.runStart ? { runStart: new Date(r.runStart).toISOString() } : {}),
    ...(r.runEnd ? { runEnd: new Date(r.runEnd).toISOString() } : {}),
    lastUpdated: r.lastUpdated ? new Date(r.lastUpdated).toISOString() : new Date().toISOString(),
    ...(r.message ? { message: r.message } : {}),
    ...(r.runGroupId ? { runGroupId: r.runGroupId } : {}),
  };
}

/** The Factory port on @azure/arm-datafactory. */
export class ArmFactory implements Factory {
  private readonly clients = new Map<string, { read: DataFactoryManagementClient; write: DataFactoryManagementClient }>();
  private readonly credentials = new Map<string, TokenCredential>();
  private readonly ca: string | undefined;

  readonly startTimeoutSeconds: number;

  constructor(private readonly options: ArmFactoryOptions = {}) {
    this.startTimeoutSeconds = (options.startTimeoutMs ?? START_TIMEOUT_MS) / 1000;
    this.ca = options.caCert ?? (options.caCertFile ? fs.readFileSync(options.caCertFile, 'utf8') : undefined);
  }

  private credential(tenantId?: string): TokenCredential {
    const c = this.options.credential ?? 'default';
    if (typeof c !== 'string') return c;
    if (c === 'emulator') return emulatorCredential;
    const key = tenantId ?? '';
    let cred = this.credentials.get(key);
    if (!cred) this.credentials.set(key, (cred = new DefaultAzureCredential(tenantId ? { tenantId } : {})));
    return cred;
  }

  private client(f: FactoryTarget) {
    const key = `${f.subscriptionId}|${f.tenantId ?? ''}`;
    let c = this.clients.get(key);
    if (!c) {
      const base = {
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.ca ? { tlsOptions: { ca: this.ca } } : {}),
        userAgentOptions: { userAgentPrefix: 'adf-conductor' },
      };
      const cred = this.credential(f.tenantId);
      c = {
        // Reads are idempotent: a few quick retries ride out throttling and blips.
        read: new DataFactoryManagementClient(cred, f.subscriptionId, { ...base, retryOptions: { maxRetries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 } }),
        // Writes are never retried by the SDK: a retried createRun can start a pipeline twice.
        write: new DataFactoryManagementClient(cred, f.subscriptionId, { ...base, retryOptions: { maxRetries: 0 } }),
      };
      this.clients.set(key, c);
    }
    return c;
  }

  async start(t: PipelineTarget, parameters: Record<string, unknown>, options?: StartOptions): Promise<{ runId: string }> {
    try {
      const res = await this.client(t).write.pipelines.createRun(t.resourceGroup, t.factory, t.pipeline, {
        parameters,
        abortSignal: AbortSignal.timeout(this.startTimeoutSeconds * 1000),
        ...(options?.recovery
          ? { referencePipelineRunId: options.recovery.referencePipelineRunId, isRecovery: true, startFromFailure: options.recovery.startFromFailure }
          : {}),
      });
      return { runId: res.runId };
    } catch (e) {
      throw mapArmError(e, `createRun ${t.pipeline}`);
    }
  }

  async getRun(f: FactoryTarget, runId: string): Promise<RunUpdate> {
    try {
      return toUpdate(await this.client(f).read.pipelineRuns.get(f.resourceGroup, f.factory, runId));
    } catch (e) {
      throw mapArmError(e, `get run ${runId}`);
    }
  }

  async cancel(f: FactoryTarget, runId: string): Promise<void> {
    try {
      await this.client(f).write.pipelineRuns.cancel(f.resourceGroup, f.factory, runId, { isRecursive: true });
    } catch (e) {
      const mapped = mapArmError(e, `cancel run ${runId}`);
      // ADF answers 400 for a run that already finished: the goal (not running) is met.
      if (mapped instanceof Rejected) return;
      throw mapped;
    }
  }

  async *changedRuns(f: FactoryTarget, after: Date, before: Date, narrow: RunQueryFilter = {}): AsyncIterable<RunUpdate> {
    const filters: RunQueryFilterSdk[] = [];
    if (narrow.pipelines?.length) filters.push({ operand: 'PipelineName', operator: 'In', values: narrow.pipelines });
    if (narrow.runGroupIds?.length) filters.push({ operand: 'RunGroupId', operator: 'In', values: narrow.runGroupIds });
    const filter: RunFilterParameters = { lastUpdatedAfter: after, lastUpdatedBefore: before, ...(filters.length ? { filters } : {}) };
    let token: string | undefined;
    for (let page = 0; page < PAGE_GUARD; page++) {
      let res;
      try {
        res = await this.client(f).read.pipelineRuns.queryByFactory(f.resourceGroup, f.factory, { ...filter, ...(token ? { continuationToken: token } : {}) });
      } catch (e) {
        throw mapArmError(e, 'query pipeline runs');
      }
      for (const r of res.value) yield toUpdate(r);
      token = res.continuationToken ?? undefined;
      if (!token) return;
    }
  }

  async activityErrors(f: FactoryTarget, runId: string, runStart: Date, runEnd: Date): Promise<ActivityError[]> {
    const out: ActivityError[] = [];
    let token: string | undefined;
    const window = { lastUpdatedAfter: new Date(runStart.getTime() - 60_000), lastUpdatedBefore: new Date(runEnd.getTime() + 3_600_000) };
    for (let page = 0; page < PAGE_GUARD; page++) {
      let res;
      try {
        res = await this.client(f).read.activityRuns.queryByPipelineRun(f.resourceGroup, f.factory, runId, { ...window, ...(token ? { continuationToken: token } : {}) });
      } catch (e) {
        throw mapArmError(e, `query activity runs of ${runId}`);
      }
      for (const a of res.value) {
        if (a.status !== 'Failed') continue;
        const err = (a.error ?? {}) as { errorCode?: string; message?: string };
        out.push({ activity: a.activityName ?? '', code: String(err.errorCode ?? ''), message: String(err.message ?? '') });
      }
      token = res.continuationToken ?? undefined;
      if (!token) return out;
    }
    return out;
  }

  async pipelineExists(t: PipelineTarget): Promise<boolean> {
    try {
      await this.client(t).read.pipelines.get(t.resourceGroup, t.factory, t.pipeline);
      return true;
    } catch (e) {
      const mapped = mapArmError(e, `get pipeline ${t.pipeline}`);
      if (mapped instanceof NotFound) return false;
      throw mapped;
    }
  }
}
