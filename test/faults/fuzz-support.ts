/**
 * The fuzz suite's machinery: the app in a child process (fuzz-host.ts), a raw HTTP client that sends a
 * path exactly as written, a census of the stack's table rows, and the verdict on one answer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import type { Scenario } from '../../local/factory-emulator/scenario';
import type { HostMessage, HostReady } from './fuzz-host';

// ---- The app, in a process of its own ---------------------------------------------------------------

/** How the host process ended, if it did. */
export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The stack of test/support/test-stack.ts in a child process. A crash (even a V8 fatal error) or a wedged
 * event loop is observed, reported and followed by a fresh host on the same tables.
 */
export class FuzzHost {
  private child: ChildProcess | undefined;
  /** Every host process still running, so none outlives the suite (one would keep jest from exiting). */
  private readonly running = new Set<ChildProcess>();
  private ready: HostReady | undefined;
  private lines: Array<{ seq: number; line: string }> = [];
  private seq = 0;
  agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  lastExit: HostExit | undefined;
  restarts = 0;

  constructor(
    readonly prefix: string,
    private readonly scenario: Scenario,
    /** The storage the app uses (through the StorageWatch). */
    private readonly storage: string,
  ) {}

  get api(): URL {
    if (!this.ready) throw new Error('the fuzz host is not running');
    return new URL(this.ready.api);
  }

