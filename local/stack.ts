import fs from 'node:fs';
import path from 'node:path';
import { buildDeps } from '../src/composition';
import { ConfigError, loadSettings } from '../src/config';
import { consoleLogger } from '../src/adapters/system';
import { AZURITE_ACCOUNT, projectRoot, startAzurite, type RunningAzurite } from './azurite';
import { startFactoryEmulator, type FactoryEmulator } from './factory-emulator/emulator';
import { loadScenario } from './factory-emulator/scenario';
import { watchHostRequests } from './host-drain';
import { startLocalHost } from './host/host';
import { answers, ensurePortFree, PortInUse } from './ports';

type Env = Record<string, string | undefined>;

/**
 * What `npm start` will do with each part: start it, or attach to one that already runs.
 * - Storage: attached when `CONDUCTOR_STORAGE` or `AzureWebJobsStorage` is set, else Azurite is started.
 * - ADF: attached when `ADF_ENDPOINT` is set (its CA from `ADF_CA_CERT`), else the factory emulator is started.
 * - The local host is always started.
 */
export interface StackPlan {
  storage: { attach: { setting: 'CONDUCTOR_STORAGE' | 'AzureWebJobsStorage'; endpoint: string | undefined } } | { start: { port: number; inMemory: boolean; location: string } };
  adf: { attach: { endpoint: string; caCert: string | undefined } } | { start: { port: number; scenario: string; caFile: string } };
  host: { port: number };
  inMemory: boolean;
}

const nonBlank = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v);

function portSetting(env: Env, name: string, def: number): number {
  const text = nonBlank(env[name]);
  const port = Number(text ?? def);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StackRefused([`${name} must be a port number (0-65535), got '${text}'`]);
  return port;
}

/** Decides from the environment and the arguments what to start and what to attach to. Pure. */
export function planStack(env: Env, argv: string[], root: string): StackPlan {
  const inMemory = argv.includes('--in-memory');
  const storageSetting = nonBlank(env.CONDUCTOR_STORAGE) ? 'CONDUCTOR_STORAGE' : nonBlank(env.AzureWebJobsStorage) ? 'AzureWebJobsStorage' : undefined;
  const adfEndpoint = nonBlank(env.ADF_ENDPOINT);
  return {
    storage: storageSetting
      ? { attach: { setting: storageSetting, endpoint: storageEndpoint(env[storageSetting] as string) } }
      : {
          start: {
            port: portSetting(env, 'AZURITE_TABLE_PORT', 10002),
            inMemory,
            location: path.resolve(nonBlank(env.AZURITE_LOCATION) ?? path.join(root, '.azurite')),
          },
        },
    adf: adfEndpoint
      ? { attach: { endpoint: adfEndpoint, caCert: nonBlank(env.ADF_CA_CERT) } }
      : {
          start: {
            port: portSetting(env, 'FACTORY_EMULATOR_PORT', 7443),
            scenario: nonBlank(env.FACTORY_EMULATOR_SCENARIO) ?? path.join(root, 'local', 'scenarios', 'default.json'),
            caFile: path.resolve(nonBlank(env.FACTORY_EMULATOR_CA_FILE) ?? path.join(root, '.local', 'emulator-ca.pem')),
          },
        },
    host: { port: portSetting(env, 'PORT', 7071) },
    inMemory,
  };
}

/**
 * The table endpoint a storage setting points at, without credentials: a bare URL, a connection string's
 * `TableEndpoint`, `UseDevelopmentStorage=true`, or the account and suffix. Undefined when it cannot tell.
 */
