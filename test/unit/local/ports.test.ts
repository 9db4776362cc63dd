import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { canBind, ensurePortFree, freePort, portHolder, PortInUse, waitForPort } from '../../../local/ports';

const linux = fs.existsSync('/proc/net/tcp');
const onLinux = linux ? test : test.skip;

/** A plain TCP server in this process: the stranger that holds a port. */
async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

function node(script: string): ChildProcess {
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('ensurePortFree', () => {
  test('when nothing listens on the port, then it resolves', async () => {
    await expect(ensurePortFree(await freePort(), 'Azurite', 'hint')).resolves.toBeUndefined();
  });

  test('when a plain server holds the port, then it refuses with PortInUse naming the port, the service and the hint', async () => {
    const held = await occupy();
    try {
      const err = await ensurePortFree(held.port, 'Azurite', 'Set AzureWebJobsStorage to attach.').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUse);
      expect((err as Error).message).toContain(`port ${held.port} (Azurite) is already in use`);
      expect((err as Error).message).toContain('Set AzureWebJobsStorage to attach.');
      if (linux) expect((err as Error).message).toContain(`by pid ${process.pid} (`);
    } finally {
      await held.close();
    }
  });
});

describe('portHolder', () => {
  onLinux('when this process listens on a port, then /proc names this process and its command line', async () => {
    const held = await occupy();
    try {
      const holder = portHolder(held.port);
      expect(holder?.pid).toBe(process.pid);
      expect(holder?.command).toContain(process.execPath.split('/').pop());
    } finally {
      await held.close();
    }
  });

  test('when nothing listens, then there is no holder', async () => {
    expect(portHolder(await freePort())).toBeUndefined();
  });
});

describe('waitForPort: success only when OUR child listens', () => {
  test('when the child listens on the port, then it resolves', async () => {
    const port = await freePort();
    const child = node(`require('net').createServer().listen(${port}, '127.0.0.1'); setInterval(() => {}, 1000);`);
    children.push(child);
    await expect(waitForPort(port, 10_000, child)).resolves.toBeUndefined();
  });

  test('when the child exits before it listens, then it rejects at once, without waiting for the timeout', async () => {
    const child = node('process.exit(3)');
    children.push(child);
    const started = Date.now();
    await expect(waitForPort(await freePort(), 30_000, child)).rejects.toThrow(/exited \(code 3\) before it listened/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  onLinux('when another process holds the port and our child is alive but does not listen, then it rejects naming the holder', async () => {
    const held = await occupy();
    const child = node('setInterval(() => {}, 1000)');
    children.push(child);
    try {
      await expect(waitForPort(held.port, 10_000, child)).rejects.toThrow(`port ${held.port} answers, but pid ${process.pid}`);
    } finally {
      await held.close();
    }
  });

  test('when the child is alive and nothing listens, then it rejects after the timeout', async () => {
    const child = node('setInterval(() => {}, 1000)');
    children.push(child);
    await expect(waitForPort(await freePort(), 500, child)).rejects.toThrow(/nothing listens on \d+ after 500 ms/);
  });
});

describe('canBind', () => {
  test('when the port is held, then false; when free, then true', async () => {
    const held = await occupy();
    try {
      expect(await canBind(held.port)).toBe(false);
    } finally {
      await held.close();
    }
    expect(await canBind(held.port)).toBe(true);
  });
});
