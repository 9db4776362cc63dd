/**
 * The fault suite's stack: Azurite on disk and the factory emulator live in this (the test) process's
 * children and in-process, and survive; the app host runs as `node dist/local/stack.js` attached to them, in a
 * child process the test kills with SIGKILL (or that kills itself at a crash point) and starts again on the
 * same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildDeps } from '../../src/composition';
import { loadSettings } from '../../src/config';
import type { Deps } from '../../src/core/deps';
import { LineLogger } from '../../src/adapters/system';
import { freePort, projectRoot, startAzurite, type RunningAzurite } from '../../local/azurite';
import { startFactoryEmulator, type FactoryEmulator } from '../../local/factory-emulator/emulator';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { readOutbox, type OutboxEntry } from '../../src/adapters/outbox-mailer';
import { generateCertificate } from '../../local/tls';

export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

export const faultScenario: Scenario = {
  pipelines: {
    wk_ok: { durationMs: 400 },
    wk_bad: { durationMs: 300, outcome: 'Failed', error: { activity: 'Copy data', code: '2200', message: 'Source not found' } },
    pl_continue: { durationMs: 300 },
    pl_rejected: { durationMs: 300 },
  },
  unknownPipelines: 'notFound',
};

/** Services that outlive every host: Azurite (on disk, its own process) and the emulator (in this process). */
export interface Services {
  dir: string;
  azurite: RunningAzurite;
  /** Stops Azurite (gracefully) and starts it again on the same port and folder after `ms`. */
  storageOutage(ms: number): Promise<void>;
  emulator: FactoryEmulator;
  caFile: string;
  /** A Webhook activity's receiver: `callbackUri(tag)` to give, `callbacks(tag)` what arrived (2xx answered). */
  callbackUri(tag: string): string;
  callbacks(tag: string): unknown[];
  close(): Promise<void>;
}