export function storageEndpoint(value: string): string | undefined {
  if (/^https?:\/\//i.test(value.trim())) return value.trim();
  const parts = new Map<string, string>();
  for (const pair of value.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) parts.set(pair.slice(0, eq).trim().toLowerCase(), pair.slice(eq + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return `http://127.0.0.1:10002/${AZURITE_ACCOUNT}`;
  const explicit = parts.get('tableendpoint');
  if (explicit) return explicit;
  const account = parts.get('accountname');
  if (!account) return undefined;
  return `${parts.get('defaultendpointsprotocol') ?? 'https'}://${account}.table.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
}

/** The stack will not start: ports taken, an attached service not answering. Every reason is listed. */
export class StackRefused extends Error {
  constructor(readonly problems: string[]) {
    super(`the local stack will not start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackRefused';
  }
}

/** A stop signal came while the stack was starting; what had started is stopped. */
export class StackAborted extends Error {
  constructor() {
    super('stopped while starting');
    this.name = 'StackAborted';
  }
}

/** The parts started so far, stopped in reverse order. Once closed, the start stops at the next part it adds. */
export class StackParts {
  private parts: Array<{ name: string; stop: () => Promise<void> }> = [];
  private closedFlag = false;

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Registers a started part; throws StackAborted when a stop has begun meanwhile (stopAll still stops it). */
  add(name: string, stop: () => Promise<void>): void {
    this.parts.push({ name, stop });
    if (this.closedFlag) throw new StackAborted();
  }

  close(): void {
    this.closedFlag = true;
  }

  /** Stops every part, last started first; reports each failure and resolves false if any. */
  async stopAll(report: (line: string) => void): Promise<boolean> {
    this.closedFlag = true;
    let ok = true;
    for (const part of this.parts.reverse()) {
      try {
        await part.stop();
      } catch (e) {
        ok = false;
        report(`${part.name}: ${(e as Error).message}`);
      }
    }
    this.parts = [];
    return ok;
  }
}

const isLoopback = (host: string) => host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);

/** Waits (a little) until a loopback service answers; remote ones are left to their SDK. */
async function attachedAnswers(url: string, timeoutMs: number): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return true; // config validation reports a malformed URL by its setting name
  }
  if (!isLoopback(u.hostname)) return true;
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await answers(port, host)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const origin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

/** Every check that can refuse the start, before anything is started. */
async function preflight(plan: StackPlan, attachWaitMs: number): Promise<void> {
  const problems: string[] = [];
  const refuse = async (check: Promise<void>) => {
    try {
      await check;
    } catch (e) {
      if (e instanceof PortInUse) problems.push(e.message);
      else throw e;
    }
  };
  if ('start' in plan.storage) {
    const { port } = plan.storage.start;
    await refuse(
      ensurePortFree(
        port,
        'Azurite',
        `To use the Azurite that runs there, set AzureWebJobsStorage to its connection string (npm run azurite prints it). To start another, choose a free port with AZURITE_TABLE_PORT.`,
      ),
    );
  }
  if ('start' in plan.adf) {
    const { port } = plan.adf.start;
    await refuse(
      ensurePortFree(
        port,
        'factory emulator',
        `To use the emulator that runs there, set ADF_ENDPOINT=https://127.0.0.1:${port} and ADF_CA_CERT to its certificate file (npm run emulator prints both). To start another, choose a free port with FACTORY_EMULATOR_PORT.`,
      ),
    );
  }
  await refuse(ensurePortFree(plan.host.port, 'local host', 'Is another npm start running? Stop it, or choose a free port with PORT.'));

  if ('attach' in plan.storage) {
    const { setting, endpoint } = plan.storage.attach;
    if (endpoint && !(await attachedAnswers(endpoint, attachWaitMs)))
      problems.push(`nothing answers at ${origin(endpoint)} (from ${setting}). Start it (npm run azurite), or unset ${setting} and npm start runs its own Azurite.`);
  }
  if ('attach' in plan.adf) {
    const { endpoint, caCert } = plan.adf.attach;
    if (caCert && !fs.existsSync(caCert)) problems.push(`ADF_CA_CERT names ${caCert}, which does not exist`);
    if (!(await attachedAnswers(endpoint, attachWaitMs)))
      problems.push(`nothing answers at ${origin(endpoint)} (from ADF_ENDPOINT). Start it (npm run emulator), or unset ADF_ENDPOINT and npm start runs its own emulator.`);
  }
  if (problems.length) throw new StackRefused(problems);
}

const LOCAL_DEFAULTS = (root: string, hostUrl: string): Env => ({
  ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
  ADF_RESOURCE_GROUP: 'rg-local',
  ADF_FACTORY_NAME: 'adf-local',
  ADF_CREDENTIAL: 'emulator',
  EMAIL_OUTBOX_DIR: path.join(root, '.outbox'),
  // The local stack's Webhook receivers (the emulator, tests) may be plain http on loopback.
  ALLOW_INSECURE_CALLBACKS: 'true',
  PUBLIC_BASE_URL: hostUrl,
});

