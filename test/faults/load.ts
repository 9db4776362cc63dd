/**
 * A mixed load on one app (an orchestration with a failure, queue jobs, keyed fire-and-forget runs, pauses
 * approved and rejected) and the check that everything converged exactly once: every item at its correct
 * terminal state, one ADF run per worker, job, keyed run and decision, nothing left Starting or Running, and
 * every alert email sent once.
 */
import { jobFromRow, JOB_ROWS_END, queuePartition } from '../../src/core/queues/model';
import { call, converge, type App } from './harness';

export interface LoadSpec {
  /** Unique across the emulator's life: every parameter carries it, so ADF runs are counted per item. */
  tag: string;
  /** Workers per stage (3 stages); one worker of stage 1 fails. */
  workersPerStage: number;
  failureHandling: 'Simple' | 'DependencyChain';
  jobs: number;
  runs: number;
  pauses: number;
}

export interface Expected {
  execution?: string;
  workerStatus: Map<string, string>;
  jobs: Array<{ tag: string; jobId?: string }>;
  runs: string[];
  pauses: Array<{ tag: string; token: string; decision: 'approve' | 'reject' }>;
}

/** The measured outcome of one scenario: what docs/reliability.md reports. */
export interface Counts {
  items: number;
  duplicates: number;
  /** Callbacks a receiver got more than once: the documented window (a kill after the 2xx, before it is recorded). */
  callbackRepeats?: number;
  losses: number;
  stuck: number;
  emails: number;
  /** Alert emails not to exactly the subscribers, or without the failed worker and its activity error. */
  wrongEmails: number;
}

/** Who subscribes to the execution's outcome (Failed or Stopped): ops for everything, owner for its failing worker. */
export const ALERT_SUBSCRIBERS = ['ops@example.com', 'owner@example.com'];

export function metadataFor(spec: LoadSpec): string {
  const stage = (s: number) => {
    const lines: string[] = [];
    for (let i = 0; i < spec.workersPerStage; i++) {
      const name = `s${s}_w${i}`;
      const bad = s === 1 && i === 0;
      // The failure chain: in stage 2 every third worker depends on the failing one (transitively in stage 3).
      const dependsOn = s === 2 && i % 3 === 0 ? ['s1_w0'] : s === 3 && i % 3 === 0 ? [`s2_w${i}`] : [];
      // Shared limits: some workers take a slot in queue q (with its own jobs) instead of starting their run.
      const shared = (s === 1 && i === 1) || (s === 2 && i % 3 === 1);
      lines.push(
        `      - name: ${name}`,
        `        pipeline: ${bad ? 'wk_bad' : 'wk_ok'}`,
        `        parameters: { tag: "${spec.tag}-${name}" }`,
        ...(dependsOn.length ? [`        dependsOn: [${dependsOn.join(', ')}]`] : []),
        ...(shared ? ['        queue: q'] : []),
      );
    }
    return [`  - name: s${s}`, '    pipelines:', ...lines].join('\n');
  };
  return [
    'properties:',
    `  failureHandling: ${spec.failureHandling}`,
    '  maxConcurrentWorkers: 50',
    'stages:',
    stage(1),
    stage(2),
    stage(3),
    'queues:',
    '  - name: q',
    '    capacity: 1',
    'recipients:',
    '  - email: ops@example.com',
    '    on: [Failed, Stopped, Succeeded]',
    '    batches: ["*"]',
    '  - email: owner@example.com', // s1_w0 fails: told
    '    on: [Failed, Stopped]',
    '    workers: [s1_w0]',
    '  - email: quiet@example.com', // s1_w1 succeeds: not told
    '    on: [Failed, Stopped]',
    '    workers: [s1_w1]',
    '  - email: cancel@example.com', // another outcome: not told
    '    on: [Cancelled]',
    '',
  ].join('\n');
}

/** What each worker must end as, by the rules (docs/orchestration.md). */
function expectedWorkers(spec: LoadSpec): Map<string, string> {
  const out = new Map<string, string>();
  for (let s = 1; s <= 3; s++)
    for (let i = 0; i < spec.workersPerStage; i++) {
      const name = `s${s}_w${i}`;
      let status = 'Succeeded';
      if (s === 1 && i === 0) status = 'Failed';
      else if (spec.failureHandling === 'Simple' && s > 1) status = 'Blocked';
      else if (spec.failureHandling === 'DependencyChain' && s > 1 && i % 3 === 0) status = 'Blocked';
      out.set(name, status);
    }
  return out;
}

