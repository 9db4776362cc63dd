import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { killGroup, root, runStack, type StackProcess } from '../support/stack-child';

/**
 * The built `adf-conductor` CLI (dist/bin/adf-conductor.js) as an operator runs it, against the local stack
 * (in-memory Azurite, the factory emulator with the default scenario, a sweep every second): its exit codes
 * gate a CI/CD step, and its captured output (no TTY) shows per-stage progress and every failure.
 */

const cliJs = path.join(root, 'dist', 'bin', 'adf-conductor.js');

/** Builds dist/ when the CLI's output is missing or older than any source it is built from. */
function ensureCliBuilt(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...fs.readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : /\.(ts|json)$/.test(e.name) ? fs.statSync(path.join(dir, e.name)).mtimeMs : 0)));
  const built = Math.min(...[cliJs, path.join(root, 'dist', 'local', 'stack.js')].map((f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0)));
  if (built >= Math.max(...['src', 'local', 'bin'].map((d) => newest(path.join(root, d))))) return;
  // tsc emits even with type errors elsewhere in the tree; only a missing output is fatal here.
  spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
  if (!fs.existsSync(cliJs)) throw new Error('the build did not produce dist/bin/adf-conductor.js');
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child process with a clean environment: no TTY, so watch prints plain lines. */
function cli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliJs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`adf-conductor ${args.join(' ')}: no exit after ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const METADATA = `# the CLI's e2e metadata: Simple failure handling, so a failed worker stops its execution
properties:
  failureHandling: Simple
stages:
  - name: extract
    pipelines:
      - name: sales
        pipeline: wk_ok
      - name: customers
        pipeline: wk_slow
      - name: web_logs
        pipeline: wk_bad
  - name: transform
    pipelines:
      - name: sales_model
        pipeline: wk_ok
        dependsOn: [sales]
  - name: quick
    pipelines:
      - name: ping
        pipeline: wk_ok
      - name: pong
        pipeline: wk_ok
  - name: report
    pipelines:
      - name: summary
        pipeline: wk_ok
        dependsOn: [ping]
batches:
  - name: nightly
    stages: [extract, transform]
  - name: hourly
    stages: [quick, report]
queues:
  - name: imports
    capacity: 1
`;

const SELF_DEPENDENT = `stages:
  - name: extract
    pipelines:
      - name: sales
        pipeline: wk_ok
        dependsOn: [sales]
batches:
  - name: nightly
    stages: [extract]
`;

/** A batch's plan: parameters from the batch and the request, placeholders, a named factory, a queue, skipped workers. */
const PLANNED = `properties:
  failureHandling: Simple
factories:
  finance:
    resourceGroup: rg-finance
    factory: adf-finance
stages:
  - name: load
    maxConcurrentWorkers: 1
    pipelines:
      - name: orders
        pipeline: wk_ok
        queue: crm
        parameters: { load: "\${execution.id}", region: "\${execution.parameters.region}", me: "\${worker.name}", mode: "\${execution.parameters.mode}" }
        retry: { count: 1, intervalSeconds: 5 }
      - name: invoices
        pipeline: wk_ok
        factory: finance
        queue: crm
        parameters: { label: "\${worker.name}-\${execution.parameters.region}" }
      - name: legacy
        pipeline: wk_ok
        enabled: false
  - name: publish
    warnAfterSeconds: 600
    pipelines:
      - name: report
        pipeline: wk_ok
        dependsOn: [orders, legacy]
batches:
  - name: regional
    stages: [load, publish]
    parameters: { region: US, mode: full }
  - name: unset
    stages: [load]
    parameters: { mode: delta }
queues:
  - name: crm
    capacity: 1