  get emulator(): { url: string; ca: string } {
    if (!this.ready) throw new Error('the fuzz host is not running');
    return { url: this.ready.emulatorUrl, ca: this.ready.ca };
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = fork(path.join(__dirname, 'fuzz-host-boot.js'), [], {
      env: { ...process.env, TEST_STORAGE_CONNECTION: this.storage, FUZZ_SCENARIO: JSON.stringify(this.scenario), FUZZ_TABLE_PREFIX: this.prefix },
      execArgv: ['--enable-source-maps'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.running.add(child);
    this.ready = undefined;
    const note = (line: string) => {
      this.lines.push({ seq: ++this.seq, line });
      if (this.lines.length > 5000) this.lines.splice(0, 1000);
    };
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const parts = (rest + chunk.toString('utf8')).split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) if (p.trim()) note(`stdio: ${p}`);
      });
    }
    child.on('exit', (code, signal) => {
      this.running.delete(child);
      this.lastExit = { code, signal };
      note(`host process exited (code ${code}, signal ${signal})`);
    });
    this.ready = await new Promise<HostReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the fuzz host did not start in 120 s:\n${this.tail()}`)), 120_000);
      child.on('message', (m: HostMessage) => {
        if (m.type === 'log') note(m.line);
        else if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m);
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`the fuzz host failed to start: ${m.error}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the fuzz host exited while starting (code ${code}, signal ${signal}):\n${this.tail()}`));
      });
    });
  }

  /** A fresh host on the same tables, after a crash or a wedge (the old one is killed if it lingers). */
  async restart(): Promise<void> {
    await this.stop(true);
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.restarts++;
    await this.start();
  }

  /** Whether the host process exits within `ms` (a refused connection is seen before the exit). */
  async exits(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.alive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return !this.alive;
  }

  /** Closes the host (or kills it, when `kill` or when it does not close within 10 s). */
  async stop(kill = false): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (kill || !child.connected) child.kill('SIGKILL');
    else child.send({ type: 'close' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    for (const stray of this.running) stray.kill('SIGKILL');
    this.agent.destroy();
  }

  /** A mark in the host's log, for `linesSince`. */
  mark(): number {
    return this.seq;
  }

  /** Error and warning lines, and anything printed, since `mark`. */
  linesSince(mark: number): string[] {
    return this.lines.filter((l) => l.seq > mark).map((l) => l.line);
  }

  tail(n = 20): string {
    return this.lines
      .slice(-n)
      .map((l) => l.line)
      .join('\n');
  }

  /** The emulator's runs (its inspection API), to see what reached "ADF". */
  emulatorRuns(): Promise<Array<{ runId: string; pipelineName: string; parameters: Record<string, unknown> }>> {
    const { url, ca } = this.emulator;
    return new Promise((resolve, reject) => {
      https
        .get(`${url}/_emulator/runs`, { ca }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        })
        .on('error', reject);
    });
  }
}

// ---- One request, sent as written -------------------------------------------------------------------

export interface FuzzRequest {
  method: string;
  /** Starts with /api; already percent-encoded (or deliberately mis-encoded); sent byte for byte. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  ms: number;
}

export type Outcome = { kind: 'reply'; reply: Reply } | { kind: 'timeout'; ms: number } | { kind: 'failed'; error: string; ms: number };

/**
 * Sends the request with node:http, whose `path` goes out untouched: fetch would normalise `%2e%2e`
 * and dot segments before the host ever saw them.
 */
export function send(host: FuzzHost, r: FuzzRequest, timeoutMs: number, retried = false): Promise<Outcome> {
  const started = Date.now();
  const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
  const api = host.api;
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const done = (o: Outcome) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(o);
      }
    };
    const req = http.request({
      host: api.hostname,
      port: api.port,
      method: r.method,
      path: r.path,
      agent: host.agent,
      headers: { ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'timeout', ms: Date.now() - started });
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ kind: 'reply', reply: { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started } }));
      res.on('error', (e) => done({ kind: 'failed', error: e.message, ms: Date.now() - started }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as it was reused: node's documented case for one retry.
      if (!settled && !retried && req.reusedSocket && e.code === 'ECONNRESET' && host.alive) {
        settled = true;
        clearTimeout(timer);
        resolve(send(host, r, timeoutMs, true));
        return;
      }
      done({ kind: 'failed', error: `${e.code ?? ''} ${e.message}`.trim(), ms: Date.now() - started });
    });
    req.end(body);
  });
}

// ---- Rows in the stack's tables ---------------------------------------------------------------------

/**
 * A pass-through proxy between the app and Azurite that notes which tables a request may have written
 * (entity inserts, updates, deletes and batches), so rows are recounted only where something happened.
 * SharedKey signs the path, not the host, so requests through it still verify.
 */
export class StorageWatch {
  private written = new Set<string>();
  /** Storage errors (5xx, or no answer) the app got, for the report. */
  private errors: Array<{ seq: number; line: string }> = [];
  private seq = 0;
  private agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private server: http.Server | undefined;
  private port = 0;

  private constructor(private upstream: URL) {}

  static async start(connectionString: string): Promise<StorageWatch> {
    const watch = new StorageWatch(endpointOf(connectionString));
    watch.server = http.createServer((req, res) => watch.forward(req, res));
    watch.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => watch.server!.listen(0, '127.0.0.1', () => r()));
    watch.port = (watch.server.address() as { port: number }).port;
    return watch;
  }

  /** Sends on to another storage from now on (the app keeps its connection string). */
  retarget(connectionString: string): void {
    this.upstream = endpointOf(connectionString);
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  /** The same account, through the proxy. */
  connectionString(original: string): string {
    return original.replace(/TableEndpoint=http:\/\/[^/;]+/, `TableEndpoint=http://127.0.0.1:${this.port}`);
  }

  mark(): number {
    return this.seq;
  }

  /** Storage errors since `mark`. */
  errorsSince(mark: number): string[] {
    return this.errors.filter((e) => e.seq > mark).map((e) => e.line);
  }

  /** Table names (or '*': unknown) written since the last call. */
  drain(): Set<string> {
    const w = this.written;
    this.written = new Set();
    return w;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.agent.destroy();
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      this.note(req.method ?? 'GET', req.url ?? '/', body);
      const up = http.request(
        { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          if ((ur.statusCode ?? 0) >= 500) {
            const got: Buffer[] = [];
            ur.on('data', (c: Buffer) => got.push(c));
            ur.on('end', () => this.error(`storage answered ${ur.statusCode} to ${req.method} ${(req.url ?? '').slice(0, 200)}: ${Buffer.concat(got).toString('utf8').slice(0, 300)}`));
          }
          ur.pipe(res);
        },
      );
      up.on('error', (e) => {
        this.error(`storage request failed: ${req.method} ${req.url?.slice(0, 200)}: ${e.message}`);
        res.destroy();
      });
      up.end(body);
    });
  }

  private error(line: string): void {
    this.errors.push({ seq: ++this.seq, line });
    if (this.errors.length > 2000) this.errors.splice(0, 500);
  }

  private note(method: string, url: string, body: Buffer): void {
    if (method === 'GET' || method === 'HEAD') return;
    const name = /^\/[^/]+\/([^/(?]+)/.exec(url)?.[1];
    if (!name || name === 'Tables') return; // creating a table writes no row
    if (name !== '$batch') {
      this.written.add(name);
      return;
    }
    const inner = [...body.toString('latin1').matchAll(/^(?:POST|PUT|MERGE|PATCH|DELETE) https?:\/\/[^/\s]+\/[^/\s]+\/([A-Za-z][A-Za-z0-9]*)/gm)].map((m) => m[1]!);
    if (!inner.length) this.written.add('*');
    for (const t of inner) this.written.add(t);
  }
}

