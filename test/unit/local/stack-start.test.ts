import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../local/azurite';
import { canBind, portHolder } from '../../../local/ports';
import { planStack, startStack, StackRefused, storageEndpoint } from '../../../local/stack';

const root = '/repo';
const linux = fs.existsSync('/proc/net/tcp');
const onLinux = linux ? test : test.skip;

describe('planStack: what npm start starts and what it attaches to', () => {
  test('when nothing is set, then it starts Azurite on 10002 with data in .azurite, the emulator on 7443 and the host on 7071', () => {
    expect(planStack({}, [], root)).toEqual({
      storage: { start: { port: 10002, inMemory: false, location: '/repo/.azurite' } },
      adf: { start: { port: 7443, scenario: '/repo/local/scenarios/default.json', caFile: '/repo/.local/emulator-ca.pem' } },
      host: { port: 7071 },
      inMemory: false,
    });
  });

  test('when AzureWebJobsStorage is set, then it attaches to that storage and starts no Azurite', () => {
    const plan = planStack({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }, [], root);
    expect(plan.storage).toEqual({ attach: { setting: 'AzureWebJobsStorage', endpoint: 'http://127.0.0.1:10002/devstoreaccount1' } });
  });

  test('when CONDUCTOR_STORAGE is set as well, then it wins, as it does in the app', () => {
    const plan = planStack({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', CONDUCTOR_STORAGE: 'https://acct.table.core.windows.net' }, [], root);
    expect(plan.storage).toEqual({ attach: { setting: 'CONDUCTOR_STORAGE', endpoint: 'https://acct.table.core.windows.net' } });
  });

  test('when ADF_ENDPOINT is set, then it attaches to it with ADF_CA_CERT and starts no emulator', () => {
    const plan = planStack({ ADF_ENDPOINT: 'https://127.0.0.1:9443', ADF_CA_CERT: '/tmp/ca.pem' }, [], root);
    expect(plan.adf).toEqual({ attach: { endpoint: 'https://127.0.0.1:9443', caCert: '/tmp/ca.pem' } });
  });

  test('when a setting is blank, then it counts as not set', () => {
    const plan = planStack({ AzureWebJobsStorage: '', ADF_ENDPOINT: ' ' }, [], root);
    expect('start' in plan.storage && 'start' in plan.adf).toBe(true);
  });

  test('when AZURITE_LOCATION and the ports are set, then they are used; --in-memory keeps nothing on disk', () => {
    const plan = planStack({ AZURITE_LOCATION: '/data/az', AZURITE_TABLE_PORT: '1', FACTORY_EMULATOR_PORT: '2', PORT: '3' }, ['--in-memory'], root);
    expect(plan).toMatchObject({ storage: { start: { port: 1, inMemory: true, location: '/data/az' } }, adf: { start: { port: 2 } }, host: { port: 3 }, inMemory: true });
  });

  test('when a port setting is not a port, then it refuses naming the setting', () => {
    expect(() => planStack({ PORT: 'http' }, [], root)).toThrow(StackRefused);
    expect(() => planStack({ AZURITE_TABLE_PORT: '70000' }, [], root)).toThrow(/AZURITE_TABLE_PORT must be a port number/);
  });
});

describe('storageEndpoint', () => {
  test.each([
    ['DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k;TableEndpoint=http://127.0.0.1:5/a;', 'http://127.0.0.1:5/a'],
    ['UseDevelopmentStorage=true', 'http://127.0.0.1:10002/devstoreaccount1'],
    ['DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn', 'https://acct.table.core.chinacloudapi.cn'],
    ['https://acct.table.core.windows.net', 'https://acct.table.core.windows.net'],
    ['garbage', undefined],
  ])('when the setting is %s, then the endpoint is %s (no key in it)', (value, endpoint) => {
    expect(storageEndpoint(value)).toBe(endpoint);
  });
});

describe('startStack refuses a port that something else holds (defect 13)', () => {
  test('when a plain server holds the Azurite port, then the stack refuses before starting anything, naming the port, the holder and how to attach', async () => {
    const blocker = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const emulatorPort = await freePort();
    const hostPort = await freePort();
    const printed: string[] = [];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-refuse-'));
    try {
      const err = await startStack({
        env: { AZURITE_TABLE_PORT: String(taken), FACTORY_EMULATOR_PORT: String(emulatorPort), PORT: String(hostPort), AZURITE_LOCATION: tmp },
        print: (l) => printed.push(l),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackRefused);
      const message = (err as Error).message;
      expect(message).toContain(`port ${taken} (Azurite) is already in use`);
      expect(message).toContain('set AzureWebJobsStorage to its connection string');
      if (linux) expect(message).toContain(`pid ${process.pid}`);
      // Nothing was started: no line printed, the other ports still free, no data folder written.
      expect(printed).toEqual([]);
      expect(await canBind(emulatorPort)).toBe(true);
      expect(await canBind(hostPort)).toBe(true);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('when an attached loopback storage does not answer, then it refuses naming the endpoint and the setting, never the key', async () => {
    const silent = await freePort();
    const err = await startStack({
      env: {
        AzureWebJobsStorage: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:${silent}/devstoreaccount1;`,
        FACTORY_EMULATOR_PORT: String(await freePort()),
        PORT: String(await freePort()),
      },
      print: () => undefined,
      attachWaitMs: 300,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackRefused);
    expect((err as Error).message).toContain(`nothing answers at http://127.0.0.1:${silent} (from AzureWebJobsStorage)`);
    expect((err as Error).message).not.toContain('c2VjcmV0');
  });
});

describe('startStack in process', () => {
  onLinux('when the Azurite it started dies on its own, then `failed` says so; stop() still stops the rest', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-failed-'));
    const ports = { tables: await freePort(), emulator: await freePort(), host: await freePort() };
    const printed: string[] = [];
    const stack = await startStack({
      env: {
        AZURITE_TABLE_PORT: String(ports.tables),
        FACTORY_EMULATOR_PORT: String(ports.emulator),
        FACTORY_EMULATOR_CA_FILE: path.join(tmp, 'ca.pem'),
        PORT: String(ports.host),
        EMAIL_OUTBOX_DIR: path.join(tmp, 'outbox'),
      },
      argv: ['--in-memory', '--quiet'],
      print: (l) => printed.push(l),
    });
    try {
      expect(stack.readyLine).toMatch(/ started=azurite,emulator,host attached=none \(in memory\)$/);
      expect(printed.filter((l) => l.startsWith('ready '))).toEqual([stack.readyLine]);
      const azuritePid = portHolder(ports.tables)?.pid ?? 0;
      expect(azuritePid).toBeGreaterThan(0);
      process.kill(azuritePid, 'SIGKILL');
      await expect(stack.failed).resolves.toBe('Azurite exited on its own (SIGKILL)');
    } finally {
      expect(await stack.stop()).toBe(false); // Azurite did not exit cleanly, and the stop says so
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    expect(printed).toContain('stopping azurite: Azurite exited with SIGKILL');
    expect(await canBind(ports.host)).toBe(true);
    expect(await canBind(ports.emulator)).toBe(true);
  });
});
