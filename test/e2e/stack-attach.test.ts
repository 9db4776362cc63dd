import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { startFactoryEmulator, type FactoryEmulator } from '../../local/factory-emulator/emulator';
import { loadScenario } from '../../local/factory-emulator/scenario';
import { answers, canBind } from '../../local/ports';
import { ensureBuilt, killGroup, root, runStack, type StackProcess } from '../support/stack-child';

/**
 * `npm start` attached to an Azurite and an emulator that run already (the way the crash-test harness runs it):
 * it starts only the host, says so, and survives SIGKILL + restart on the same storage.
 */

async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function occupy(): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

describe('npm start attached to an Azurite and a factory emulator that already run', () => {
  let azurite: RunningAzurite;
  let emulator: FactoryEmulator;
  let blockers: net.Server[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-attach-'));
  const caFile = path.join(tmp, 'ca.pem');
  let env: Record<string, string>;
  let stack: StackProcess | undefined;
  let runId = '';
  const api = (p: string) => `http://127.0.0.1:${env.PORT}/api${p}`;

  beforeAll(async () => {
    ensureBuilt();
    azurite = await startAzurite({ inMemory: true });
    emulator = await startFactoryEmulator({ port: 0, scenario: loadScenario(path.join(root, 'local', 'scenarios', 'default.json')) });
    fs.writeFileSync(caFile, emulator.ca);
    // The ports the stack would start its own Azurite and emulator on are taken: starting either would refuse.
    blockers = [await occupy(), await occupy()];
    env = {
      AzureWebJobsStorage: azurite.connectionString,
      ADF_ENDPOINT: emulator.url,
      ADF_CA_CERT: caFile,
      CONDUCTOR_TABLE_PREFIX: `attach${Date.now() % 100000}`,
      PORT: String(await freePort()),
      SWEEP_SCHEDULE: '*/1 * * * * *',
      EMAIL_OUTBOX_DIR: path.join(tmp, 'outbox'),
      AZURITE_TABLE_PORT: String(portOf(blockers[0]!)),
      FACTORY_EMULATOR_PORT: String(portOf(blockers[1]!)),
    };
  }, 60_000);

  afterAll(async () => {
    killGroup(stack);
    for (const b of blockers) await new Promise((r) => b.close(r));
    await emulator?.close();
    await azurite?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('when AzureWebJobsStorage, ADF_ENDPOINT and ADF_CA_CERT are set, then it starts only the host and its ready line says started=host attached=storage,adf', async () => {
    stack = runStack(env);
    const ready = await stack.ready;
    expect(ready).toContain(`api=http://127.0.0.1:${env.PORT}/api`);
    expect(ready).toContain(`adf=${emulator.url}`);
    expect(ready).toContain(`tables=http://127.0.0.1:${azurite.port}`);
    expect(ready).toContain(`sweep="*/1 * * * * *"`);
    expect(ready).toMatch(/ started=host attached=storage,adf$/);
    expect(stack.output()).toContain(`storage: attached to http://127.0.0.1:${azurite.port} (AzureWebJobsStorage)`);
    expect(stack.output()).not.toContain('AccountKey');
  }, 60_000);

  it('when a run is posted, then the attached emulator gets it and the sweep timer settles it', async () => {
    const res = await fetch(api('/runs'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pipeline":"wk_ok","parameters":{"n":1}}' });
    expect(res.status).toBe(202);
    runId = ((await res.json()) as { runId: string }).runId;
    expect(emulator.runs().map((r) => r.runId)).toContain(runId);
    await waitUntil('the sweep settles the run', async () => ((await (await fetch(api(`/runs/${runId}`))).json()) as { status: string }).status === 'Succeeded', 15_000);
  }, 30_000);

  it('when the host is SIGKILLed and started again with the same settings, then it knows the run from the attached storage', async () => {
    stack!.child.kill('SIGKILL');
    await stack!.exit;
    stack = runStack(env);
    await stack.ready;
    const got = await fetch(api(`/runs/${runId}`));
    expect({ status: got.status, body: await got.json() }).toMatchObject({ status: 200, body: { runId, status: 'Succeeded' } });
  }, 60_000);

  it('when it gets SIGTERM, then only the host stops: the attached Azurite and emulator still answer', async () => {
    stack!.child.kill('SIGTERM');
    expect(await stack!.exit).toBe(0);
    expect(await canBind(Number(env.PORT))).toBe(true);
    expect(await answers(azurite.port)).toBe(true);
    expect(await answers(emulator.port)).toBe(true);
    expect(stack!.output()).not.toMatch(/azurite: stopped/);
  }, 60_000);
});

describe('npm start refuses a port that is taken (defect 13)', () => {
  it('when a plain server holds the Azurite port, then npm start exits 1 naming the port, the process that holds it and how to attach, and starts nothing', async () => {
    ensureBuilt();
    const blocker = await occupy();
    const ports = { emulator: await freePort(), host: await freePort() };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-taken-'));
    let stack: StackProcess | undefined;
    try {
      stack = runStack({
        AZURITE_TABLE_PORT: String(portOf(blocker)),
        FACTORY_EMULATOR_PORT: String(ports.emulator),
        PORT: String(ports.host),
        AZURITE_LOCATION: path.join(tmp, 'az'),
        EMAIL_OUTBOX_DIR: path.join(tmp, 'outbox'),
      });
      expect(await stack.exit).toBe(1);
      const out = stack.output();
      expect(out).toContain(`port ${portOf(blocker)} (Azurite) is already in use`);
      if (fs.existsSync('/proc/net/tcp')) expect(out).toContain(`pid ${process.pid}`);
      expect(out).toContain('set AzureWebJobsStorage to its connection string');
      expect(out).not.toMatch(/^ready /m);
      expect(await canBind(ports.emulator)).toBe(true);
      expect(await canBind(ports.host)).toBe(true);
      expect(fs.existsSync(path.join(tmp, 'az'))).toBe(false);
    } finally {
      killGroup(stack);
      await new Promise((r) => blocker.close(r));
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
