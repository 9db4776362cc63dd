/**
 * One benchmark stack, in process, on the real parts: Azurite (a child process, in memory), the factory
 * emulator over HTTPS, the app's real adapters (@azure/data-tables, @azure/arm-datafactory) from
 * `buildDeps(loadSettings(env))`, a counting decorator on the Tables port, and, when asked, the local host
 * serving the HTTP functions and the Sweep timer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDeps } from '../src/composition';
import { loadSettings } from '../src/config';
import { LineLogger } from '../src/adapters/system';
import type { Deps } from '../src/core/deps';
import { startAzurite } from '../local/azurite';
import { startFactoryEmulator, type FactoryEmulator, type Scenario } from '../local/factory-emulator/emulator';
import { startLocalHost } from '../local/host/host';
import { countingTables, OpCounter } from './counting-tables';
import { mapLimit, sleep } from './support';

export const FACTORY = {
  subscriptionId: '00000000-0000-0000-0000-0000000000be',
  resourceGroup: 'rg-bench',
  factory: 'adf-bench',
};

/**
 * App settings every section uses. ARM's pacing is lifted so that the bench measures the app, not the
 * pacing it would apply in Azure (ADF_STARTS_PER_SECOND is the older name of the same knob).
 */
export const BENCH_SETTINGS: Record<string, string> = {
  ADF_STARTS_PER_SECOND: '1000',
  ADF_WRITES_PER_SECOND: '1000',
  ADF_WRITE_BURST: '1000',
};

export interface StackOptions {
  prefix: string;
  scenario: Scenario;
  /** Extra app settings (override BENCH_SETTINGS). */
  settings?: Record<string, string>;
  /** Start the local host (HTTP functions); `timers` runs its Sweep on SWEEP_SCHEDULE. */
  host?: { timers: boolean };
  maxRuns?: number;
}

export interface Stack {
  emulator: FactoryEmulator;
  /** The app's deps, with the counting Tables. */
  deps: Deps;
  tableOps: OpCounter;
  env: Record<string, string>;
  /** `http://127.0.0.1:port/api` when a host runs. */
  api: string;
  hostLogs: { warnings: number; errors: number; last: string[] };
  /** Azurite's process, for its CPU time. */
  azuritePid: number | undefined;
  close(): Promise<void>;
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const azurite = await startAzurite({ inMemory: true });
  const closers: Array<() => Promise<void>> = [() => azurite.stop()];
  try {
    const emulator = await startFactoryEmulator({ port: 0, scenario: opts.scenario, maxRuns: opts.maxRuns ?? 100_000 });
    closers.unshift(() => emulator.close());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adf-conductor-bench-'));
    closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, 'ca.pem'), emulator.ca);
    const env: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      CONDUCTOR_TABLE_PREFIX: opts.prefix,
      ADF_ENDPOINT: emulator.url,
      ADF_SUBSCRIPTION_ID: FACTORY.subscriptionId,
      ADF_RESOURCE_GROUP: FACTORY.resourceGroup,
      ADF_FACTORY_NAME: FACTORY.factory,
      ADF_CREDENTIAL: 'emulator',
      ADF_CA_CERT: path.join(dir, 'ca.pem'),
      EMAIL_OUTBOX_DIR: path.join(dir, 'outbox'),
      ...BENCH_SETTINGS,
      ...(opts.settings ?? {}),
    };
    const base = buildDeps(loadSettings(env), new LineLogger(() => undefined));
    const tableOps = new OpCounter();
    const deps: Deps = { ...base, tables: countingTables(base.tables, tableOps) };
    const hostLogs = { warnings: 0, errors: 0, last: [] as string[] };
    let api = '';
    if (opts.host) {
      const host = await startLocalHost({
        deps,
        port: 0,
        settings: env,
        timers: opts.host.timers,
        onLog: (fn, level, message) => {
          if (level !== 'warning' && level !== 'error') return;
          if (level === 'error') hostLogs.errors++;
          else hostLogs.warnings++;
          hostLogs.last.push(`[${fn}] ${level}: ${message}`.slice(0, 300));
          if (hostLogs.last.length > 5) hostLogs.last.shift();
        },
      });
      closers.unshift(() => host.close());
      api = `${host.url}/api`;
    }
    return {
      emulator,
      deps,
      tableOps,
      env,
      api,
      hostLogs,
      azuritePid: azurite.pid,
      close: async () => {
        for (const close of closers) await close().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const close of closers) await close().catch(() => undefined);
    throw e;
  }
}

/** ARM calls from the emulator's counters: reads and writes, with every operation. */
export function armCalls(stats: Record<string, number>) {
  const n = (k: string) => stats[k] ?? 0;
  return {
    reads: n('getRun') + n('queryPipelineRuns') + n('queryActivityruns') + n('getPipeline'),
    writes: n('createRun') + n('cancel'),
    getRun: n('getRun'),
    queryPipelineRuns: n('queryPipelineRuns'),
    queryActivityruns: n('queryActivityruns'),
    getPipeline: n('getPipeline'),
    createRun: n('createRun'),
    cancel: n('cancel'),
  };
}

export type ArmCalls = ReturnType<typeof armCalls>;

/** Emulator counters since `before`. */
export function armSince(emulator: FactoryEmulator, before: Record<string, number>): ArmCalls {
  const now = emulator.stats();
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(now)) delta[k] = v - (before[k] ?? 0);
  return armCalls(delta);
}

/** A JSON request to the local host; the body is read fully. */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': typeof body === 'string' ? 'application/yaml' : 'application/json', accept: 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/**
 * The completion-callback pump: every run that reached a terminal state in the emulator gets one
 * POST /api/callbacks/run-finished, as a worker's last Web activity would send it.
 */
export function callbackPump(stack: Stack, concurrency = 16) {
  const called = new Set<string>();
  let stopped = false;
  let failures = 0;
  const loop = (async () => {
    while (!stopped) {
      const done = stack.emulator.runs().filter((r) => (r.status === 'Succeeded' || r.status === 'Failed' || r.status === 'Cancelled') && !called.has(r.runId));
      for (const r of done) called.add(r.runId);
      await mapLimit(done, concurrency, async (r) => {
        const res = await http('POST', `${stack.api}/callbacks/run-finished`, { runId: r.runId }).catch(() => ({ status: 0 }));
        if (res.status >= 300 || res.status === 0) failures++;
      });
      await sleep(20);
    }
  })();
  return {
    called: () => called.size,
    failures: () => failures,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