`;

/** The default factory the stack is given, and the same app settings given to an offline plan. */
const FACTORY_ENV = { ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000', ADF_RESOURCE_GROUP: 'rg-local', ADF_FACTORY_NAME: 'adf-local' };

describe('adf-conductor CLI against the local stack', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-e2e-'));
  let azurite: RunningAzurite | undefined;
  let stack: StackProcess | undefined;
  let url = '';
  let env: Record<string, string> = {};
  const api = (p: string) => `${url}/api${p}`;

  beforeAll(async () => {
    ensureCliBuilt();
    azurite = await startAzurite({ inMemory: true });
    const port = await freePort();
    stack = runStack({
      ...FACTORY_ENV,
      AzureWebJobsStorage: azurite.connectionString,
      CONDUCTOR_TABLE_PREFIX: `cli${Date.now() % 100000}`,
      FACTORY_EMULATOR_PORT: String(await freePort()),
      FACTORY_EMULATOR_SCENARIO: path.join(root, 'local', 'scenarios', 'default.json'),
      FACTORY_EMULATOR_CA_FILE: path.join(tmp, 'ca.pem'),
      PORT: String(port),
      SWEEP_SCHEDULE: '*/1 * * * * *',
      EMAIL_OUTBOX_DIR: path.join(tmp, 'outbox'),
    });
    await stack.ready;
    url = `http://127.0.0.1:${port}`;
    env = { ADF_CONDUCTOR_URL: url };
    fs.writeFileSync(path.join(tmp, 'conductor.yaml'), METADATA);
    fs.writeFileSync(path.join(tmp, 'self.yaml'), SELF_DEPENDENT);
    fs.writeFileSync(path.join(tmp, 'planned.yaml'), PLANNED);
  }, 120_000);

  afterAll(async () => {
    killGroup(stack);
    await azurite?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** `run <batch>` and the execution id it printed. */
  async function run(batch: string): Promise<string> {
    const r = await cli(['run', batch], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const id = /^(?:started|resumed) execution (\S+) /.exec(r.stdout)?.[1];
    if (!id) throw new Error(`no execution id in: ${r.stdout}`);
    return id;
  }

  it('when a worker depends on itself, then validate exits 1 naming the worker, and apply sends nothing', async () => {
    const validated = await cli(['validate', path.join(tmp, 'self.yaml')], env);
    expect(validated.code).toBe(1);
    expect(validated.stdout).toContain('stages[0].pipelines[0].dependsOn[0]: worker "sales" depends on itself');

    const applied = await cli(['apply', path.join(tmp, 'self.yaml')], env);
    expect(applied.code).toBe(1);
    expect(applied.stdout).toContain('nothing was sent');
    const stored = await fetch(api('/metadata'));
    expect(stored.status).toBe(404);
  }, 60_000);

  it('when a valid document is applied, then it is stored and the version is printed', async () => {
    const r = await cli(['apply', path.join(tmp, 'conductor.yaml')], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trim()).toBe(`✔ applied ${path.join(tmp, 'conductor.yaml')}: version 1 (4 stages, 7 workers, batches nightly, hourly, queues imports)`);
    const stored = (await (await fetch(api('/metadata'))).json()) as { version: number };
    expect(stored.version).toBe(1);
  }, 60_000);

  it('when an execution succeeds, then watch prints per-stage progress and exits 0', async () => {
    const id = await run('hourly');
    const r = await cli(['watch', id], env);

    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`execution ${id} (batch hourly): Running, 2 stages, 3 workers`);
    expect(lines).toContain('stage quick: 2/2 done');
    expect(lines).toContain('stage report: 1/1 done');
    expect(lines.at(-1)).toMatch(new RegExp(`^execution ${id} Succeeded after \\d+ s: 3 succeeded$`));
  }, 60_000);

  it('when a worker fails under Simple failure handling, then watch shows the failure with its activity error as it happens, and exits 1 on Stopped', async () => {
    const id = await run('nightly');
    const r = await cli(['watch', id, '--interval', '0.5'], env);
    if (process.env.CLI_SAMPLE_OUT) fs.writeFileSync(process.env.CLI_SAMPLE_OUT, `$ adf-conductor watch ${id}\n${r.stdout}`);

    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`execution ${id} (batch nightly): Running, 2 stages, 4 workers`);
    const failed = lines.indexOf('FAILED worker web_logs at "Copy data" [2200] Source not found');
    expect(failed).toBeGreaterThan(0);
    // The failure is reported while wk_slow (5 s) still runs, not only at the end.
    expect(lines.slice(0, failed).some((l) => /^stage extract: \d\/3 done \(.*1 running.*\) · running: customers$/.test(l))).toBe(true);
    expect(lines).toContain('stage extract: 3/3 done (1 failed)');
    expect(lines).toContain('stage transform: 1/1 done (1 blocked)');
    expect(lines.filter((l) => l.startsWith('FAILED '))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(new RegExp(`^execution ${id} Stopped after \\d+ s: 2 succeeded, 1 failed, 1 blocked$`));
  }, 60_000);

  it('when run --wait is used, then it starts the execution and watches it to its end', async () => {
    const r = await cli(['run', 'hourly', '--wait'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^started execution \S+ \(batch hourly\): Running\n/);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/Succeeded after \d+ s: 3 succeeded$/);
  }, 60_000);

  it('when the URL is unreachable or the execution unknown, then watch exits 2 with a clear message', async () => {
    const closed = await freePort();
    const unreachable = await cli(['watch', 'any-id', '--url', `http://127.0.0.1:${closed}`], {});
    expect(unreachable.code).toBe(2);
    expect(unreachable.stdout).toBe('');
    expect(unreachable.stderr).toContain(`✖ cannot reach http://127.0.0.1:${closed}: connection refused (ECONNREFUSED)`);

    const unknown = await cli(['watch', 'no-such-execution'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe("✖ ExecutionNotFound: No execution 'no-such-execution'.");
  }, 60_000);

  it('when a pause is approved from its restartUrl, then the continuation starts; a second approve exits 1, and the token is never printed', async () => {
    const created = await fetch(api('/pauses'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ continuation: { pipeline: 'wk_ok' } }) });
    expect(created.status).toBe(201);
    const { restartUrl, token, pauseId } = (await created.json()) as { restartUrl: string; token: string; pauseId: string };
    expect(restartUrl).toContain('#token=');

    const first = await cli(['approve', restartUrl], {});
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(new RegExp(`^✔ pause ${pauseId} Approved: wk_ok started, run [0-9a-f-]{36}$`));

    const second = await cli(['approve', restartUrl], {});
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^✖ AlreadyDecided: /);

    const pause = (await (await fetch(api(`/pauses/${pauseId}`))).json()) as { status: string; runId: string };
    expect(pause.status).toBe('Approved');
    for (const out of [first, second]) expect(out.stdout + out.stderr).not.toContain(token);
  }, 60_000);

  it('when a pause is rejected, then reject exits 0 and the pause is Rejected', async () => {
    const created = await fetch(api('/pauses'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ continuation: { pipeline: 'wk_ok' } }) });
    const { restartUrl, pauseId } = (await created.json()) as { restartUrl: string; pauseId: string };

    const r = await cli(['reject', restartUrl], {});
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`✔ pause ${pauseId} Rejected`);
  }, 60_000);

  it('when a queue has a running and a waiting job, then queue lists them in order', async () => {
    const enqueue = async () => {
      const res = await fetch(api('/queues/imports/jobs'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline: 'wk_manual' }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { jobId: string }).jobId;
    };
    const first = await enqueue();
    const second = await enqueue();

    const r = await cli(['queue', 'imports'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('queue imports (capacity 1): 1 running, 1 waiting');
    expect(lines[1]).toBe('running:');
    expect(lines[2]).toMatch(new RegExp(`^  ${first} wk_manual RUNNING since `));
    expect(lines[3]).toBe('waiting:');
    expect(lines[4]).toMatch(new RegExp(`^  1\\. ${second} wk_manual PENDING enqueued `));
  }, 60_000);
  it('when plan runs offline with the app\'s factory settings, then it prints the plan the server\'s dry run answers', async () => {
    const put = await fetch(api('/metadata'), { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: PLANNED });
    expect(put.status).toBe(200);
    const dry = await fetch(api('/executions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: 'regional', parameters: { region: 'EU' }, dryRun: true }) });
    expect(dry.status).toBe(200);
    const server = (await dry.json()) as Record<string, unknown>;

    const file = path.join(tmp, 'planned.yaml');
    const r = await cli(['plan', file, '--batch', 'regional', '--param', 'region=EU', '--json'], FACTORY_ENV);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const offline = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of ['batch', 'parameters', 'stages', 'skipped', 'sharedLimits']) expect({ [key]: offline[key] }).toEqual({ [key]: server[key] });
    // The comparison has teeth: the request's region overrides the batch's, the placeholders are resolved,
    // the default factory is the app's, and the disabled worker is skipped.
    expect(offline.parameters).toEqual({ region: 'EU', mode: 'full' });
    expect(JSON.stringify(offline.stages)).toContain('"parameters":{"load":"(dry run)","region":"EU","me":"orders","mode":"full"}');
    expect(JSON.stringify(offline.stages)).toContain('"factory":"adf-local","resourceGroup":"rg-local","subscriptionId":"00000000-0000-0000-0000-000000000000"');
    expect(offline.skipped).toEqual([{ name: 'legacy', stage: 'load', reason: 'the worker is disabled' }]);

    const text = await cli(['plan', file, '--batch', 'regional', '--param', 'region=EU'], FACTORY_ENV);
    if (process.env.CLI_PLAN_SAMPLE_OUT) fs.writeFileSync(process.env.CLI_PLAN_SAMPLE_OUT, `$ adf-conductor plan planned.yaml --batch regional --param region=EU\n${text.stdout.split(file).join('planned.yaml')}`);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout.split('\n')[0]).toBe(`plan of batch regional from ${file}: 2 stages, 3 workers; execution parameters {"region":"EU","mode":"full"}`);
  }, 60_000);

  it('when an execution parameter is missing, then plan exits 1 naming parameters.region, as the server\'s 400 does', async () => {
    const file = path.join(tmp, 'planned.yaml');
    const r = await cli(['plan', file, '--batch', 'unset'], FACTORY_ENV);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^✖ ValidationFailed: Execution parameters are missing\.\n {2}parameters\.region: /);

    const dry = await fetch(api('/executions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch: 'unset', dryRun: true }) });
    expect(dry.status).toBe(400);
    expect(((await dry.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual(['parameters.region']);
  }, 60_000);
});