/** Sends the whole load, as clients that retry through host deaths would. */
export async function sendLoad(app: App, spec: LoadSpec): Promise<Expected> {
  const md = await fetchPut(app, metadataFor(spec));
  if (md !== 200) throw new Error(`metadata PUT answered ${md}`);
  const expected: Expected = { workerStatus: expectedWorkers(spec), jobs: [], runs: [], pauses: [] };
  const tasks: Array<Promise<void>> = [];
  tasks.push(
    (async () => {
      for (let i = 0; i < 200; i++) {
        const res = await call(app, 'POST', '/executions', {});
        if (res.status === 202 || res.status === 200) {
          expected.execution = res.json.executionId;
          return;
        }
        if (res.status !== 409 || res.json.code !== 'ExecutionInProgress') throw new Error(`execution start answered ${res.status}: ${JSON.stringify(res.json)}`);
        // The host died after starting it, before answering: the retry is told it runs; it is the newest.
        // (If it died before the execution was written, the lock is an orphan, taken over after 30 s.)
        expected.execution = (await call(app, 'GET', '/executions?limit=1')).json.value?.[0]?.executionId;
        if (expected.execution) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    })(),
  );
  for (let i = 0; i < spec.runs; i++) {
    const tag = `${spec.tag}-run${i}`;
    expected.runs.push(tag);
    tasks.push(
      call(app, 'POST', '/runs', { pipeline: 'wk_ok', parameters: { tag }, callBackUri: app.services.callbackUri(tag) }, { 'idempotency-key': tag }).then((r) => {
        if (r.status !== 202 && r.status !== 200) throw new Error(`run answered ${r.status}`);
      }),
    );
  }
  for (let i = 0; i < spec.pauses; i++) {
    const tag = `${spec.tag}-pause${i}`;
    tasks.push(
      call(app, 'POST', '/pauses', { continuation: { pipeline: 'pl_continue', parameters: { tag } }, onReject: { pipeline: 'pl_rejected', parameters: { tag } }, expiresInSeconds: 3600, callBackUri: app.services.callbackUri(tag) }).then((r) => {
        if (r.status !== 201) throw new Error(`pause answered ${r.status}`);
        expected.pauses.push({ tag, token: r.json.token, decision: i % 2 === 0 ? 'approve' : 'reject' });
      }),
    );
  }
  // Jobs one after another, so FIFO order is known; a lost answer is looked up before sending again.
  tasks.push(
    (async () => {
      for (let i = 0; i < spec.jobs; i++) {
        const tag = `${spec.tag}-job${i}`;
        expected.jobs.push({ tag });
        await enqueueOnce(app, tag);
      }
    })(),
  );
  await Promise.all(tasks);
  await Promise.all(expected.pauses.map((p) => call(app, 'POST', '/restart', { token: p.token, decision: p.decision })));
  return expected;
}

async function fetchPut(app: App, yaml: string): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${app.api}/metadata`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: yaml });
      if (res.status !== 503) return res.status;
    } catch {
      // the host died: again
    }
    if (i > 300) throw new Error('metadata PUT never answered');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Enqueue has no idempotency key: a client whose answer was lost checks the queue before sending again. */
async function enqueueOnce(app: App, tag: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (i > 0 && (await jobsOf(app)).some((j) => j.parameters?.tag === tag)) return;
    try {
      const res = await fetch(`${app.api}/queues/q/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline: 'wk_ok', parameters: { tag } }) });
      if (res.status === 202 || res.status === 201) return;
      if (res.status !== 503) throw new Error(`enqueue answered ${res.status}: ${await res.text()}`);
    } catch (e) {
      if ((e as Error).message.startsWith('enqueue answered')) throw e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('enqueue never answered');
}

interface JobView {
  jobId: string;
  status: string;
  parameters?: Record<string, unknown>;
}

/** Every job of queue `q`, finished ones too, straight from its partition (the API lists only open jobs). */
async function jobsOf(app: App): Promise<JobView[]> {
  try {
    const rows = await app.deps.tables.table('Queues').query(queuePartition('q'), { from: 'j_', to: JOB_ROWS_END });
    return rows.map((r) => jobFromRow('q', r)).map((j) => ({ jobId: j.jobId, status: j.status, parameters: j.parameters }));
  } catch {
    return [];
  }
}

/** ADF runs per tag, from the emulator (the ground truth). */
function adfRunsByTag(app: App): Map<string, Array<{ status: string; pipeline: string }>> {
  const out = new Map<string, Array<{ status: string; pipeline: string }>>();
  for (const r of app.services.emulator.runs()) {
    const tag = r.parameters?.tag;
    if (typeof tag !== 'string') continue;
    const list = out.get(tag) ?? [];
    list.push({ status: r.status, pipeline: r.pipelineName });
    out.set(tag, list);
  }
  return out;
}

const workersOf = (view: { stages?: Array<{ workers: Array<{ name: string; status: string }> }> }) => (view.stages ?? []).flatMap((s) => s.workers);

