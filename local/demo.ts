/**
 * `npm run demo`: a scripted tour of adf-conductor against a running local stack (`npm start`).
 * It uses only the public HTTP API, as an ADF Web activity or an operator would. A part whose routes
 * are not served yet (404 RouteNotFound) is skipped with a message.
 *
 * DEMO_BASE_URL (default http://127.0.0.1:7071) points it at another host; DEMO_FUNCTION_KEY adds x-functions-key.
 */
import { randomUUID } from 'node:crypto';
import { parseJson } from '../src/core/util';

const base = (process.env.DEMO_BASE_URL ?? 'http://127.0.0.1:7071').replace(/\/+$/, '');
const key = process.env.DEMO_FUNCTION_KEY;

interface Reply {
  status: number;
  /** Whatever the API answered: a tour prints it, it does not type it. */
  json: any;
  text: string;
}

class RouteMissing extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line = '') => console.log(line);
const show = (label: string, r: Reply) => say(`  ${label} → ${r.status} ${r.text.length > 400 ? `${r.text.slice(0, 400)}…` : r.text}`);

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(key ? { 'x-functions-key': key } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const reply: Reply = { status: res.status, json: parseJson(text, undefined), text };
  if (reply.status === 404 && reply.json?.code === 'RouteNotFound') throw new RouteMissing(`${method} ${path}`);
  return reply;
}

/** Runs one part of the tour; a part whose routes are not built yet is skipped, anything else is reported. */
async function part(title: string, fn: () => Promise<void>): Promise<boolean> {
  say();
  say(`== ${title}`);
  try {
    await fn();
    return true;
  } catch (e) {
    if (e instanceof RouteMissing) say(`  skipped: ${e.message} is not served by this build (404 RouteNotFound)`);
    else say(`  FAILED: ${(e as Error).message}`);
    return e instanceof RouteMissing;
  }
}

async function until<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

const TERMINAL = ['Succeeded', 'Failed', 'Cancelled'];

async function fireAndForget(): Promise<void> {
  const idem = `demo-${randomUUID()}`;
  say('  A Web activity starts wk_ok and returns at once (RunPipeline):');
  const started = await call('POST', '/api/runs', { pipeline: 'wk_ok', parameters: { n: 1, from: 'demo' } }, { 'Idempotency-Key': idem });
  show('POST /api/runs', started);
  if (started.status !== 202) throw new Error('RunPipeline did not answer 202');
  const runId = String(started.json.runId);

  const again = await call('POST', '/api/runs', { pipeline: 'wk_ok', parameters: { n: 1, from: 'demo' } }, { 'Idempotency-Key': idem });
  say(`  The same Idempotency-Key again → ${again.status}, runId ${again.json?.runId === runId ? 'is the same: nothing new started' : `DIFFERS (${String(again.json?.runId)})`}`);
  const reused = await call('POST', '/api/runs', { pipeline: 'wk_ok', parameters: { n: 2 } }, { 'Idempotency-Key': idem });
  say(`  The same key with another body → ${reused.status} ${String(reused.json?.code)}`);
  const bad = await call('POST', '/api/runs', { pipeline: 'bad/name', factory: '-x', parameters: [] });
  say(`  Bad input → ${bad.status} ${String(bad.json?.code)}: ${JSON.stringify(bad.json?.errors)}`);

  say('  GetRun until the run ends (the sweep observes ADF; after a few seconds we also call RunFinished, as a last Web activity would):');
  let calledBack = false;
  const t0 = Date.now();
  const done = await until(
    'the run to end',
    async () => {
      const r = await call('GET', `/api/runs/${encodeURIComponent(runId)}`);
      say(`    ${((Date.now() - t0) / 1000).toFixed(0)} s: ${String(r.json?.status)}`);
      if (TERMINAL.includes(r.json?.status)) return r;
      if (!calledBack && Date.now() - t0 > 3000) {
        calledBack = true;
        show('POST /api/callbacks/run-finished', await call('POST', '/api/callbacks/run-finished', { runId }));
      }
      return undefined;
    },
    90_000,
  );
  show(`GET /api/runs/${runId}`, done);
}