/** App settings: the local defaults, then the environment, then what the stack started (it owns those). */
function settingsEnv(env: Env, defaults: Env, started: { storage?: string; adfEndpoint?: string; adfCa?: string }): Record<string, string> {
  const merged: Env = { ...defaults, ...Object.fromEntries(Object.entries(env).filter(([, v]) => nonBlank(v) !== undefined)) };
  if (started.storage) {
    merged.AzureWebJobsStorage = started.storage;
    delete merged.CONDUCTOR_STORAGE;
  }
  if (started.adfEndpoint) {
    merged.ADF_ENDPOINT = started.adfEndpoint;
    merged.ADF_CA_CERT = started.adfCa;
  }
  return merged as Record<string, string>;
}

export interface StackOptions {
  env?: Env;
  argv?: string[];
  root?: string;
  /** Receives the stack's own lines (the ready line among them). Default console.log. */
  print?: (line: string) => void;
  parts?: StackParts;
  /** How long an attached loopback service may take to answer. Default 5 s. */
  attachWaitMs?: number;
  /** How long a stop waits for the host's requests in flight. Default 30 s. */
  drainMs?: number;
}

export interface RunningStack {
  readyLine: string;
  hostUrl: string;
  /** Which parts this stack started, and which it attached to. */
  started: string[];
  attached: string[];
  /** Settles if a part the stack started ends on its own (Azurite crashed, for example), with what happened. */
  failed: Promise<string>;
  /** Host first (stop accepting, answer the requests in flight, finish the sweep pass), then the emulator, then Azurite (saved). */
  stop(): Promise<boolean>;
}

/**
 * Starts what the plan says: refuses before starting anything when a port is taken or an attached service is silent.
 * If it fails later, what it started is stopped, unless the caller passed its own `parts` (then the caller stops them).
 */
export async function startStack(opts: StackOptions = {}): Promise<RunningStack> {
  if (opts.parts) return start(opts, opts.parts);
  const parts = new StackParts();
  try {
    return await start(opts, parts);
  } catch (e) {
    await parts.stopAll((line) => console.error(`stopping ${line}`));
    throw e;
  }
}

async function start(opts: StackOptions, parts: StackParts): Promise<RunningStack> {
  const env = opts.env ?? process.env;
  const argv = opts.argv ?? [];
  const root = opts.root ?? projectRoot();
  const print = opts.print ?? ((line: string) => console.log(line));
  const quiet = argv.includes('--quiet');
  const plan = planStack(env, argv, root);
  const hostUrl = `http://127.0.0.1:${plan.host.port}`;
  const defaults = LOCAL_DEFAULTS(root, hostUrl);

  // Settings are checked before anything starts: placeholders stand for the endpoints not known yet.
  loadSettings(settingsEnv(env, defaults, { storage: 'UseDevelopmentStorage=true', adfEndpoint: 'https://127.0.0.1:1', adfCa: 'unused' }));
  const scenario = 'start' in plan.adf ? loadScenario(plan.adf.start.scenario) : undefined;
  await preflight(plan, opts.attachWaitMs ?? 5000);

  const started: string[] = [];
  const attached: string[] = [];
  let failed: (what: string) => void = () => undefined;
  const failedPromise = new Promise<string>((resolve) => (failed = resolve));

  let azurite: RunningAzurite | undefined;
  let tablesUrl: string;
  if ('start' in plan.storage) {
    const { port, inMemory, location } = plan.storage.start;
    azurite = await startAzurite({ port, inMemory, location });
    const running = azurite;
    parts.add('azurite', async () => {
      await running.stop();
      print(`azurite: stopped${location && !inMemory ? `, data saved in ${location}` : ''}`);
    });
    void running.exited.then(({ code, signal }) => {
      if (!parts.closed) failed(`Azurite exited on its own (${signal ?? `code ${code}`})`);
    });
    tablesUrl = `http://127.0.0.1:${azurite.port}`;
    started.push('azurite');
    print(`azurite: started on ${tablesUrl}, ${inMemory ? 'in memory' : `data in ${location}`}`);
  } else {
    const { setting, endpoint } = plan.storage.attach;
    tablesUrl = endpoint ? origin(endpoint) : `(${setting})`;
    attached.push('storage');
    print(`storage: attached to ${tablesUrl} (${setting})`);
  }

  let emulator: FactoryEmulator | undefined;
  let adfUrl: string;
  let caFile: string | undefined;
  if ('start' in plan.adf) {
    const { port } = plan.adf.start;
    caFile = plan.adf.start.caFile;
    emulator = await startFactoryEmulator({ port, ...(scenario ? { scenario } : {}) });
    const running = emulator;
    parts.add('emulator', () => running.close());
    fs.mkdirSync(path.dirname(caFile), { recursive: true });
    fs.writeFileSync(caFile, emulator.ca);
    adfUrl = emulator.url;
    started.push('emulator');
    print(`emulator: started on ${adfUrl}, certificate in ${caFile}`);
  } else {
    adfUrl = plan.adf.attach.endpoint;
    attached.push('adf');
    print(`adf: attached to ${adfUrl} (ADF_ENDPOINT${plan.adf.attach.caCert ? `, CA from ADF_CA_CERT=${plan.adf.attach.caCert}` : ''})`);
  }

  const appEnv = settingsEnv(env, defaults, { storage: azurite?.connectionString, adfEndpoint: emulator?.url, adfCa: caFile });
  const settings = loadSettings(appEnv);
  const deps = buildDeps(settings, consoleLogger(quiet));
  const host = await startLocalHost({ deps, port: plan.host.port, settings: appEnv, verbose: !quiet });
  const requests = watchHostRequests(host.port);
  const drainMs = opts.drainMs ?? 30_000;
  parts.add('host', async () => {
    const left = await requests.drain(drainMs);
    if (left > 0) print(`host: ${left} request(s) still unanswered after ${drainMs} ms; closing anyway`);
    await host.close();
    requests.dispose();
  });
  started.push('host');
  // One request of our own: the host answers, and the drain knows its server even if no one else called yet.
  await fetch(`${host.url}/api/`, { method: 'HEAD' }).catch(() => undefined);

  const adfKey = emulator ? 'emulator' : 'adf';
  const readyLine =
    `ready api=${host.url}/api dashboard=${host.url}/api/dashboard ${adfKey}=${adfUrl} tables=${tablesUrl} outbox=${settings.EMAIL_OUTBOX_DIR} ` +
    `sweep="${settings.SWEEP_SCHEDULE}" started=${started.join(',')} attached=${attached.join(',') || 'none'}${plan.inMemory && azurite ? ' (in memory)' : ''}`;
  print(readyLine);
  print(nextSteps(`${host.url}/api`));

  return {
    readyLine,
    hostUrl: host.url,
    started,
    attached,
    failed: failedPromise,
    stop: () => parts.stopAll((line) => print(`stopping ${line}`)),
  };
}