function endpointOf(connectionString: string): URL {
  const endpoint = /TableEndpoint=([^;]+)/.exec(connectionString)?.[1];
  if (!endpoint) throw new Error('the storage connection string has no TableEndpoint');
  return new URL(endpoint);
}

/** Per table: its row count and a digest of every row's keys and ETag (an update changes the ETag). */
export type Census = Map<string, { rows: number; digest: string }>;

/**
 * Rows left out of the count. ARM's write budget (src/core/runs/pacing.ts) records every createRun or
 * cancel that reached ARM, even one ARM then refused (an unknown pipeline is a 404 after the call).
 */
const IGNORED = [{ table: 'Sweep', partitionKey: 'armwrites' }];

/** Counts the rows of the tables with the prefix: all of them, or again only those written since. */
export class TableCensus {
  private readonly service: TableServiceClient;
  private readonly clients = new Map<string, TableClient>();
  takes = 0;
  ms = 0;

  constructor(
    private readonly connectionString: string,
    private readonly prefix: string,
  ) {
    this.service = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  }

  /**
   * Whether storage still takes a transaction (Azurite can be left refusing every one). The canary table
   * does not start with the prefix, so no census counts it.
   */
  async takesTransactions(): Promise<boolean> {
    const canary = TableClient.fromConnectionString(this.connectionString, `canary${this.prefix}`, { allowInsecureConnection: true });
    try {
      await canary.createTable();
      await canary.submitTransaction([['upsert', { partitionKey: 'c', rowKey: 'c', at: Date.now() }]]);
      return true;
    } catch {
      return false;
    }
  }

  async take(): Promise<Census> {
    const names: string[] = [];
    for await (const t of this.service.listTables()) if (t.name?.startsWith(this.prefix)) names.push(t.name);
    return this.update(new Map(), names);
  }

  /** `before`, with the given tables counted again (`*` among them: every table). */
  async update(before: Census, tables: Iterable<string>): Promise<Census> {
    const names = [...tables].filter((t) => t.startsWith(this.prefix) || t === '*');
    if (names.includes('*')) return this.take();
    const started = Date.now();
    const counted = await Promise.all(names.map(async (name) => [name, await this.count(name)] as const));
    this.takes++;
    this.ms += Date.now() - started;
    const after = new Map(before);
    for (const [name, c] of counted) {
      if (c.rows > 0) after.set(name, c);
      else after.delete(name);
    }
    return after;
  }

  private async count(name: string): Promise<{ rows: number; digest: string }> {
    let client = this.clients.get(name);
    if (!client) {
      client = TableClient.fromConnectionString(this.connectionString, name, { allowInsecureConnection: true });
      this.clients.set(name, client);
    }
    const hash = createHash('sha1');
    let rows = 0;
    try {
      for await (const page of client.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } }).byPage({ maxPageSize: 1000 })) {
        for (const e of page) {
          if (IGNORED.some((i) => name.endsWith(i.table) && e.partitionKey === i.partitionKey)) continue;
          rows++;
          hash.update(`${e.partitionKey}\u0000${e.rowKey}\u0000${e.etag}\n`);
        }
      }
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    return { rows, digest: hash.digest('hex') };
  }
}

/** What changed between two censuses, one line per table; empty when nothing did. */
export function censusDiff(before: Census, after: Census, prefix: string): string[] {
  const out: string[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(name) ?? { rows: 0, digest: '' };
    const b = after.get(name) ?? { rows: 0, digest: '' };
    const table = name.slice(prefix.length);
    if (a.rows !== b.rows) out.push(`${table}: ${a.rows} -> ${b.rows} rows`);
    else if (a.digest !== b.digest) out.push(`${table}: rows updated (${a.rows} rows)`);
  }
  return out;
}