async function pauses(): Promise<void> {
  say('  A pipeline pauses for approval; the approver gets an email with a single-use link (see the outbox folder):');
  const created = await call('POST', '/api/pauses', {
    continuation: { pipeline: 'pl_continue', parameters: { from: 'demo' } },
    data: { order: 42, amount: '199.00 EUR' },
    expiresInSeconds: 3600,
    notify: { to: ['approver@example.com'], subject: 'adf-conductor demo: approve order 42' },
  });
  show('POST /api/pauses', created);
  if (created.status !== 201) throw new Error('PausePipeline did not answer 201');
  const { pauseId, token } = created.json as { pauseId: string; token: string };
  show('POST /api/restart (view: what the link opens; it decides nothing)', await call('POST', '/api/restart', { token, decision: 'view' }));
  show('POST /api/restart (approve)', await call('POST', '/api/restart', { token, decision: 'approve' }));
  show('POST /api/restart (again)', await call('POST', '/api/restart', { token, decision: 'approve' }));
  show(`GET /api/pauses/${pauseId}`, await call('GET', `/api/pauses/${encodeURIComponent(pauseId)}`));
}

const demoMetadata = {
  properties: { failureHandling: 'DependencyChain' },
  stages: [
    { name: 'extract', pipelines: [{ name: 'sales', pipeline: 'wk_ok' }, { name: 'crm', pipeline: 'wk_bad' }] },
    {
      name: 'load',
      pipelines: [
        { name: 'sales_model', pipeline: 'wk_ok', dependsOn: ['sales'] },
        { name: 'crm_model', pipeline: 'wk_ok', dependsOn: ['crm'] },
      ],
    },
  ],
  batches: [{ name: 'demo', stages: ['extract', 'load'] }],
  queues: [{ name: 'demo-queue', capacity: 1 }],
};

async function orchestration(): Promise<void> {
  say('  Metadata: two stages; crm (wk_bad) fails, so DependencyChain blocks crm_model and lets sales_model run.');
  const put = await call('PUT', '/api/metadata', demoMetadata);
  show('PUT /api/metadata', put);
  if (put.status !== 200) throw new Error('the demo metadata was not stored');
  const started = await call('POST', '/api/executions', { batch: 'demo' });
  show('POST /api/executions', started);
  if (started.status === 409) {
    say('  an execution of this batch is still running; skipping');
    return;
  }
  const executionId = String(started.json.executionId);
  const done = await until(
    'the execution to end',
    async () => {
      const r = await call('GET', `/api/executions/${encodeURIComponent(executionId)}`);
      const workers = ((r.json?.stages ?? []) as Array<{ workers: Array<{ name: string; status: string; runId?: string }> }>).flatMap((s) => s.workers);
      say(`    ${String(r.json?.status)}: ${workers.map((w) => `${w.name}=${w.status}`).join(' ')}`);
      if (r.json?.status !== 'Running') return r;
      // Each worker's last Web activity would report its end; do it for them so stages advance in seconds.
      for (const w of workers) if (w.status === 'Running' && w.runId) await call('POST', '/api/callbacks/run-finished', { runId: w.runId });
      return undefined;
    },
    120_000,
  );
  say(`  Execution ended ${String(done.json.status)}.`);
}

async function queues(): Promise<void> {
  say('  demo-queue runs one job at a time, in order; cancelling the running job starts the next one at once.');
  const jobs: Reply[] = [];
  for (const pipeline of ['wk_manual', 'wk_ok', 'wk_ok']) {
    const r = await call('POST', '/api/queues/demo-queue/jobs', { pipeline, parameters: { from: 'demo' } });
    show(`POST /api/queues/demo-queue/jobs (${pipeline})`, r);
    if (r.status === 404) throw new Error('demo-queue is not declared (the metadata part did not run)');
    jobs.push(r);
  }
  show('GET /api/queues/demo-queue', await call('GET', '/api/queues/demo-queue'));
  const first = String(jobs[0]?.json?.jobId);
  show(`POST /api/queues/demo-queue/jobs/${first}/cancel`, await call('POST', `/api/queues/demo-queue/jobs/${encodeURIComponent(first)}/cancel`));
  show('GET /api/queues/demo-queue', await call('GET', '/api/queues/demo-queue'));
}

export async function main(): Promise<number> {
  say(`adf-conductor demo against ${base}`);
  try {
    await call('GET', '/api/runs/demo-probe');
  } catch (e) {
    if (e instanceof RouteMissing) {
      say('The host answers but serves no /api/runs: is this adf-conductor?');
      return 1;
    }
    say(`Nothing answers at ${base} (${(e as Error).message}). Start the stack first: npm start`);
    return 1;
  }
  const results = [
    await part('1. Fire-and-forget runs', fireAndForget),
    await part('2. Pausable pipelines', pauses),
    await part('3. Metadata-driven orchestration', orchestration),
    await part('4. Pipeline queues', queues),
  ];
  say();
  say(results.every(Boolean) ? 'Tour complete.' : 'Tour finished with failures (see above).');
  return results.every(Boolean) ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
