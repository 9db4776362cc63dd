/**
 * Hostile input on every HTTP route: at least FUZZ_RUNS (500) generated requests per route, after the
 * directed ones (path traversal and malformed percent-encoding in ids, ids longer than a table key, wrong
 * methods and content types, empty, huge and 5,000-deep bodies, lone surrogates, `__proto__` keys, nested YAML).
 *
 * The rules, per answer:
 * - 2xx, or 4xx as application/problem+json whose `code` is a string and whose `status` is the HTTP status
 *   (RestartPipeline may answer a browser with an HTML page instead). No 5xx, 503 included: storage is up.
 * - An answer within 3 s (none within 15 s is "no answer"), and a host process that neither crashes nor wedges.
 * - No internals in an error (stack traces, engine messages); HTML pages carry their security headers.
 * - A rejected (4xx) request, and any GET, leaves every table row as it was (rows and ETags are counted).
 * - What is accepted is kept: parameter names (`__proto__` too) reach ADF or the stored job or pause;
 *   pause data and the metadata source read back as sent. A `__proto__` parameter gets a 400, or is carried.
 *
 * How: the app runs in a child process (fuzz-host.ts), so a crash is a finding rather than the end of jest.
 * Its storage goes through a StorageWatch, which notes the tables each request may write; rows are counted
 * again only then. Requests unlikely to be accepted go up to FUZZ_CONCURRENCY at a time (rows are checked
 * around each such window); a request that may be accepted goes alone. The cases come from fast-check with
 * a fixed seed (fc.sample, so several can be in flight at once): FUZZ_SEED=<seed> reproduces a run,
 * FUZZ_ROUTE=Name[,Name] narrows it, FUZZ_RUNS=n changes its size.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import defaultScenario from '../../local/scenarios/default.json';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { functions } from '../../src/functions/all';
import type { HttpFunction } from '../../src/functions/define';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import { directed, requests, type FuzzCase, type Known, type RouteInfo } from './fuzz-cases';
import { censusDiff, FuzzHost, send, StorageWatch, TableCensus, verdict, type Census, type Finding, type FuzzRequest, type Outcome, type Reply } from './fuzz-support';

const SEED = Number(process.env.FUZZ_SEED ?? 20_250_611);
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
const ONLY = (process.env.FUZZ_ROUTE ?? '').split(',').filter(Boolean);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 6);
const TIMEOUT_MS = 15_000;
const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 3000);
/** Once a route has answered slowly SLOW_ROUTE times, its requests are cut short at CUT_MS (the defect is known by then)... */
const SLOW_ROUTE = 3;
const CUT_MS = 1000;
/** ...and after SLOW_STOP slow answers (or none, or crashes) the route stops: it has failed, and the other routes still get their time. */
const SLOW_STOP = 15;
/**
 * A route's time budget, a backstop under jest's 300 s per test: SLOW_STOP already ends a route whose answers
 * are slow. The dashboard (some 55 storage reads a request) needs about 60 s of it on a busy 2-core machine.
 */
const ROUTE_BUDGET_MS = Number(process.env.FUZZ_ROUTE_SECONDS ?? 240) * 1000;
/** The approval pages answer a browser with a page, errors included (DESIGN: RestartPipeline). */
const HTML_ERRORS = new Set(['RestartPipeline']);

const readOnly = (m: string) => m === 'GET' || m === 'HEAD';
const allRoutes: RouteInfo[] = functions
  .filter((f): f is HttpFunction => f.kind === 'http')
  .map((f) => ({ name: f.name, route: f.route, methods: f.methods.map(String) }));
/** Read-only routes first: the dashboard reads every queue and pause, which the write routes pile up. */
const routes = allRoutes
  .filter((r) => !ONLY.length || ONLY.includes(r.name))
  .sort((a, b) => Number(!a.methods.every(readOnly)) - Number(!b.methods.every(readOnly)));

/** A seed per route, so adding a route leaves the others' cases unchanged. */
const routeSeed = (name: string) => {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return (SEED ^ h) | 0;
};

