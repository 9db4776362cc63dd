/**
 * `npm run bench`: every figure docs/performance.md quotes, measured on the local stack's real parts
 * (Azurite, the factory emulator over HTTPS, the app's real adapters and SDK clients), printed as tables
 * and written to bench/results/latest.json.
 *
 * Each section runs on a fresh stack, inside a time budget, and an error in one is printed and recorded
 * without stopping the others.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { approvals, orchestration, queue, type OrchestrationResult } from './flows';
import type { Results } from './results';
import { BENCH_SETTINGS } from './stack';
import { FEED_OVERLAP_SECONDS, sweepSection, type SweepSectionResult } from './sweep';
import os from 'node:os';
import { machine, round, table, withTimeout, type CpuReport } from './support';

const cpuLine = (c: CpuReport | undefined) =>
  c ? `wall ${c.wallSeconds} s; CPU: bench process ${c.benchCpuSeconds} s, Azurite ${c.azuriteCpuSeconds ?? '?'} s; machine load ${c.loadAverage1mBefore} → ${c.loadAverage1mAfter}` : '';

/**
 * Time budgets. The whole bench (without the build) stays inside TOTAL_BUDGET_MS, so it finishes in under
 * 10 minutes on 2 cores; on a quiet machine it needs about 7. Each section gets at most its cap, and never
 * so much that a later section would get less than its floor: time an early section does not use goes to
 * the later ones. A section that runs out stops starting work, measures what it has, and says it was cut.
 */
const TOTAL_BUDGET_MS = 570_000;
const BUDGETS = {
  // BENCH_SWEEP_BUDGET_SECONDS raises the sweep section's cap on a slow or busy machine.
  sweep: { cap: Number(process.env.BENCH_SWEEP_BUDGET_SECONDS ?? 330) * 1000, floor: 150_000 },
  orchestrationCallback: { cap: 120_000, floor: 60_000 },
  orchestrationTimer: { cap: 120_000, floor: 60_000 },
  approvals: { cap: 30_000, floor: 15_000 },
  /** The queue's enqueue phase has its own 30 s; this is the hand-off's. */
  queue: { cap: 180_000, floor: 60_000 },
};
const QUEUE_ENQUEUE_MS = 30_000;
type SectionName = keyof typeof BUDGETS;
const ORDER: SectionName[] = ['sweep', 'orchestrationCallback', 'orchestrationTimer', 'approvals', 'queue'];

function budgetFor(name: SectionName, startedAt: number): number {
  const later = ORDER.slice(ORDER.indexOf(name) + 1).reduce((sum, n) => sum + BUDGETS[n].floor, 0);
  const left = TOTAL_BUDGET_MS - (Date.now() - startedAt) - later - (name === 'queue' ? QUEUE_ENQUEUE_MS : 0);
  return Math.max(BUDGETS[name].floor / 2, Math.min(BUDGETS[name].cap, left));
}

const say = (line: string) => console.log(line);

/**
 * `BENCH_ONLY=sweep,queue` runs only those sections (sweep, orchestration, approvals, queue); the results then
 * go to bench/results/partial.json unless `BENCH_OUT` names another file there.
 */
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (name: string) => !only || only.includes(name);

async function section<T>(name: string, budgetMs: number, results: Results, work: () => Promise<T>): Promise<T | undefined> {
  const t0 = Date.now();
  say(`\n## ${name}`);
  try {
    // The section keeps its own budget; this only guards against a hang.
    const value = await withTimeout(work(), budgetMs + 60_000, name);
    say(`(${name}: ${round((Date.now() - t0) / 1000, 0)} s)`);
    return value;
  } catch (e) {
    const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    results.errors.push({ section: name, error });
    say(`!! ${name} failed after ${round((Date.now() - t0) / 1000, 0)} s: ${error}`);
    return undefined;
  }
}

