/**
 * Sections 2 to 4, through the local host's HTTP API like a real caller:
 *   orchestration – 1,000 instant workers over 10 stages, with the completion callback and with the timer only;
 *   approvals     – 200 pauses approved at once, then 100 concurrent approvals of one token;
 *   queue         – 500 instant jobs through a queue of capacity 1, handed off by the completion callback.
 */
import { armSince, callbackPump, http, startStack, type ArmCalls } from './stack';
import { cpuMeter, mapLimit, percentile, round, sleep, TimeoutError, waitFor, type CpuReport } from './support';
import type { EmulatedRun } from '../local/factory-emulator/emulator';

const STAGES = 10;
const WORKERS_PER_STAGE = 100;

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);
const perUnit = (n: number, units: number) => round(n / units, 2);

export interface OrchestrationResult {
  mode: 'callback' | 'timer';
  sweepSchedule: string;
  status: string;
  /** Whether the execution ended inside the time budget; if not, the figures cover what finished. */
  finished: boolean;
  workers: number;
  workersEnded: number;
  stagesEnded: number;
  adfRuns: number;
  seconds: number;
  stageAdvanceP50Ms: number;
  stageAdvanceP95Ms: number;
  stageAdvanceMs: number[];
  arm: ArmCalls;
  armWritesPerWorker: number;
  armReadsPerWorker: number;
  tableOps: number;
  tableOpsPerWorker: number;
  tableOpsByOp: Record<string, number>;
  callbacks: number;
  hostWarnings: number;
  hostErrors: number;
  cpu: CpuReport;
}

/** For each stage boundary: the last worker of stage k ends → the first worker of stage k+1 starts. */
function stageAdvances(runs: EmulatedRun[]): number[] {
  const out: number[] = [];
  for (let st = 1; st < STAGES; st++) {
    const ends = runs.filter((r) => r.pipelineName.startsWith(`p${st}_`)).map((r) => ms(r.runEnd));
    const starts = runs.filter((r) => r.pipelineName.startsWith(`p${st + 1}_`)).map((r) => ms(r.runStart));
    if (ends.length < WORKERS_PER_STAGE || starts.length === 0 || ends.some(Number.isNaN)) continue;
    out.push(Math.min(...starts) - Math.max(...ends));
  }
  return out;
}

export async function orchestration(mode: 'callback' | 'timer', budgetMs: number): Promise<OrchestrationResult> {
  const deadline = Date.now() + budgetMs;
  const sweepSchedule = mode === 'timer' ? '*/2 * * * * *' : '*/30 * * * * *';
  const pipelines: Record<string, { durationMs: number }> = {};
  for (let st = 1; st <= STAGES; st++) for (let i = 1; i <= WORKERS_PER_STAGE; i++) pipelines[`p${st}_${i}`] = { durationMs: 0 };
  const stack = await startStack({
    prefix: `benchorch${mode}`,
    scenario: { pipelines, unknownPipelines: 'notFound' },
    settings: { SWEEP_SCHEDULE: sweepSchedule },
    host: { timers: true },
  });
  try {
    const lines = [`properties: { failureHandling: DependencyChain, maxConcurrentWorkers: ${WORKERS_PER_STAGE} }`, 'stages:'];
    for (let st = 1; st <= STAGES; st++) {
      lines.push(`  - name: s${st}`, '    pipelines:');
      for (let i = 1; i <= WORKERS_PER_STAGE; i++) lines.push(`      - { name: w${st}_${i}, pipeline: p${st}_${i} }`);
    }
    const put = await http('PUT', `${stack.api}/metadata`, lines.join('\n'));
    if (put.status !== 200) throw new Error(`PUT /metadata answered ${put.status}: ${JSON.stringify(put.json).slice(0, 300)}`);

    const pump = mode === 'callback' ? callbackPump(stack) : undefined;
    const cpu = cpuMeter(stack.azuritePid);
    const arm0 = stack.emulator.stats();
    const tables0 = stack.tableOps.snapshot();
    const t0 = performance.now();
    const started = await http('POST', `${stack.api}/executions`, {});
    const executionId = (started.json as { executionId?: string } | undefined)?.executionId;
    if (!executionId) throw new Error(`POST /executions answered ${started.status}: ${JSON.stringify(started.json).slice(0, 300)}`);
    let status = 'Running';
    while (status === 'Running' && Date.now() < deadline) {
      await sleep(100);
      status = ((await http('GET', `${stack.api}/executions/${executionId}`)).json as { status?: string } | undefined)?.status ?? 'unknown';
    }
    const seconds = (performance.now() - t0) / 1000;
    await pump?.stop();
    const arm = armSince(stack.emulator, arm0);
    const tables = stack.tableOps.since(tables0);
    const runs = stack.emulator.runs();
    const advances = stageAdvances(runs);
    const workers = STAGES * WORKERS_PER_STAGE;
    const ended = runs.filter((r) => r.runEnd);
    let stagesEnded = 0;
    for (let st = 1; st <= STAGES; st++) {
      if (ended.filter((r) => r.pipelineName.startsWith(`p${st}_`)).length === WORKERS_PER_STAGE) stagesEnded = st;
      else break;
    }
    return {
      mode,
      sweepSchedule,
      status: status === 'Running' ? `cut at ${round(seconds, 0)} s (time budget), still Running` : status,
      finished: status !== 'Running',
      workers,
      workersEnded: ended.length,
      stagesEnded,
      adfRuns: runs.length,
      seconds: round(seconds, 1),
      stageAdvanceP50Ms: round(percentile(advances, 50), 0),
      stageAdvanceP95Ms: round(percentile(advances, 95), 0),
      stageAdvanceMs: advances,
      arm,
      // Per worker that ended (all 1,000 when the execution finished).
      armWritesPerWorker: perUnit(arm.writes, Math.max(1, ended.length)),
      armReadsPerWorker: perUnit(arm.reads, Math.max(1, ended.length)),
      tableOps: tables.total,
      tableOpsPerWorker: perUnit(tables.total, Math.max(1, ended.length)),
      tableOpsByOp: tables.byOp,
      callbacks: pump?.called() ?? 0,
      hostWarnings: stack.hostLogs.warnings,
      hostErrors: stack.hostLogs.errors,
      cpu: cpu(),
    };
  } finally {
    await stack.close();
  }
}