/** The fixture metadata; each route gets queues of its own, so a queue one route broke cannot fail the next. */
const fixtureMetadata = (queues: string[]) => ({
  properties: { failureHandling: 'DependencyChain', restart: 'resume' },
  stages: [
    { name: 'main', pipelines: [{ name: 'hold', pipeline: 'wk_manual' }, { name: 'quick', pipeline: 'wk_ok' }] },
    { name: 'second', pipelines: [{ name: 'tail', pipeline: 'wk_ok' }] },
  ],
  batches: [
    { name: 'nightly', stages: ['main', 'second'] },
    { name: 'short', stages: ['second'] },
  ],
  queues: queues.map((name, i) => ({ name, capacity: i === 0 ? 1 : 5 })),
});

interface Example {
  c: FuzzRequest & { label: string };
  finding: Finding;
  answer: string;
  logs: string[];
  size: number;
}

interface RouteRun {
  route: RouteInfo;
  /** Its place in the run (fresh queues are named after it). */
  index: number;
  seed: number;
  cases: number;
  statuses: Map<number, number>;
  hits: Map<string, { count: number; example: Example }>;
  /** Rejected or read-only requests whose rows were checked, and those an accepted write beside them hid. */
  checked: number;
  unchecked: number;
  base: Census;
  /** Kinds of request this route accepted and that wrote: later ones of the kind go alone. */
  acceptedKinds: Set<string>;
  /** Answers slower than SLOW_MS, or none (a crash included). */
  slow: number;
  /** A request cut short may still write until then: rows changed before it are not blamed on anyone. */
  taintedUntil: number;
  ms: number;
  censusMs: number;
  censuses: number;
}

const summary: RouteRun[] = [];

