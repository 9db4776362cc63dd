import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { azuriteConnectionString, freePort, startAzurite } from '../../local/azurite';
import { canBind } from '../../local/ports';
import { ensureBuilt, killGroup, root, runStack, type StackProcess } from '../support/stack-child';

/**
 * Defect 11: SIGTERM to `npm start` right after activity lost acknowledged writes (Azurite was killed before it
 * saved). Now the host stops first (answering the requests in flight), then Azurite saves and exits.
 */

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function countRows(client: TableClient): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const e of client.listEntities()) keys.add(e.rowKey as string);
  return keys;
}

describe('stopping npm start never loses an acknowledged write (defect 11)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-shutdown-'));
  let stack: StackProcess | undefined;
  afterAll(() => {
    killGroup(stack);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('when SIGTERM comes right after a burst of acknowledged writes, with requests still in flight, then they are answered and after a restart on the same .azurite folder every acknowledged write is there', async () => {
    ensureBuilt();
    // createRun takes 1.5 s, so the last requests are surely inside the host when the signal comes.
    const scenario = path.join(tmp, 'slow-create.json');
    fs.writeFileSync(scenario, JSON.stringify({ pipelines: { wk_ok: { durationMs: 200 } }, unknownPipelines: 'notFound', faults: { latencyMs: [1500, 1500], operations: ['createRun'] } }));
    const env = {
      AZURITE_LOCATION: path.join(tmp, 'azurite'),
      AZURITE_TABLE_PORT: String(await freePort()),
      FACTORY_EMULATOR_PORT: String(await freePort()),
      FACTORY_EMULATOR_SCENARIO: scenario,
      FACTORY_EMULATOR_CA_FILE: path.join(tmp, 'ca.pem'),
      PORT: String(await freePort()),
      SWEEP_SCHEDULE: '*/1 * * * * *',
      EMAIL_OUTBOX_DIR: path.join(tmp, 'outbox'),
    };
    const api = (p: string) => `http://127.0.0.1:${env.PORT}/api${p}`;
    const postRun = async (n: number): Promise<string> => {
      const res = await fetch(api('/runs'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline: 'wk_ok', parameters: { n } }) });
      if (res.status !== 202) throw new Error(`POST /runs: ${res.status}`);
      return ((await res.json()) as { runId: string }).runId;
    };

    stack = runStack(env);
    await stack.ready;
    const rows = TableClient.fromConnectionString(azuriteConnectionString(Number(env.AZURITE_TABLE_PORT)), 'durability', { allowInsecureConnection: true });
    await rows.createTable();
    const acked = new Set<string>();
    const write = async (key: string) => {
      await rows.createEntity({ partitionKey: 'p', rowKey: key, at: Date.now() });
      acked.add(key);
    };

    // A burst: rows straight into the stack's Azurite, and runs through the API beside them.
    const early = Promise.all(Array.from({ length: 20 }, (_, i) => postRun(i)));
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 1000) await write(`a${String(next++).padStart(5, '0')}`);
      }),
    );
    const earlyRuns = await early;

    // Requests in flight at the signal, then the last writes, then SIGTERM as soon as they are acknowledged.
    let answeredBeforeSignal = 0;
    const late = Array.from({ length: 10 }, (_, i) => postRun(100 + i).finally(() => answeredBeforeSignal++));
    const lateSettled = Promise.allSettled(late);
    await new Promise((r) => setTimeout(r, 400));
    await Promise.all(Array.from({ length: 50 }, (_, i) => write(`b${String(i).padStart(5, '0')}`)));
    const inFlight = 10 - answeredBeforeSignal;
    stack.child.kill('SIGTERM');

    const lateResults = await lateSettled;
    expect(await stack.exit).toBe(0);
    expect(inFlight).toBeGreaterThan(0);
    expect(lateResults.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual([]);
    expect(stack.output()).toMatch(/azurite: stopped, data saved in /);
    for (const port of [env.PORT, env.FACTORY_EMULATOR_PORT, env.AZURITE_TABLE_PORT]) expect(await canBind(Number(port))).toBe(true);
    const lateRuns = lateResults.map((r) => (r as PromiseFulfilledResult<string>).value);

    // Restart on the same folder: every acknowledged row and run is there.
    stack = runStack({ ...env, FACTORY_EMULATOR_SCENARIO: path.join(root, 'local', 'scenarios', 'default.json'), SWEEP_SCHEDULE: '0 0 0 1 1 *' });
    await stack.ready;
    const found = await countRows(rows);
    expect([...acked].filter((k) => !found.has(k))).toEqual([]);
    expect(found.size).toBe(1050);
    const missingRuns: string[] = [];
    for (const runId of [...earlyRuns, ...lateRuns]) {
      const res = await fetch(api(`/runs/${runId}`));
      if (res.status !== 200) missingRuns.push(`${runId}: ${res.status}`);
    }
    expect(missingRuns).toEqual([]);
    stack.child.kill('SIGTERM');
    expect(await stack.exit).toBe(0);
  }, 120_000);
});

describe('an Azurite whose parent dies', () => {
  it('when the process that started Azurite is SIGKILLed, then Azurite saves its data and exits on its own instead of holding the port', async () => {
    ensureBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-orphan-'));
    const script = `
      const { startAzurite } = require(${JSON.stringify(path.join(root, 'dist', 'local', 'azurite.js'))});
      const { TableClient } = require(${JSON.stringify(require.resolve('@azure/data-tables'))});
      (async () => {
        const a = await startAzurite({ inMemory: false, location: ${JSON.stringify(dir)} });
        const t = TableClient.fromConnectionString(a.connectionString, 'orphan', { allowInsecureConnection: true });
        await t.createTable();
        for (let i = 0; i < 200; i++) await t.createEntity({ partitionKey: 'p', rowKey: String(i) });
        console.log('written', a.port, a.pid);
      })();`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let azuritePid = 0;
    let port = 0;
    try {
      const deadline = Date.now() + 30_000;
      while (!/written \d+ \d+/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      [, port, azuritePid] = (/written (\d+) (\d+)/.exec(out) ?? []).map(Number) as [number, number, number];
      expect(azuritePid).toBeGreaterThan(0);
      parent.kill('SIGKILL');

      const gone = Date.now() + 15_000;
      while (alive(azuritePid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
      expect(alive(azuritePid)).toBe(false);

      const again = await startAzurite({ inMemory: false, location: dir, port });
      try {
        const found = await countRows(TableClient.fromConnectionString(again.connectionString, 'orphan', { allowInsecureConnection: true }));
        expect(found.size).toBe(200);
      } finally {
        await again.stop();
      }
    } finally {
      if (parent.exitCode === null) parent.kill('SIGKILL');
      if (azuritePid && alive(azuritePid)) process.kill(azuritePid, 'SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