export interface ApprovalsResult {
  pauses: number;
  createSeconds: number;
  approvals: number;
  approvalStatuses: Record<string, number>;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  continuationRuns: number;
  armWritesPerApproval: number;
  tableOpsPerApproval: number;
  oneToken: { requests: number; statuses: Record<string, number>; continuationRuns: number };
  cpu: CpuReport;
}

const histogram = (xs: number[]) => {
  const h: Record<string, number> = {};
  for (const x of xs) h[String(x)] = (h[String(x)] ?? 0) + 1;
  return h;
};

export async function approvals(): Promise<ApprovalsResult> {
  const stack = await startStack({
    prefix: 'benchpause',
    scenario: { pipelines: { pl_continue: { durationMs: null } }, unknownPipelines: 'notFound' },
    host: { timers: true },
  });
  try {
    const createPause = async (i: number) => {
      const res = await http('POST', `${stack.api}/pauses`, {
        continuation: { pipeline: 'pl_continue', parameters: { i: String(i) } },
        data: { i },
        expiresInSeconds: 3600,
      });
      const body = res.json as { token?: string; pauseId?: string } | undefined;
      if (res.status !== 201 || !body?.token || !body.pauseId) throw new Error(`POST /pauses answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
      return { token: body.token, pauseId: body.pauseId };
    };
    const decide = async (token: string) => {
      const t = performance.now();
      const res = await http('POST', `${stack.api}/restart`, { token, decision: 'approve' });
      return { status: res.status, ms: performance.now() - t };
    };

    const c0 = performance.now();
    const pauses = await mapLimit(Array.from({ length: 200 }, (_, i) => i), 16, createPause);
    const createSeconds = (performance.now() - c0) / 1000;

    const cpu = cpuMeter(stack.azuritePid);
    const arm0 = stack.emulator.stats();
    const tables0 = stack.tableOps.snapshot();
    const t0 = performance.now();
    const results = await Promise.all(pauses.map((p) => decide(p.token)));
    const seconds = (performance.now() - t0) / 1000;
    const arm = armSince(stack.emulator, arm0);
    const tables = stack.tableOps.since(tables0);
    const latencies = results.map((r) => r.ms);
    const ids = new Set(pauses.map((p) => p.pauseId));
    const continuationRuns = stack.emulator.runs().filter((r) => r.pipelineName === 'pl_continue' && ids.has(r.parameters.pauseId ?? '')).length;

    const one = await createPause(1_000);
    const same = await Promise.all(Array.from({ length: 100 }, () => decide(one.token)));
    await sleep(200);
    const oneRuns = stack.emulator.runs().filter((r) => r.pipelineName === 'pl_continue' && r.parameters.pauseId === one.pauseId).length;

    return {
      pauses: pauses.length,
      createSeconds: round(createSeconds, 1),
      approvals: results.length,
      approvalStatuses: histogram(results.map((r) => r.status)),
      seconds: round(seconds, 2),
      requestsPerSecond: round(results.length / seconds, 0),
      p50Ms: round(percentile(latencies, 50), 0),
      p99Ms: round(percentile(latencies, 99), 0),
      continuationRuns,
      armWritesPerApproval: perUnit(arm.writes, results.length),
      tableOpsPerApproval: perUnit(tables.total, results.length),
      oneToken: { requests: same.length, statuses: histogram(same.map((r) => r.status)), continuationRuns: oneRuns },
      cpu: cpu(),
    };
  } finally {
    await stack.close();
  }
}

export interface QueueResult {
  /** Jobs enqueued (500 unless the enqueue phase ran out of time). */
  jobs: number;
  /** Jobs whose run ended inside the time budget. */
  jobsEnded: number;
  finished: boolean;
  enqueueSeconds: number;
  enqueueStatuses: Record<string, number>;
  seconds: number;
  jobsPerSecond: number;
  handOffP50Ms: number;
  handOffP95Ms: number;
  maxConcurrent: number;
  armWritesPerJob: number;
  armReadsPerJob: number;
  tableOpsPerJob: number;
  callbacks: number;
  callbackFailures: number;
  cpu: CpuReport;
}

/**
 * A blocker job holds the queue (capacity 1) while 500 instant jobs are enqueued behind it; then it is
 * finished by hand and the clock runs until the 500th job has ended. Hand-off: runEnd of job k → runStart
 * of job k+1, in start order.
 */
export async function queue(budget: { enqueueMs: number; handOffMs: number }): Promise<QueueResult> {
  const JOBS = 500;
  const stack = await startStack({
    prefix: 'benchqueue',
    scenario: { pipelines: { job_block: { durationMs: null }, job_pl: { durationMs: 0 } }, unknownPipelines: 'notFound' },
    host: { timers: true },
  });
  try {
    const yaml = ['stages:', '  - name: s1', '    pipelines:', '      - { name: w1, pipeline: job_pl }', 'queues:', '  - { name: q, capacity: 1 }'].join('\n');
    const put = await http('PUT', `${stack.api}/metadata`, yaml);
    if (put.status !== 200) throw new Error(`PUT /metadata answered ${put.status}: ${JSON.stringify(put.json).slice(0, 300)}`);
    const blocker = await http('POST', `${stack.api}/queues/q/jobs`, { pipeline: 'job_block' });
    if (blocker.status !== 202) throw new Error(`enqueue answered ${blocker.status}: ${JSON.stringify(blocker.json).slice(0, 300)}`);
    const blockerRun = await waitFor(() => stack.emulator.runs().find((r) => r.pipelineName === 'job_block' && r.status === 'InProgress'), 10_000, 'the blocker job runs');

    const e0 = performance.now();
    const enqueueBy = Date.now() + budget.enqueueMs;
    const statuses = (await mapLimit(Array.from({ length: JOBS }, (_, i) => i), 8, async (i) =>
      Date.now() > enqueueBy ? undefined : (await http('POST', `${stack.api}/queues/q/jobs`, { pipeline: 'job_pl', parameters: { i: String(i) } })).status))
      .filter((x): x is number => x !== undefined);
    const enqueueSeconds = (performance.now() - e0) / 1000;
    const enqueued = statuses.filter((x) => x === 202).length;
    const deadline = Date.now() + budget.handOffMs;

    const pump = callbackPump(stack);
    const cpu = cpuMeter(stack.azuritePid);
    const arm0 = stack.emulator.stats();
    const tables0 = stack.tableOps.snapshot();
    const t0 = performance.now();
    stack.emulator.finish(blockerRun.runId, 'Succeeded');
    const jobRuns = () => stack.emulator.runs().filter((r) => r.pipelineName === 'job_pl');
    let finished = true;
    try {
      await waitFor(() => {
        const runs = jobRuns();
        return runs.length >= enqueued && runs.every((r) => r.runEnd) ? true : undefined;
      }, Math.max(1_000, deadline - Date.now()), `${enqueued} queued jobs end`, 20);
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      finished = false;
    }
    const seconds = (performance.now() - t0) / 1000;
    await pump.stop();
    const arm = armSince(stack.emulator, arm0);
    const tables = stack.tableOps.since(tables0);

    const runs = jobRuns().filter((r) => r.runEnd).sort((a, b) => ms(a.runStart) - ms(b.runStart));
    const handOffs: number[] = [];
    let maxConcurrent = 1;
    for (let k = 0; k + 1 < runs.length; k++) {
      handOffs.push(ms(runs[k + 1]?.runStart) - ms(runs[k]?.runEnd));
    }
    for (const r of runs) {
      const overlapping = runs.filter((o) => ms(o.runStart) < ms(r.runEnd) && ms(o.runEnd) > ms(r.runStart)).length;
      maxConcurrent = Math.max(maxConcurrent, overlapping);
    }
    return {
      jobs: enqueued,
      jobsEnded: runs.length,
      finished,
      enqueueSeconds: round(enqueueSeconds, 1),
      enqueueStatuses: histogram(statuses),
      seconds: round(seconds, 1),
      jobsPerSecond: round(runs.length / seconds, 1),
      handOffP50Ms: round(percentile(handOffs, 50), 0),
      handOffP95Ms: round(percentile(handOffs, 95), 0),
      maxConcurrent,
      armWritesPerJob: perUnit(arm.writes, Math.max(1, runs.length)),
      armReadsPerJob: perUnit(arm.reads, Math.max(1, runs.length)),
      tableOpsPerJob: perUnit(tables.total, Math.max(1, runs.length)),
      callbacks: pump.called(),
      callbackFailures: pump.failures(),
      cpu: cpu(),
    };
  } finally {
    await stack.close();
  }
}