describe('hostile input on every HTTP route (fuzz)', () => {
  let azurite: RunningAzurite;
  let host: FuzzHost;
  let watch: StorageWatch;
  let census: TableCensus;
  let known: Known;
  let setupMs = 0;

  /** One request to the host, for fixtures and follow-up reads; throws on no answer. */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply & { json: any }> {
    const o = await send(
      host,
      {
        method,
        path: `/api${path}`,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      },
      TIMEOUT_MS,
    );
    if (o.kind !== 'reply') throw new Error(`${method} ${path}: ${o.kind === 'timeout' ? 'no answer' : o.error}`);
    let json: unknown;
    try {
      json = JSON.parse(o.reply.text);
    } catch {
      json = undefined;
    }
    return { ...o.reply, json };
  }

  async function must(status: number, method: string, path: string, body?: unknown): Promise<any> {
    const r = await call(method, path, body);
    if (r.status !== status) throw new Error(`fixture ${method} ${path}: ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  }

  /**
   * Its own in-memory Azurite, not the one jest's global setup shares: hostile input has left Azurite refusing
   * every transaction until it restarts, and this suite then restarts it.
   */
  beforeAll(async () => {
    const started = Date.now();
    const prefix = `fz${randomBytes(5).toString('hex')}`;
    azurite = await startAzurite({ inMemory: true });
    watch = await StorageWatch.start(azurite.connectionString);
    host = new FuzzHost(prefix, defaultScenario as unknown as Scenario, watch.connectionString(azurite.connectionString));
    census = new TableCensus(azurite.connectionString, prefix);
    await host.start();
    await seedFixtures();
    setupMs = Date.now() - started;
  }, 180_000);

  /** A run in progress and a finished one, three waiting pauses and a running execution. */
  async function seedFixtures(): Promise<void> {
    await must(200, 'PUT', '/metadata', fixtureMetadata(['q0a', 'q0b']));
    const runs = [await must(202, 'POST', '/runs', { pipeline: 'wk_manual' }), await must(202, 'POST', '/runs', { pipeline: 'wk_ok', parameters: { a: 1 } })];
    const pauses = [];
    for (let i = 0; i < 3; i++) pauses.push(await must(201, 'POST', '/pauses', { continuation: { pipeline: 'pl_continue', parameters: { i } }, data: { order: i } }));
    const execution = await must(202, 'POST', '/executions', { batch: 'nightly' });
    known = {
      pipelines: Object.keys(defaultScenario.pipelines),
      runIds: runs.map((r) => r.runId as string),
      pauseIds: pauses.map((p) => p.pauseId as string),
      tokens: pauses.map((p) => p.token as string),
      executionIds: [execution.executionId as string],
      queues: [],
      jobIds: [],
      batches: ['nightly', 'short'],
      stages: ['main', 'second'],
      workers: ['hold', 'quick', 'tail'],
    };
  }

  /** Storage refuses every transaction: a fresh Azurite behind the same StorageWatch, a fresh host, fresh fixtures. */
  async function restartStorage(): Promise<void> {
    await host.stop(true);
    await azurite.stop();
    azurite = await startAzurite({ inMemory: true });
    watch.retarget(azurite.connectionString);
    const counted = census;
    census = new TableCensus(azurite.connectionString, host.prefix);
    census.takes = counted.takes;
    census.ms = counted.ms;
    await host.restart();
    await seedFixtures();
  }

  /** After storage errors: if Azurite now refuses every transaction, that is a finding, and storage starts afresh. */
  async function checkStorage(run: RouteRun, blamed: Array<FuzzRequest & { label: string }>, logs: string[]): Promise<boolean> {
    if (await census.takesTransactions()) return false;
    const finding = { signature: 'storage left refusing every transaction', detail: 'after this, Azurite answered 500 to any transaction, of any table, until restarted' };
    for (const c of blamed.length ? blamed : [{ method: '-', path: '(the route as a whole)', headers: {}, label: 'found after the last request' }]) record(run, c, finding, undefined, logs);
    await restartStorage();
    await freshQueues(run.index);
    run.base = await census.take();
    watch.drain();
    return true;
  }

  afterAll(async () => {
    printSummary(setupMs);
    await host?.close();
    await watch?.close();
    await azurite?.stop();
  });

  it('when the routes are listed, then every HTTP function is fuzzed', () => {
    expect(allRoutes.length).toBeGreaterThan(0);
    if (!ONLY.length) expect(routes.map((r) => r.name).sort()).toEqual(allRoutes.map((r) => r.name).sort());
  });

  /** Fresh queues for a route: a running and a waiting job in the first, the second empty. */
  async function freshQueues(n: number): Promise<void> {
    known.queues = [`q${n}a`, `q${n}b`];
    await must(200, 'PUT', '/metadata', fixtureMetadata(known.queues));
    const path = `/queues/${known.queues[0]}/jobs`;
    known.jobIds = [(await must(202, 'POST', path, { pipeline: 'wk_manual' })).jobId, (await must(202, 'POST', path, { pipeline: 'wk_ok' })).jobId];
  }

  for (const [n, route] of routes.entries()) {
    it(`when ${route.name} (${route.methods.join('/')} /api/${route.route}) gets ${RUNS}+ hostile requests, then each answers 2xx or a 4xx problem, a rejected one writes nothing, and nothing crashes`, async () => {
      await freshQueues(n + 1);
      const run = await fuzzRoute(route, n + 1);
      summary.push(run);
      process.stderr.write(`fuzz: ${route.name}: ${run.cases} requests in ${(run.ms / 1000).toFixed(1)} s, ${run.hits.size} finding(s)\n`);
      const short =
        run.cases >= RUNS ? '' : run.slow >= SLOW_STOP ? `Stopped after ${run.cases} requests: ${run.slow} answered slowly or not at all.\n` : `Only ${run.cases} requests ran: the route's time budget (${ROUTE_BUDGET_MS / 1000} s) ran out.\n`;
      if (run.hits.size || short) throw new Error(short + report(run));
    });
  }

  it('when the fuzz is over, then the host process never crashed and still answers a simple GET', async () => {
    const crashes = summary.flatMap((r) => [...r.hits.keys()].filter((s) => s === 'host crashed' || s === 'host wedged').map((s) => `${r.route.name}: ${s}`));
    expect(crashes).toEqual([]);
    const res = await call('GET', `/runs/${encodeURIComponent(known.runIds[0]!)}`);
    expect(res.status).toBe(200);
    expect((await call('GET', '/dashboard', undefined, { accept: 'application/json' })).status).toBe(200);
  });

  // ---- the fuzz of one route ---------------------------------------------------------------------------

  async function fuzzRoute(route: RouteInfo, index: number): Promise<RouteRun> {
    const started = Date.now();
    const seed = routeSeed(route.name);
    const pointed = directed(route, known);
    const cases = [...pointed.filter((c) => !c.last), ...fc.sample(requests(route, known), { seed, numRuns: RUNS }), ...pointed.filter((c) => c.last)];
    const census0 = { ms: census.ms, takes: census.takes };
    watch.drain();
    const run: RouteRun = {
      route,
      index,
      seed,
      cases: 0,
      statuses: new Map(),
      hits: new Map(),
      checked: 0,
      unchecked: 0,
      base: await census.take(),
      acceptedKinds: new Set(),
      slow: 0,
      taintedUntil: 0,
      ms: 0,
      censusMs: 0,
      censuses: 0,
    };
    const alone = (c: FuzzCase) => c.mayWrite || run.acceptedKinds.has(c.klass);
    for (let i = 0; i < cases.length && Date.now() - started < ROUTE_BUDGET_MS && run.slow < SLOW_STOP; ) {
      const window = [cases[i++]!];
      if (!alone(window[0]!)) while (i < cases.length && window.length < CONCURRENCY && !alone(cases[i]!)) window.push(cases[i++]!);
      await runWindow(run, window);
    }
    await checkStorage(run, [], []);
    run.ms = Date.now() - started;
    run.censusMs = census.ms - census0.ms;
    run.censuses = census.takes - census0.takes;
    return run;
  }

  /** Sends the window's requests together, judges each answer, then checks the rows the rejected ones must not have written. */
  async function runWindow(run: RouteRun, window: FuzzCase[], again = true): Promise<void> {
    const hostMark = host.mark();
    const storageMark = watch.mark();
    const logs = () => [...watch.errorsSince(storageMark), ...host.linesSince(hostMark)];
    const cut = run.slow >= SLOW_ROUTE;
    const outcomes = await Promise.all(window.map((c) => send(host, c, cut ? CUT_MS : TIMEOUT_MS)));
    // Trouble in company (a crash, no answer, a slow answer, a 5xx) is judged again alone: that blames the right request, with its own log.
    if (window.length > 1 && outcomes.some((o) => o.kind !== 'reply' || o.reply.ms > SLOW_MS || o.reply.status >= 500 || !host.alive)) {
      if (outcomes.some((o) => o.kind === 'failed')) await host.exits(2000);
      if (!host.alive) await host.restart();
      await settleRows(run, [], true);
      for (const c of window) await runWindow(run, [c], false);
      return;
    }
    // A lone slow answer gets a second chance, so a busy machine is not a finding.
    const only = outcomes[0]!;
    if (again && window.length === 1 && only.kind === 'reply' && only.reply.ms > SLOW_MS && only.reply.status < 500) {
      await settleRows(run, [], true);
      return runWindow(run, window, false);
    }
    const rejected: FuzzCase[] = [];
    let others = 0;
    for (const [k, c] of window.entries()) {
      const o = outcomes[k]!;
      run.cases++;
      if (o.kind !== 'reply' || o.reply.ms > SLOW_MS) run.slow++;
      if (cut && o.kind === 'timeout' && host.alive) {
        record(run, c, { signature: 'slow answer (cut short)', detail: `no answer within ${o.ms} ms (cut short: this route had already answered slowly ${SLOW_ROUTE} times)` }, o, logs());
        run.taintedUntil = Date.now() + TIMEOUT_MS;
        others++;
        continue;
      }
      const findings = verdict(c.method, o, { htmlErrors: HTML_ERRORS.has(run.route.name), slowMs: SLOW_MS });
      if (o.kind === 'failed') await host.exits(2000);
      if (o.kind !== 'reply' || !host.alive) {
        let restart = !host.alive;
        if (!host.alive) findings.splice(0, findings.length, { signature: 'host crashed', detail: `the host process exited (${JSON.stringify(host.lastExit)})` });
        else {
          const probe = await send(host, { method: 'GET', path: '/api/dashboard', headers: { accept: 'application/json' } }, 5000);
          if (probe.kind !== 'reply') {
            findings.push({ signature: 'host wedged', detail: 'a simple GET got no answer in 5 s after this request' });
            restart = true;
          }
        }
        await new Promise((r) => setTimeout(r, 50));
        for (const f of findings) record(run, c, f, o, logs());
        if (restart) await host.restart();
        run.taintedUntil = Date.now() + TIMEOUT_MS;
        others++;
        continue;
      }
      const r = o.reply;
      run.statuses.set(r.status, (run.statuses.get(r.status) ?? 0) + 1);
      if (r.status >= 200 && r.status < 300) findings.push(...(await keptAsSent(run.route, c, r)));
      if (c.expect === 'protoParameterRefusedOrCarried' && r.status >= 400 && r.status < 500 && r.status !== 400)
        findings.push({ signature: `${r.status} for a __proto__ parameter (want 400)`, detail: r.text.slice(0, 200) });
      if (r.status >= 500) await new Promise((res) => setTimeout(res, 20)); // let the host's error line arrive
      for (const f of findings) record(run, c, f, o, logs());
      if (mustNotWrite(c, r)) rejected.push(c);
      else {
        others++;
        if (r.status < 300 && !c.mayWrite) run.acceptedKinds.add(c.klass);
      }
    }
    if (watch.errorsSince(storageMark).some((l) => l.includes('$batch'))) {
      const failed = window.filter((_, k) => {
        const o = outcomes[k]!;
        return o.kind !== 'reply' || o.reply.status >= 500;
      });
      if (await checkStorage(run, failed.length ? failed : window, logs())) return;
    }
    await settleRows(run, rejected, others > 0, outcomes);
  }

  /**
   * After a window: if the StorageWatch saw writes, recounts those tables. Rows that changed are blamed on
   * the rejected requests when they were alone in the window (several together are replayed one by one).
   */
  async function settleRows(run: RouteRun, rejected: FuzzCase[], writersBeside: boolean, outcomes: Outcome[] = []): Promise<void> {
    const written = watch.drain();
    if (!written.size) {
      run.checked += rejected.length;
      return;
    }
    const now = await census.update(run.base, written);
    const diff = censusDiff(run.base, now, host.prefix);
    run.base = now;
    if (!diff.length) {
      run.checked += rejected.length;
      return;
    }
    if (writersBeside || Date.now() < run.taintedUntil) {
      run.unchecked += rejected.length;
      return;
    }
    if (rejected.length === 1) {
      const o = outcomes.find((x): x is Extract<Outcome, { kind: 'reply' }> => x.kind === 'reply');
      run.checked++;
      blame(run, rejected[0]!, diff, o?.reply);
      return;
    }
    let found = false;
    for (const c of rejected) {
      const o = await send(host, c, TIMEOUT_MS);
      const w = watch.drain();
      run.checked++;
      if (!w.size) continue;
      const after = await census.update(run.base, w);
      const d = censusDiff(run.base, after, host.prefix);
      run.base = after;
      if (d.length && o.kind === 'reply' && mustNotWrite(c, o.reply)) found = blame(run, c, d, o.reply) || found;
    }
    if (!found) {
      const smallest = [...rejected].sort((a, b) => size(a) - size(b))[0]!;
      record(run, smallest, { signature: 'rejected requests wrote rows (not reproduced alone)', detail: `${rejected.length} rejected requests together: ${diff.join('; ')}` }, undefined, []);
    }
  }

  function blame(run: RouteRun, c: FuzzCase, diff: string[], r: Reply | undefined): boolean {
    const tables = diff.map((d) => d.split(':')[0]).join(', ');
    const what = !r ? 'a rejected request' : r.status >= 400 ? `${r.status} ${problemCode(r)}`.trim() : `${r.status} to a ${c.method}`;
    record(run, c, { signature: `${what} wrote rows (${tables})`, detail: diff.join('; ') }, r ? { kind: 'reply', reply: r } : undefined, []);
    return true;
  }

  /** An accepted request keeps what it was given: parameter names reach ADF or the store; pause data and metadata read back. */
  async function keptAsSent(route: RouteInfo, c: FuzzCase, r: Reply): Promise<Finding[]> {
    if (c.body === undefined || typeof c.body !== 'string' || readOnly(c.method)) return [];
    const out: Finding[] = [];
    if (route.name === 'PutMetadata') {
      const stored = await call('GET', '/metadata?format=source');
      const sent = Buffer.from(c.body, 'utf8').toString('utf8').replace(/^\ufeff/, '');
      if (stored.text.replace(/^\ufeff/, '') !== sent) out.push({ signature: `${r.status} metadata source read back differs`, detail: `sent ${sent.length} chars, read back ${stored.text.length}` });
      return out;
    }
    let sent: any;
    let reply: any;
    try {
      sent = JSON.parse(c.body);
      reply = JSON.parse(r.text);
    } catch {
      return out;
    }
    const names = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : undefined);
    const compare = (where: string, given: unknown, kept: unknown) => {
      const lost = (names(given) ?? []).filter((n) => !new Set(names(kept) ?? []).has(n));
      if (lost.length) out.push({ signature: `${r.status} accepted parameters and dropped some (${where})`, detail: `dropped ${lost.map((n) => JSON.stringify(n)).join(', ')}` });
    };
    if (route.name === 'RunPipeline' && typeof reply?.runId === 'string') {
      const adf = (await host.emulatorRuns()).find((x) => x.runId === reply.runId);
      compare('parameters sent to ADF', sent?.parameters ?? {}, adf?.parameters ?? {});
    } else if (route.name === 'EnqueueJob') {
      compare('job parameters', sent?.parameters ?? {}, reply?.parameters);
    } else if (route.name === 'PausePipeline' && typeof reply?.pauseId === 'string') {
      const pause = (await call('GET', `/pauses/${encodeURIComponent(reply.pauseId)}`)).json;
      compare('continuation parameters', sent?.continuation?.parameters ?? {}, pause?.continuation?.parameters);
      if (sent?.onReject) compare('onReject parameters', sent.onReject.parameters ?? {}, pause?.onReject?.parameters);
      const a = canonical(sent?.data ?? null);
      const b = canonical(pause?.data ?? null);
      if (a !== undefined && b !== undefined && a !== b)
        out.push({ signature: `${r.status} pause data read back differs`, detail: `sent ${a.slice(0, 80)} (${a.length} chars), read ${b.slice(0, 80)} (${b.length} chars)` });
    }
    return out;
  }
});