function sweepTables(s: SweepSectionResult, figures: Record<string, number>): void {
  const rows: Array<Array<string | number>> = [['in flight', 'variant', 'pass ms', 'ARM reads', 'writes', 'get', 'query', 'table ops', 'settled', 'peak RSS MiB', 'RSS +MiB', 'polling ARM', 'ratio']];
  for (const p of s.passes) {
    const poll = s.polling.find((x) => x.size === p.size);
    const key = `armCallRatio_${p.size}${p.variant === 'quiet' ? '' : `_${p.variant}`}`;
    rows.push([p.size, p.variant, p.ms, p.arm.reads, p.arm.writes, p.arm.getRun, p.arm.queryPipelineRuns, p.tableOps, `${p.settled}/${p.finishedByHand}`, p.peakRssMiB, p.rssGrowthMiB, poll?.armCalls ?? '-', s.ratios[key] ?? '-']);
    const f = `sweep_${p.size}_${p.variant}`;
    figures[`${f}_ms`] = p.ms;
    figures[`${f}_armReads`] = p.arm.reads;
    figures[`${f}_armWrites`] = p.arm.writes;
    figures[`${f}_getRun`] = p.arm.getRun;
    figures[`${f}_queryPipelineRuns`] = p.arm.queryPipelineRuns;
    figures[`${f}_tableOps`] = p.tableOps;
    figures[`${f}_settled`] = p.settled;
    figures[`${f}_peakRssMiB`] = p.peakRssMiB;
    figures[`${f}_rssGrowthMiB`] = p.rssGrowthMiB;
  }
  say('\nOne sweep pass (1 % of the runs finished just before it, as many started):');
  say(table(rows));
  const polls: Array<Array<string | number>> = [['in flight', 'polling ARM reads', 'polling ms']];
  for (const p of s.polling) {
    polls.push([p.size, p.armCalls, p.ms]);
    figures[`poll_${p.size}_armCalls`] = p.armCalls;
    figures[`poll_${p.size}_ms`] = p.ms;
  }
  say('\nPer-run polling on the same runs (one pipelineRuns.get per running run):');
  say(table(polls));
  Object.assign(figures, s.ratios);
  const growth: Array<Array<string | number>> = [['grow to', 'starts', 'seconds', 'starts/s', 'table ops/start', 'passes alongside', 'max pass ms', 'p95 pass ms']];
  for (const g of s.growth) {
    growth.push([g.size, g.started, g.seconds, g.startsPerSecond, g.tableOpsPerStart, g.concurrentPasses?.count ?? '-', g.concurrentPasses?.maxMs ?? '-', g.concurrentPasses?.p95Ms ?? '-']);
    figures[`startsPerSecond_${g.size}`] = g.startsPerSecond;
    figures[`tableOpsPerStart_${g.size}`] = g.tableOpsPerStart;
    if (g.concurrentPasses) {
      figures.concurrentPassMaxMs = g.concurrentPasses.maxMs;
      figures.concurrentPassP95Ms = g.concurrentPasses.p95Ms;
      figures.concurrentPasses = g.concurrentPasses.count;
    }
  }
  say('\nStarts (tracked, in process, 32 at a time), and passes run back to back during the last increment:');
  say(table(growth));
  for (const line of s.skipped) say(`skipped: ${line}`);
  say(`sweep section: ${cpuLine(s.cpu)}`);
}

