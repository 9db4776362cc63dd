 
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDeps } from '../src/composition';
import { loadSettings } from '../src/config';
import { LineLogger } from '../src/adapters/system';
import { startTrackedRun } from '../src/core/runs/start';
import { runSweep } from '../src/core/sweep/sweep';
import { startAzurite } from '../local/azurite';
import { startFactoryEmulator } from '../local/factory-emulator/emulator';
import { startLocalHost } from '../local/host/host';
import { mapLimit } from '../src/core/util';

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function stack(prefix: string, timers = true) {
  const azurite = await startAzurite({ inMemory: true });
  const emulator = await startFactoryEmulator({ port: 0, scenario: { pipelines: { hang: { durationMs: null } }, unknownPipelines: 'succeed' } as never });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), emulator.ca);
  const env = {
    AzureWebJobsStorage: azurite.connectionString,
    CONDUCTOR_TABLE_PREFIX: prefix,
    ADF_ENDPOINT: emulator.url,
    ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
    ADF_RESOURCE_GROUP: 'rg-bench',
    ADF_FACTORY_NAME: 'adf-bench',
    ADF_CREDENTIAL: 'emulator',
    ADF_CA_CERT: path.join(dir, 'ca.pem'),
    EMAIL_OUTBOX_DIR: path.join(dir, 'outbox'),
    SWEEP_SCHEDULE: '*/10 * * * * *',
    ADF_STARTS_PER_SECOND: '200',
  };
  const deps = buildDeps(loadSettings(env), new LineLogger(() => undefined));
  const host = await startLocalHost({ deps, port: 0, settings: env, timers, onLog: () => undefined });
  return {
    deps,
    emulator,
    api: `${host.url}/api`,
    close: async () => {
      await host.close();
      await emulator.close();
      await azurite.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** 1,000 instant workers over 10 stages; each worker's "last Web activity" calls the completion callback. */
async function throughput() {
  const s = await stack('benchtp');
  const lines = ['properties: { failureHandling: DependencyChain, maxConcurrentWorkers: 100 }', 'stages:'];
  for (let st = 1; st <= 10; st++) {
    lines.push(`  - name: s${st}`, '    pipelines:');
    for (let i = 1; i <= 100; i++) lines.push(`      - { name: w${st}_${i}, pipeline: p${st}_${i} }`);
  }
  const pipelines: Record<string, { durationMs: number }> = {};
  for (let st = 1; st <= 10; st++) for (let i = 1; i <= 100; i++) pipelines[`p${st}_${i}`] = { durationMs: 0 };
  s.emulator.setScenario({ pipelines, unknownPipelines: 'notFound' } as never);
  await fetch(`${s.api}/metadata`, { method: 'PUT', body: lines.join('\n') });
  const called = new Set<string>();
  let stop = false;
  // The callback pump: every finished run calls POST /api/callbacks/run-finished once, as its last activity would.
  const pump = (async () => {
    while (!stop) {
      const done = s.emulator.runs().filter((r) => r.status === 'Succeeded' && !called.has(r.runId));
      done.forEach((r) => called.add(r.runId));
      await mapLimit(done, 16, (r) => fetch(`${s.api}/callbacks/run-finished`, { method: 'POST', body: JSON.stringify({ runId: r.runId }) }).then((x) => x.arrayBuffer()));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = Date.now();
  const res = await fetch(`${s.api}/executions`, { method: 'POST', body: '{}' });
  const { executionId } = (await res.json()) as { executionId: string };
  let status = 'Running';
  let peakRss = 0;
  while (status === 'Running' && Date.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 250));
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    status = ((await (await fetch(`${s.api}/executions/${executionId}`)).json()) as { status: string }).status;
  }
  const seconds = (Date.now() - t0) / 1000;
  stop = true;
  await pump;
  const runs = s.emulator.runs().length;
  console.log(`orchestration: 1000 workers / 10 stages with callbacks -> ${status} in ${seconds.toFixed(1)} s (${(1000 / seconds).toFixed(0)} workers/s), ${runs} ADF runs, callbacks ${called.size}, peak RSS ${mb(peakRss)}, heap growth ${mb(process.memoryUsage().heapUsed - heap0)}  [target < 60 s]`);
  await s.close();
  return seconds;
}

/** One sweep pass with 1,000 runs in flight: ARM calls and time. */
async function sweepCost() {
  const s = await stack('benchsw', false);
  const target = { subscriptionId: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg-bench', factory: 'adf-bench', pipeline: 'hang' };
  const t0 = Date.now();
  await mapLimit(Array.from({ length: 1000 }, (_, i) => i), 32, (i) => startTrackedRun(s.deps, { target, parameters: { i }, owner: { kind: 'none', id: '' } }));
  const startSec = (Date.now() - t0) / 1000;
  await runSweep(s.deps); // sets the watermark
  s.emulator.resetStats();
  let t = Date.now();
  await runSweep(s.deps);
  const idleMs = Date.now() - t;
  const idle = s.emulator.stats();
  const runs = s.emulator.runs();
  for (const r of runs.slice(0, 500)) s.emulator.finish(r.runId, 'Succeeded');
  s.emulator.resetStats();
  t = Date.now();
  const report = await runSweep(s.deps);
  const busyMs = Date.now() - t;
  const busy = s.emulator.stats();
  console.log(`runs: 1000 tracked starts in ${startSec.toFixed(1)} s (${(1000 / startSec).toFixed(0)}/s)`);
  console.log(`sweep, 1000 in flight, none finished (all inside the feed overlap window): ${idleMs} ms, queryPipelineRuns=${idle.queryPipelineRuns}, getRun=${idle.getRun}`);
  console.log(`sweep, 1000 in flight, 500 finished: ${busyMs} ms, queryPipelineRuns=${busy.queryPipelineRuns}, getRun=${busy.getRun}, settled=${report.settled}  [bound: 1 + ceil(changed/100)]`);
  await s.close();
}

async function main() {
  console.log(`adf-conductor bench on ${os.cpus().length} cores, node ${process.version}`);
  await sweepCost();
  await throughput();
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