// ---- findings and the report ---------------------------------------------------------------------------

/** A rejected request, and any GET or HEAD, must leave every table row as it was. */
const mustNotWrite = (c: FuzzRequest, r: Reply) => (r.status >= 400 && r.status < 500) || c.method === 'GET' || c.method === 'HEAD';

function problemCode(r: Reply): string {
  try {
    const j = JSON.parse(r.text);
    return typeof j?.code === 'string' ? j.code : '';
  } catch {
    return '';
  }
}

const size = (c: FuzzRequest) => c.path.length + (c.body?.length ?? 0);

/**
 * The first error the host's log names (`URIError: URI malformed`), else the first storage error, to tell
 * 5xx causes apart. Storage errors come second: a request cut short may still be failing in the background.
 */
function errorHead(logs: string[]): string | undefined {
  for (const l of logs) {
    if (l.startsWith('storage ')) continue;
    const odata = /RestError\b.*?"code":"(\w+)"/.exec(l);
    if (odata) return `RestError ${odata[1]}`;
    const m = /\b([A-Z]\w*Error)\b:?\s*([^\n]*)/.exec(l);
    if (m) return `${m[1]}: ${m[2]!.replace(/\d+/g, 'N').slice(0, 60)}`.trim();
  }
  const storage = logs.map((l) => /^storage (answered \d+ to \S+|request failed)/.exec(l)?.[0]).find(Boolean);
  return storage;
}