/** The commit measured, and whether src/ had uncommitted changes (then the figures are of that working tree). */
function codeVersion(): { commit: string; srcUncommittedChanges: boolean | null } {
  const git = (args: string) => execSync(`git ${args}`, { cwd: path.join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    return { commit: git('rev-parse --short HEAD'), srcUncommittedChanges: git('status --porcelain -- src') !== '' };
  } catch {
    return { commit: 'unknown', srcUncommittedChanges: null };
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const given: Record<string, number> = {};
  const results: Results = {
    date: new Date().toISOString(),
    loadAverage1m: { start: round(os.loadavg()[0] ?? 0, 2) },
    machine: machine(),
    settings: {
      ...BENCH_SETTINGS,
      FEED_OVERLAP_SECONDS_sweepSection: FEED_OVERLAP_SECONDS,
      note: 'ARM write pacing lifted (ADF_WRITES_PER_SECOND=1000, ADF_WRITE_BURST=1000): the bench measures the app, not the pacing it applies in Azure.',
      totalBudgetSeconds: TOTAL_BUDGET_MS / 1000,
      sectionBudgetSeconds: Object.fromEntries(Object.entries(BUDGETS).map(([k, v]) => [k, { cap: v.cap / 1000, floor: v.floor / 1000 }])),
      budgetsGivenSeconds: given,
      code: codeVersion(),
    },
    durationSeconds: 0,
    figures: {},
    errors: [],
  };
  const m = results.machine;
  say(`adf-conductor bench — ${results.date}`);
  say(`machine: ${m.cpuCount} × ${m.cpuModel}, ${m.totalMemoryGiB} GiB, node ${m.node}, ${m.platform}; load average (1 min) ${results.loadAverage1m.start}`);
  say('ARM pacing lifted for the bench: ADF_WRITES_PER_SECOND=1000, ADF_WRITE_BURST=1000 (Azure defaults 8 and 100), ADF_STARTS_PER_SECOND=1000.');
  say(`Sweep section: FEED_OVERLAP_SECONDS=${FEED_OVERLAP_SECONDS} (default 30), so each measured window holds what its variant changed.`);

  const budget = (name: SectionName) => {
    const ms = budgetFor(name, t0);
    given[name] = round(ms / 1000, 0);
    return ms;
  };
  const sweepBudget = wanted('sweep') ? budget('sweep') : 0;
  const sweep = !wanted('sweep') ? undefined : await section('1. sweep cost vs per-run polling', sweepBudget, results, () => sweepSection(say, sweepBudget));
  if (sweep) {
    results.sweep = sweep;
    sweepTables(sweep, results.figures);
  }

  const orch: OrchestrationResult[] = [];
  for (const mode of wanted('orchestration') ? (['callback', 'timer'] as const) : []) {
    const ms = budget(mode === 'callback' ? 'orchestrationCallback' : 'orchestrationTimer');
    const r = await section(`2. orchestration, ${mode === 'callback' ? 'completion callback' : 'timer only (SWEEP_SCHEDULE every 2 s)'}`, ms, results, () => orchestration(mode, ms));
    if (r) orch.push(r);
  }
  if (orch.length) {
    results.orchestration = orch;
    const rows: Array<Array<string | number>> = [['mode', 'status', 'seconds', 'workers ended', 'stages ended', 'stage advance p50 ms', 'p95 ms', 'ARM writes/worker', 'reads/worker', 'table ops/worker', 'callbacks']];
    for (const r of orch) {
      rows.push([r.mode, r.status, r.seconds, r.workersEnded, r.stagesEnded, r.stageAdvanceP50Ms, r.stageAdvanceP95Ms, r.armWritesPerWorker, r.armReadsPerWorker, r.tableOpsPerWorker, r.callbacks]);
      const f = `orchestration_${r.mode}`;
      results.figures[`${f}_seconds`] = r.seconds;
      results.figures[`${f}_finished`] = r.finished ? 1 : 0;
      results.figures[`${f}_workersEnded`] = r.workersEnded;
      results.figures[`${f}_stageAdvanceP50Ms`] = r.stageAdvanceP50Ms;
      results.figures[`${f}_stageAdvanceP95Ms`] = r.stageAdvanceP95Ms;
      results.figures[`${f}_armWritesPerWorker`] = r.armWritesPerWorker;
      results.figures[`${f}_armReadsPerWorker`] = r.armReadsPerWorker;
      results.figures[`${f}_tableOpsPerWorker`] = r.tableOpsPerWorker;
    }
    say('\n1,000 instant workers over 10 stages (per-worker figures are per worker that ended):');
    say(table(rows));
    for (const r of orch) say(`${r.mode}: ${cpuLine(r.cpu)}`);
  }

  const ap = !wanted('approvals') ? undefined : await section('3. approvals', budget('approvals'), results, approvals);
  if (ap) {
    results.approvals = ap;
    say(table([
      ['approvals', 'statuses', 'seconds', 'requests/s', 'p50 ms', 'p99 ms', 'continuation runs', 'ARM writes/approval', 'table ops/approval'],
      [ap.approvals, JSON.stringify(ap.approvalStatuses), ap.seconds, ap.requestsPerSecond, ap.p50Ms, ap.p99Ms, ap.continuationRuns, ap.armWritesPerApproval, ap.tableOpsPerApproval],
    ]));
    say(`100 concurrent approvals of ONE token: statuses ${JSON.stringify(ap.oneToken.statuses)}, continuation runs in ADF: ${ap.oneToken.continuationRuns} (must be exactly 1)`);
    say(`approvals: ${cpuLine(ap.cpu)}`);
    Object.assign(results.figures, {
      approvals_requestsPerSecond: ap.requestsPerSecond,
      approvals_p50Ms: ap.p50Ms,
      approvals_p99Ms: ap.p99Ms,
      approvals_continuationRuns: ap.continuationRuns,
      approvals_oneToken_continuationRuns: ap.oneToken.continuationRuns,
    });
  }

  const handOffMs = wanted('queue') ? budget('queue') : 0;
  const q = !wanted('queue') ? undefined : await section('4. queue hand-off', QUEUE_ENQUEUE_MS + handOffMs, results, () =>
    queue({ enqueueMs: QUEUE_ENQUEUE_MS, handOffMs }));
  if (q) {
    results.queue = q;
    say(table([
      ['jobs', 'ended', 'seconds', 'jobs/s', 'hand-off p50 ms', 'p95 ms', 'max concurrent', 'ARM writes/job', 'reads/job', 'table ops/job', 'callbacks'],
      [q.jobs, q.jobsEnded, q.seconds, q.jobsPerSecond, q.handOffP50Ms, q.handOffP95Ms, q.maxConcurrent, q.armWritesPerJob, q.armReadsPerJob, q.tableOpsPerJob, q.callbacks],
    ]));
    if (!q.finished || q.jobs < 500) say(`queue: cut by the time budget: ${q.jobs} of 500 jobs enqueued, ${q.jobsEnded} ended`);
    say(`queue: ${cpuLine(q.cpu)}`);
    Object.assign(results.figures, {
      queue_jobsPerSecond: q.jobsPerSecond,
      queue_handOffP50Ms: q.handOffP50Ms,
      queue_handOffP95Ms: q.handOffP95Ms,
      queue_maxConcurrent: q.maxConcurrent,
      queue_jobsEnded: q.jobsEnded,
    });
  }

  results.durationSeconds = round((Date.now() - t0) / 1000, 0);
  results.loadAverage1m.end = round(os.loadavg()[0] ?? 0, 2);
  results.figures.benchSeconds = results.durationSeconds;
  const name = process.env.BENCH_OUT ?? (only || process.env.BENCH_SIZES || process.env.BENCH_SWEEP_BUDGET_SECONDS ? 'partial.json' : 'latest.json');
  const out = path.join(__dirname, '..', '..', 'bench', 'results', path.basename(name));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  say(`\nbench finished in ${results.durationSeconds} s; ${results.errors.length} section error(s); results in ${path.relative(process.cwd(), out)}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
