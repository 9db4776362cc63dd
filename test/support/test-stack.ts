import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildDeps } from '../../src/composition';
import { loadSettings } from '../../src/config';
import type { Deps } from '../../src/core/deps';
import { LineLogger } from '../../src/adapters/system';
import { startFactoryEmulator, type FactoryEmulator } from '../../local/factory-emulator/emulator';
import { generateCertificate } from '../../local/tls';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { storageConnection } from './storage';

export const TEST_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
export const TEST_RG = 'rg-test';
export const TEST_FACTORY = 'adf-test';

export interface TestStack {
  /** The current emulator (a new object after `restartEmulator`). */
  emulator: FactoryEmulator;
  /** Restarts the factory emulator on the same port and certificate, with an empty run history. */
  restartEmulator(scenario?: Scenario): Promise<void>;
  host: LocalHost;
  deps: Deps;
  /** `${host.url}/api` */
  api: string;
  outbox: string;
  prefix: string;
  logs: string[];
  sweep(): Promise<void>;
  /** fetch against the API; `path` starts with `/`. */
  call(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  close(): Promise<void>;
}

/**
 * The app on real parts, in process: Azurite (from jest's global setup, isolated by a fresh table prefix),
 * the factory emulator over HTTPS through the real ARM SDK, and the local host over real HTTP.
 * Timers are off: tests drive the Sweep with `sweep()`.
 */
export async function startTestStack(opts: { scenario: Scenario; env?: Record<string, string> }): Promise<TestStack> {
  const tls = await generateCertificate();
  let emulator = await startFactoryEmulator({ port: 0, scenario: opts.scenario, tls });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conductor-'));
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, emulator.ca);
  const outbox = path.join(dir, 'outbox');
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const env: Record<string, string> = {
    AzureWebJobsStorage: storageConnection(),
    CONDUCTOR_TABLE_PREFIX: prefix,
    ADF_ENDPOINT: emulator.url,
    ADF_SUBSCRIPTION_ID: TEST_SUBSCRIPTION,
    ADF_RESOURCE_GROUP: TEST_RG,
    ADF_FACTORY_NAME: TEST_FACTORY,
    ADF_CREDENTIAL: 'emulator',
    ADF_CA_CERT: caFile,
    EMAIL_OUTBOX_DIR: outbox,
    ALLOW_INSECURE_CALLBACKS: 'true',
    RECONCILE_GRACE_SECONDS: '1',
    ADF_WRITES_PER_SECOND: '1000',
    ADF_WRITE_BURST: '1000',
    ...opts.env,
  };
  const logs: string[] = [];
  const deps = buildDeps(loadSettings(env), new LineLogger((level, line) => logs.push(`${level} ${line}`)));
  const host = await startLocalHost({ deps, port: 0, settings: env, timers: false, onLog: (fn, level, m) => logs.push(`${level} [${fn}] ${m}`) });
  const api = `${host.url}/api`;
  const stack: TestStack = {
    emulator,
    restartEmulator: async (scenario = opts.scenario) => {
      const port = emulator.port;
      await emulator.close();
      emulator = await startFactoryEmulator({ port, scenario, tls });
      stack.emulator = emulator;
    },
    host,
    deps,
    api,
    outbox,
    prefix,
    logs,
    sweep: () => host.runTimer('Sweep'),
    call: async (method, p, body, headers = {}) => {
      const res = await fetch(`${api}${p}`, {
        method,
        headers: { ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, json, text };
    },
    close: async () => {
      await host.close();
      await emulator.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Sweeps until `done()` holds (or fails after `timeoutMs`). */
export async function sweepUntil(stack: TestStack, done: () => Promise<boolean>, timeoutMs = 20_000, pauseMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await stack.sweep();
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}