/** True once every item reached its correct terminal state; else why not. */
export async function converged(app: App, spec: LoadSpec, expected: Expected): Promise<true | string> {
  if (!expected.execution) return 'no execution id';
  const ex = await call(app, 'GET', `/executions/${expected.execution}`);
  const workers = workersOf(ex.json);
  if (workers.length !== expected.workerStatus.size) return `execution shows ${workers.length} workers`;
  const wrong = workers.filter((w) => expected.workerStatus.get(w.name) !== w.status).map((w) => `${w.name}=${w.status}`);
  if (wrong.length) return `workers not yet as expected: ${wrong.slice(0, 5).join(', ')}${wrong.length > 5 ? '…' : ''}`;
  const want = spec.failureHandling === 'Simple' ? 'Stopped' : 'Failed';
  if (ex.json.status !== want) return `execution is ${ex.json.status}`;
  const jobs = await jobsOf(app);
  const open = jobs.filter((j) => j.status !== 'COMPLETED');
  if (open.length || jobs.length < spec.jobs) return `jobs: ${jobs.length} listed, ${open.length} not COMPLETED`;
  const byTag = adfRunsByTag(app);
  for (const tag of expected.runs) if (!byTag.get(tag)?.every((r) => r.status === 'Succeeded') || !byTag.get(tag)?.length) return `run ${tag} not finished in ADF`;
  for (const p of expected.pauses) {
    const runs = byTag.get(p.tag) ?? [];
    if (!runs.length || !runs.every((r) => r.status === 'Succeeded')) return `pause ${p.tag}: its run has not finished`;
  }
  const active = await app.deps.tables.table('ActiveRuns').scanAll();
  if (active.length) return `${active.length} runs still tracked as active`;
  const silent = [...expected.runs, ...expected.pauses.map((p) => p.tag)].filter((tag) => app.services.callbacks(tag).length === 0);
  if (silent.length) return `no callback yet for ${silent.slice(0, 3).join(', ')}`;
  const emails = (await app.emails()).filter((m) => m.subject.includes(want));
  if (emails.length === 0) return 'no alert email yet';
  return true;
}

/** Counts duplicates, losses and stuck items once converged (exactly-once means 0, 0, 0 and one email). */
export async function countOutcome(app: App, spec: LoadSpec, expected: Expected): Promise<Counts> {
  const byTag = adfRunsByTag(app);
  let duplicates = 0;
  let losses = 0;
  const one = (tag: string, pipeline?: string) => {
    const runs = (byTag.get(tag) ?? []).filter((r) => !pipeline || r.pipeline === pipeline);
    if (runs.length === 0) losses++;
    if (runs.length > 1) duplicates += runs.length - 1;
  };
  for (const [name, status] of expected.workerStatus) {
    const tag = `${spec.tag}-${name}`;
    if (status === 'Blocked') {
      if (byTag.has(tag)) duplicates += byTag.get(tag)?.length ?? 0; // a blocked worker must never run
    } else one(tag);
  }
  for (const j of expected.jobs) one(j.tag);
  // Every Webhook activity waiting on a keyed run or a pause hears its outcome (repeats counted apart).
  let callbackRepeats = 0;
  for (const tag of [...expected.runs, ...expected.pauses.map((p) => p.tag)]) {
    const heard = app.services.callbacks(tag).length;
    if (heard === 0) losses++;
    if (heard > 1) callbackRepeats += heard - 1;
  }
  for (const r of expected.runs) one(r);
  for (const p of expected.pauses) {
    one(p.tag, p.decision === 'approve' ? 'pl_continue' : 'pl_rejected');
    if ((byTag.get(p.tag) ?? []).some((r) => r.pipeline === (p.decision === 'approve' ? 'pl_rejected' : 'pl_continue'))) duplicates++; // both branches ran
  }
  const jobs = await jobsOf(app);
  const tags = jobs.map((j) => String(j.parameters?.tag));
  duplicates += tags.length - new Set(tags).size;
  const stuck =
    (await app.deps.tables.table('ActiveRuns').scanAll()).length +
    jobs.filter((j) => j.status === 'RUNNING' || j.status === 'PENDING').length +
    workersOf((await call(app, 'GET', `/executions/${expected.execution}`)).json).filter((w) => ['Pending', 'Starting', 'Running'].includes(w.status)).length;
  const sent = await app.emails();
  const wrongEmails = sent.filter((m) => JSON.stringify([...m.to].sort()) !== JSON.stringify(ALERT_SUBSCRIBERS) || !/s1_w0 \(s1 · wk_bad\) at Copy data \[2200\]: Source not found/.test(m.text)).length;
  return { items: expected.workerStatus.size + expected.jobs.length + expected.runs.length + expected.pauses.length, duplicates, callbackRepeats, losses, stuck, emails: sent.length, wrongEmails };
}

/** Sends the load, waits for convergence (and a little longer, so a late duplicate would show), then counts. */
export async function runToConvergence(app: App, spec: LoadSpec, during?: (expected: Promise<Expected>) => Promise<void>): Promise<Counts> {
  const sent = sendLoad(app, spec);
  if (during) await during(sent);
  const expected = await sent;
  await converge(`load ${spec.tag}`, () => converged(app, spec, expected), 150_000);
  await new Promise((r) => setTimeout(r, 3_000));
  return countOutcome(app, spec, expected);
}