export async function startServices(scenario: Scenario = faultScenario): Promise<Services> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conductor-faults-'));
  const location = path.join(dir, 'azurite');
  let azurite = await startAzurite({ inMemory: false, location });
  const tls = await generateCertificate();
  const emulator = await startFactoryEmulator({ port: 0, scenario, tls });
  const caFile = path.join(dir, 'ca.pem');
  fs.writeFileSync(caFile, emulator.ca);
  const received = new Map<string, unknown[]>();
  const receiver = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const tag = decodeURIComponent((req.url ?? '').replace(/^\/cb\//, ''));
      received.set(tag, [...(received.get(tag) ?? []), JSON.parse(text) as unknown]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const receiverPort = (receiver.address() as AddressInfo).port;
  const services: Services = {
    callbackUri: (tag) => `http://127.0.0.1:${receiverPort}/cb/${encodeURIComponent(tag)}`,
    callbacks: (tag) => received.get(tag) ?? [],
    dir,
    azurite,
    emulator,
    caFile,
    storageOutage: async (ms) => {
      const port = azurite.port;
      await azurite.stop();
      await new Promise((r) => setTimeout(r, ms));
      azurite = await startAzurite({ inMemory: false, location, port });
      services.azurite = azurite;
    },
    close: async () => {
      await new Promise<void>((r) => receiver.close(() => r()));
      await emulator.close();
      await azurite.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return services;
}

export interface HostProcess {
  api: string;
  child: ChildProcess;
  /** Resolves when the process has exited, with its signal (SIGKILL at a crash point). */
  exited: Promise<NodeJS.Signals | number | null>;
  output: string[];
  kill(): Promise<void>;
}

/** One app, across host processes: its settings, table prefix and outbox survive every kill. */
export class App {
  readonly prefix = `f${randomBytes(5).toString('hex')}`;
  readonly outbox: string;
  readonly env: Record<string, string>;
  readonly deps: Deps;
  host: HostProcess | undefined;
  /** Every line every host process of this app printed. */
  readonly output: string[] = [];
  kills = 0;

  constructor(
    readonly services: Services,
    readonly port: number,
    extraEnv: Record<string, string> = {},
  ) {
    this.outbox = path.join(services.dir, `outbox-${this.prefix}`);
    this.env = {
      AzureWebJobsStorage: services.azurite.connectionString,
      CONDUCTOR_TABLE_PREFIX: this.prefix,
      ADF_ENDPOINT: services.emulator.url,
      ADF_CA_CERT: services.caFile,
      ADF_CREDENTIAL: 'emulator',
      ADF_SUBSCRIPTION_ID: SUBSCRIPTION,
      ADF_RESOURCE_GROUP: 'rg-faults',
      ADF_FACTORY_NAME: 'adf-faults',
      EMAIL_OUTBOX_DIR: this.outbox,
      PORT: String(port),
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      SWEEP_SCHEDULE: '*/1 * * * * *',
      RECONCILE_GRACE_SECONDS: '1',
      RUN_STALE_SECONDS: '5',
      ADF_START_TIMEOUT_SECONDS: '5',
      OUTBOX_RETRY_SECONDS: '1',
      ALLOW_INSECURE_CALLBACKS: 'true',
      ADF_WRITES_PER_SECOND: '200',
      ADF_WRITE_BURST: '400',
      ...extraEnv,
    };
    this.deps = buildDeps(loadSettings(this.env), new LineLogger(() => undefined));
  }

  get api(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** Starts a host process (with `crashAt`, it kills itself at that step) and waits for its ready line. */
  async start(crashAt?: string): Promise<HostProcess> {
    const root = projectRoot();
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...this.env, CONDUCTOR_CRASH_AT: crashAt ?? '' };
    const child = spawn(process.execPath, [path.join(root, 'dist', 'local', 'stack.js'), '--quiet'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    const ready = new Promise<void>((resolve, reject) => {
      const onLine = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue;
          output.push(line);
          this.output.push(line);
          if (line.startsWith('ready ')) resolve();
        }
      };
      child.stdout?.on('data', onLine);
      child.stderr?.on('data', onLine);
      void exited.then((how) => reject(new Error(`host exited (${String(how)}) before ready:\n${output.join('\n')}`)));
    });
    await ready;
    const host: HostProcess = {
      api: this.api,
      child,
      exited,
      output,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    this.host = host;
    return host;
  }

  /** Kills the host (unless it is dead already) and starts a new one on the same data. */
  async restart(crashAt?: string): Promise<void> {
    if (this.host) await this.host.kill();
    this.kills++;
    await this.start(crashAt);
  }

  async stop(): Promise<void> {
    if (this.host) await this.host.kill();
  }

  emails(): Promise<OutboxEntry[]> {
    return readOutbox(this.outbox);
  }
}

export async function newApp(services: Services, extraEnv: Record<string, string> = {}): Promise<App> {
  return new App(services, await freePort(), extraEnv);
}

export interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

/**
 * A client as ADF's Web activity is one: a request that dies with the host (network error) or gets a 503 is
 * sent again, the same, once a host answers, until `deadline`. 5xx other than 503 fail the test at once.
 */
export async function call(app: App, method: string, p: string, body?: unknown, headers: Record<string, string> = {}, deadlineMs = 90_000): Promise<Answer> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`${app.api}${p}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json', ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      const json = text ? (JSON.parse(text) as unknown) : undefined;
      if (res.status >= 500 && res.status !== 503) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
      if (res.status !== 503) return { status: res.status, json, headers: res.headers };
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      last = `503 ${text.slice(0, 200)}`;
    } catch (e) {
      if ((e as Error).message.includes(' answered ')) throw e;
      last = (e as Error).message; // the host died under the request: try again once one answers
    }
    if (Date.now() > deadline) throw new Error(`${method} ${p}: no answer before the deadline (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls `check` until it returns true (or throws the last reason after `timeoutMs`). */
export async function converge(what: string, check: () => Promise<true | string>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const r = await check();
      if (r === true) return;
      last = r;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not converge in ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