/** The local stack: Azurite + the factory emulator + the local host, on real parts, no Azure account. */
export async function main(argv: string[]): Promise<void> {
  const parts = new StackParts();
  let stopping: Promise<void> | undefined;
  let starting: Promise<unknown> = Promise.resolve();
  const stop = (why: string, code: number) => {
    if (stopping) return;
    console.log(`${why}: stopping`);
    parts.close();
    stopping = (async () => {
      await starting.catch(() => undefined);
      const ok = await parts.stopAll((line) => console.error(`stopping ${line}`));
      process.exit(ok ? code : 1);
    })();
  };
  const onSignal = (sig: string) => {
    if (!stopping) return stop(sig, 0);
    if (sig === 'SIGTERM') return console.log('SIGTERM again: still stopping');
    // Ctrl-C twice: leave now. A started Azurite notices its parent is gone and still saves before it exits.
    console.log('SIGINT again: exiting without waiting for the host');
    process.exit(1);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  try {
    const run = startStack({ argv, parts });
    starting = run;
    const stack = await run;
    void stack.failed.then((what) => {
      console.error(what);
      stop('a part failed', 1);
    });
  } catch (e) {
    if (e instanceof StackAborted || stopping) return; // the signal's stop ends the process
    if (e instanceof ConfigError || e instanceof StackRefused) console.error(e.message);
    else console.error(`the local stack could not start: ${(e as Error).message}`);
    await parts.stopAll((line) => console.error(`stopping ${line}`));
    process.exit(1);
  }
}

/** What to try first, printed after the ready line: a run, the example metadata, and an execution of its daily batch. */
export function nextSteps(api: string): string {
  return [
    'try next (from the repository root):',
    `  curl -s -X POST ${api}/runs -H 'content-type: application/json' -d '{"pipeline":"wk_ok","parameters":{"n":1}}'`,
    `  curl -s -X PUT ${api}/metadata --data-binary @examples/conductor.yaml`,
    `  curl -s -X POST ${api}/executions -H 'content-type: application/json' -d '{"batch":"daily"}'`,
  ].join('\n');
}

if (require.main === module) void main(process.argv.slice(2));