// ---- The verdict on one answer ----------------------------------------------------------------------

/** A broken rule, grouped by `signature` in the report. */
export interface Finding {
  /** Short and stable, e.g. `500 InternalError` or `rejected request wrote rows`. */
  signature: string;
  detail: string;
}

/** Internals a caller must never see: stack traces, engine and SDK error texts, source paths. */
const LEAKS = /Maximum call stack|RangeError|TypeError|ReferenceError|\bat (?:async )?[\w.$<>]+ \(|node_modules|\.[jt]s:\d+:\d+|RestError|ECONNREFUSED/;

/** A page's required headers (DESIGN: pages send no-store, no-referrer, a strict CSP and DENY). */
const PAGE_HEADERS: Array<[string, RegExp]> = [
  ['cache-control', /no-store/],
  ['referrer-policy', /no-referrer/],
  ['x-frame-options', /^DENY$/i],
  ['content-security-policy', /default-src 'none'/],
];

export interface VerdictOptions {
  /** The route may answer an error as an HTML page (the approval pages do, for browsers). */
  htmlErrors: boolean;
  slowMs: number;
}

/** Every rule one outcome breaks. */
export function verdict(method: string, o: Outcome, opts: VerdictOptions): Finding[] {
  if (o.kind === 'timeout') return [{ signature: 'no answer', detail: `no answer within ${o.ms} ms` }];
  if (o.kind === 'failed') return [{ signature: 'connection failed', detail: o.error }];
  const r = o.reply;
  const out: Finding[] = [];
  const type = String(r.headers['content-type'] ?? '');
  let problem: { code?: unknown; status?: unknown } | undefined;
  if (type.startsWith('application/problem+json') && method !== 'HEAD') {
    try {
      problem = JSON.parse(r.text);
    } catch {
      out.push({ signature: `${r.status} problem+json that is not JSON`, detail: r.text.slice(0, 200) });
    }
  }
  const code = typeof problem?.code === 'string' ? problem.code : '';
  if (r.status >= 500) out.push({ signature: `${r.status} ${code}`.trim(), detail: r.text.slice(0, 300) });
  else if (r.status < 200 || (r.status >= 300 && r.status < 400)) out.push({ signature: `unexpected ${r.status}`, detail: r.text.slice(0, 200) });
  else if (r.status >= 400) {
    const html = opts.htmlErrors && type.startsWith('text/html') && (method === 'HEAD' || /<html/i.test(r.text));
    if (html) {
      // an approval page: fine, when it carries the page headers (checked below)
    } else if (!type.startsWith('application/problem+json')) {
      out.push({ signature: `${r.status} without problem+json`, detail: `content-type ${JSON.stringify(type)}: ${r.text.slice(0, 200)}` });
    } else if (method !== 'HEAD' && problem && (typeof problem.code !== 'string' || !problem.code || problem.status !== r.status)) {
      out.push({ signature: `${r.status} problem without code or matching status`, detail: r.text.slice(0, 300) });
    }
    if (method !== 'HEAD' && LEAKS.test(r.text)) {
      out.push({ signature: `${r.status} ${code} leaks internals`.replace('  ', ' '), detail: (LEAKS.exec(r.text)?.[0] ?? '') + ' in ' + r.text.slice(0, 300) });
    }
  }
  if (r.status < 500 && type.startsWith('application/json') && method !== 'HEAD') {
    try {
      JSON.parse(r.text);
    } catch {
      out.push({ signature: `${r.status} application/json that is not JSON`, detail: r.text.slice(0, 200) });
    }
  }
  if (type.startsWith('text/html')) {
    const missing = PAGE_HEADERS.filter(([h, re]) => !re.test(String(r.headers[h] ?? ''))).map(([h]) => h);
    if (missing.length) out.push({ signature: `${r.status} page without ${missing.join(', ')}`, detail: missing.map((h) => `${h}: ${String(r.headers[h] ?? '(none)')}`).join('; ') });
  }
  if (r.ms > opts.slowMs && r.status < 500) out.push({ signature: 'slow answer', detail: `${r.status} after ${r.ms} ms (limit ${opts.slowMs} ms)` });
  return out;
}
