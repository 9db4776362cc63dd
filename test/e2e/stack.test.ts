import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../local/azurite';

const root = path.join(__dirname, '..', '..');
const stackJs = path.join(root, 'dist', 'local', 'stack.js');

/** Newest modification time of the TypeScript sources that dist/ is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** `npm test` may run before `npm run build`: build dist/ when it is missing or older than the sources. */
function ensureBuilt(): void {
  const sources = ['src', 'local', 'bin', 'bench'].map((d) => path.join(root, d)).filter((d) => fs.existsSync(d));
  const built = fs.existsSync(stackJs) ? fs.statSync(stackJs).mtimeMs : 0;
  if (built >= Math.max(...sources.map(newestSource))) return;
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  // tsc still emits on type errors; `npm run typecheck` is where those fail. A missing output is fatal here.
  if (!fs.existsSync(stackJs)) throw new Error(`the build failed:\n${tsc.stdout}${tsc.stderr}`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', () => resolve(true));
  });
}

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The emulator's inspection API (its certificate is self-signed; this read is for inspection only). */
function emulatorRuns(port: number): Promise<Array<{ runId: string; pipelineName: string; parameters: Record<string, string> }>> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/_emulator/runs', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject);
  });
}

describe('npm start: the local stack as a child process, driven over HTTP', () => {
  let child: ChildProcess | undefined;
  let output = '';
  const ports = { tables: 0, emulator: 0, host: 0 };
  let readyMs = 0;
  let exitCode: Promise<number | null>;
  const outbox = fs.mkdtempSync(path.join(os.tmpdir(), 'conductor-e2e-'));

  beforeAll(async () => {
    ensureBuilt();
    ports.tables = await freePort();
    ports.emulator = await freePort();
    ports.host = await freePort();
    const started = Date.now();
    // A process group of its own, so that a failed test can still stop Azurite, its grandchild.
    child = spawn(process.execPath, [stackJs, '--in-memory'], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AZURITE_TABLE_PORT: String(ports.tables),
        FACTORY_EMULATOR_PORT: String(ports.emulator),
        PORT: String(ports.host),
        SWEEP_SCHEDULE: '*/1 * * * * *',
        EMAIL_OUTBOX_DIR: outbox,
      },
    });
    exitCode = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (/^ready /m.test(output)) resolve();
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      child!.once('exit', (code) => reject(new Error(`the stack exited with ${code}:\n${output}`)));
      setTimeout(() => reject(new Error(`no ready line after 30 s:\n${output}`)), 30_000).unref();
    });
    await ready;
    readyMs = Date.now() - started;
  }, 90_000);

  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(outbox, { recursive: true, force: true });
  });

  const api = (p: string) => `http://127.0.0.1:${ports.host}/api${p}`;

  it('when it starts with nothing listening, then it prints one ready line with the URLs within 20 s', () => {
    expect(readyMs).toBeLessThan(20_000);
    const line = output.split('\n').find((l) => l.startsWith('ready'));
    expect(line).toContain(`api=http://127.0.0.1:${ports.host}/api`);
    expect(line).toContain(`emulator=https://127.0.0.1:${ports.emulator}`);
    expect(line).toContain(`tables=http://127.0.0.1:${ports.tables}`);
    expect(line).toContain('(in memory)');
  });

  it('when it is ready, then the next lines are the three commands to try: a run, the example metadata, a daily execution', async () => {
    await waitUntil('the lines after ready', async () => output.includes('{"batch":"daily"}'), 5_000);
    const lines = output.split('\n');
    const ready = lines.findIndex((l) => l.startsWith('ready'));
    const api = `http://127.0.0.1:${ports.host}/api`;
    expect(lines.slice(ready + 1, ready + 5)).toEqual([
      'try next (from the repository root):',
      `  curl -s -X POST ${api}/runs -H 'content-type: application/json' -d '{"pipeline":"wk_ok","parameters":{"n":1}}'`,
      `  curl -s -X PUT ${api}/metadata --data-binary @examples/conductor.yaml`,
      `  curl -s -X POST ${api}/executions -H 'content-type: application/json' -d '{"batch":"daily"}'`,
    ]);
  });

  it('when a run is posted, then 202 with a runId, the emulator shows it with its parameters, and GetRun says Succeeded after a sweep', async () => {
    const res = await fetch(api('/runs'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pipeline":"wk_ok","parameters":{"n":1}}' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { runId: string; statusUrl: string };
    expect(body.runId).toMatch(/^[0-9a-f-]{36}$/);

    const runs = await emulatorRuns(ports.emulator);
    expect(runs.find((r) => r.runId === body.runId)).toMatchObject({ pipelineName: 'wk_ok', parameters: { n: '1' } });

    let status = '';
    await waitUntil(
      'GetRun says Succeeded',
      async () => {
        const got = (await (await fetch(api(`/runs/${body.runId}`))).json()) as { status: string };
        status = got.status;
        return status === 'Succeeded';
      },
      10_000,
    );
    expect(status).toBe('Succeeded');
  });

  it('when a route is unknown, then the host answers 404 RouteNotFound', async () => {
    const res = await fetch(api('/no-such-route'));
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('RouteNotFound');
  });

  it('when the demo tour (npm run demo) runs against it, then every part completes or is skipped, and it exits 0', async () => {
    const demo = spawn(process.execPath, [path.join(root, 'dist', 'local', 'demo.js')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, DEMO_BASE_URL: `http://127.0.0.1:${ports.host}` },
    });
    let out = '';
    demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
    expect({ code, out }).toMatchObject({ code: 0, out: expect.stringContaining('Tour complete.') });
    expect(out).toContain('runId is the same: nothing new started');
  }, 90_000);

  it("when the README's orchestration example is applied and its daily batch is run on the default scenario, then the execution ends Succeeded", async () => {
    // As curl sends it: `--data-binary @examples/conductor.yaml` with curl's default content type.
    const yaml = fs.readFileSync(path.join(root, 'examples', 'conductor.yaml'));
    const put = await fetch(api('/metadata'), { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: yaml });
    expect({ status: put.status, body: await put.json() }).toMatchObject({ status: 200, body: { batches: ['daily', 'monthly'] } });

    const started = await fetch(api('/executions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"batch":"daily"}' });
    const { executionId, status } = (await started.json()) as { executionId: string; status: string };
    expect({ code: started.status, status }).toEqual({ code: 202, status: 'Running' });

    let execution: { status: string; stages?: Array<{ name: string; status: string; workers?: Array<{ name: string; status: string; error?: unknown }> }> } = { status: '' };
    await waitUntil(
      'the execution ends',
      async () => {
        execution = (await (await fetch(api(`/executions/${executionId}`))).json()) as typeof execution;
        return execution.status !== 'Running';
      },
      30_000,
    );
    expect(execution).toMatchObject({ status: 'Succeeded' });
    const workers = (execution.stages ?? []).flatMap((st) => (st.workers ?? []).map((w) => `${st.name}/${w.name}: ${w.status}`));
    expect(workers.filter((w) => w.includes('Failed'))).toEqual([]);

    // Every pipeline the example names ran in the emulator (the disabled web_logs and the monthly housekeeping did not).
    const ran = new Set((await emulatorRuns(ports.emulator)).map((r) => r.pipelineName));
    for (const p of ['pl_extract_sales', 'pl_extract_customers', 'pl_extract_products', 'pl_transform_sales', 'pl_transform_products', 'pl_transform_clickstream', 'pl_load_finance_mart', 'pl_refresh_powerbi']) {
      expect({ pipeline: p, ran: ran.has(p) }).toEqual({ pipeline: p, ran: true });
    }
  }, 60_000);

  it('when the dashboard is opened, then its footer names the app', async () => {
    const html = await (await fetch(api('/dashboard'))).text();
    expect(html).toContain('<footer>adf-conductor · control flow for Azure Data Factory</footer>');
    expect(html).not.toContain('pausable pipelines');
  });

  it('when it gets SIGTERM, then it exits and every port is freed', async () => {
    child!.kill('SIGTERM');
    expect(await exitCode).toBe(0);
    for (const port of [ports.host, ports.emulator, ports.tables]) await waitUntil(`port ${port} is freed`, () => portIsFree(port), 10_000);
    expect(output).toMatch(/SIGTERM: stopping/);
  });
});