function record(run: RouteRun, c: FuzzRequest & { label: string }, f: Finding, o: Outcome | undefined, logs: string[]): void {
  // A 5xx is grouped by what broke, so two defects behind one status stay two findings.
  const head = o?.kind === 'reply' && o.reply.status >= 500 ? errorHead(logs) : undefined;
  if (head && /^5\d\d/.test(f.signature)) f = { ...f, signature: `${f.signature} (${head})` };
  const answer =
    o === undefined ? '' : o.kind === 'reply' ? `${o.reply.status} in ${o.reply.ms} ms, ${String(o.reply.headers['content-type'] ?? '-')}: ${o.reply.text.slice(0, 240)}` : o.kind === 'timeout' ? `no answer in ${o.ms} ms` : `${o.error} after ${o.ms} ms`;
  const example: Example = { c, finding: f, answer, logs, size: size(c) };
  const hit = run.hits.get(f.signature);
  if (!hit) run.hits.set(f.signature, { count: 1, example });
  else {
    hit.count++;
    if (example.size < hit.example.size) hit.example = example;
  }
}

/** JSON with sorted keys (own keys, `__proto__` included); undefined past what the stack allows. */
function canonical(v: unknown): string | undefined {
  try {
    const walk = (x: unknown): string => {
      if (Array.isArray(x)) return `[${x.map(walk).join(',')}]`;
      if (x && typeof x === 'object')
        return `{${Object.keys(x)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${walk((x as Record<string, unknown>)[k])}`)
          .join(',')}}`;
      return JSON.stringify(x) ?? 'null';
    };
    return walk(v);
  } catch {
    return undefined;
  }
}

/** A string as JSON, with the separators and controls JSON leaves raw (U+2028, U+2029, C1, BOM) escaped too. */
const visible = (s: string) => JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function preview(c: FuzzRequest): string {
  const headers = Object.entries(c.headers)
    .map(([k, v]) => `${k}: ${v.length > 60 ? `${v.slice(0, 40)}…(${v.length} chars)` : v}`)
    .join('; ');
  let body = '';
  if (c.body !== undefined) {
    const text = typeof c.body === 'string' ? c.body : `bytes ${c.body.toString('hex')}`;
    body = ` body (${text.length} chars): ${visible(text.length > 160 ? text.slice(0, 100) : text)}${text.length > 160 ? `…${visible(text.slice(-30))}` : ''}`;
  }
  const p = c.path.length > 200 ? `${c.path.slice(0, 120)}…(${c.path.length} chars)` : c.path;
  return `${c.method} ${p}${headers ? ` [${headers}]` : ''}${body}`;
}

function report(run: RouteRun): string {
  const lines = [
    `${run.route.name} (${run.route.methods.join('/')} /api/${run.route.route}): ${run.hits.size} distinct finding(s) in ${run.cases} requests (seed ${SEED}, route seed ${run.seed})`,
  ];
  let n = 0;
  for (const [signature, { count, example }] of [...run.hits.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push(`  [${++n}] ${signature}: ${count} request(s); the smallest:`);
    lines.push(`      ${preview(example.c)}`);
    lines.push(`      made by: ${example.c.label}`);
    if (example.answer) lines.push(`      answer: ${example.answer}`);
    lines.push(`      why: ${example.finding.detail.slice(0, 400)}`);
    for (const l of example.logs.slice(0, 4)) lines.push(`      log: ${l.slice(0, 400)}`);
  }
  lines.push(`Reproduce: FUZZ_SEED=${SEED} FUZZ_ROUTE=${run.route.name} npm run test:faults -- test/faults/fuzz.test.ts`);
  return lines.join('\n');
}

function printSummary(setupMs: number): void {
  if (!summary.length) return;
  const rows = summary.map((r) => {
    const statuses = [...r.statuses.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([s, k]) => `${s}x${k}`)
      .join(' ');
    const s = (ms: number) => (ms / 1000).toFixed(1).padStart(5);
    return `${r.route.name.padEnd(18)} ${String(r.cases).padStart(4)} requests ${s(r.ms)} s (${r.censuses} recounts ${s(r.censusMs)} s)  rows checked ${r.checked}, unchecked ${r.unchecked}  findings ${r.hits.size}  [${statuses}]`;
  });
  console.log(`fuzz seed ${SEED}, concurrency ${CONCURRENCY}, setup ${(setupMs / 1000).toFixed(1)} s\n${rows.join('\n')}`);
}
