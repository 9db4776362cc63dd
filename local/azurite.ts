import { spawn } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { ensurePortFree, freePort, waitForPort } from './ports';

export { freePort, waitForPort } from './ports';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export const azuriteConnectionString = (port: number) =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`;

export interface RunningAzurite {
  port: number;
  connectionString: string;
  pid: number | undefined;
  /** Where the data lives; undefined in memory. */
  location: string | undefined;
  /** Settles when the Azurite process ends, for whatever reason. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /**
   * Stops Azurite gracefully and waits for it: it stops serving, saves its database and exits. Rejects when it
   * did not exit cleanly within `timeoutMs` (it is then killed, and writes since its last autosave may be lost).
   */
  stop(timeoutMs?: number): Promise<void>;
}

export interface AzuriteOptions {
  /** Default: a free port. */
  port?: number;
  /** Default true. */
  inMemory?: boolean;
  /** Folder of the on-disk data; default `<project>/.azurite`. */
  location?: string;
  /** What to tell the user when the port is taken. */
  portHint?: string;
}

/** Finds the project root (the folder with package.json and node_modules/.bin/azurite-table). */
export function projectRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'templates'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the project root');
    dir = up;
  }
}

/**
 * Runs Azurite's own table CLI in the child. Why a wrapper:
 * - Azurite saves its LokiJS database only on SIGINT (its graceful close), or every 5 s by autosave. SIGTERM
 *   kills it at once and loses every write since the last autosave, acknowledged or not.
 * - The child runs in its own process group, so a Ctrl-C in the terminal reaches only the stack, which stops its
 *   host first and Azurite last. If the stack dies without stopping it, the IPC channel closes and the child
 *   closes Azurite gracefully itself, instead of living on as an orphan holding the port.
 * - A closed stdout (the parent is gone) must not crash it in the middle of saving.
 */
const wrapper = (azuriteMain: string) =>
  [
    "process.stdout.on('error', () => {});",
    "process.stderr.on('error', () => {});",
    "process.once('disconnect', () => process.kill(process.pid, 'SIGINT'));",
    `require(${JSON.stringify(azuriteMain)});`,
  ].join('\n');

/** Starts Azurite's Table service (the npm package) as a child process, on a port that must be free. */
export async function startAzurite(opts: AzuriteOptions = {}): Promise<RunningAzurite> {
  const port = opts.port || (await freePort()); // 0 too: we must know the port to wait for it
  await ensurePortFree(port, 'Azurite', opts.portHint ?? 'Stop that process, or choose another port with AZURITE_TABLE_PORT.');
  const root = projectRoot();
  const bin = path.join(root, 'node_modules', 'azurite', 'dist', 'src', 'table', 'main.js');
  // argv[1] is a name only: `node -e` puts the arguments from argv[1] on, and Azurite's parser skips two.
  const args = ['azurite-table', '--tableHost', '127.0.0.1', '--tablePort', String(port), '--skipApiVersionCheck', '--disableProductStyleUrl', '--silent', '--disableTelemetry'];
  const inMemory = opts.inMemory ?? true;
  const location = inMemory ? undefined : path.resolve(opts.location ?? path.join(root, '.azurite'));
  if (location) {
    fs.mkdirSync(location, { recursive: true });
    args.push('--location', location);
  } else args.push('--inMemoryPersistence');

  const child = spawn(process.execPath, ['-e', wrapper(bin), ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitForPort(port, 20_000, child);
    // Azurite prints this only once its own server is bound: the listener is ours, not a stranger's.
    const deadline = Date.now() + 5000;
    while (!stdout.includes('successfully started') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!stdout.includes('successfully started')) throw new Error('it did not report a successful start');
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`Azurite did not start on port ${port}: ${(e as Error).message}\n${stderr}`);
  }

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 60_000): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // Closing the IPC channel makes the child send itself SIGINT, Azurite's graceful close: it stops serving,
        // saves the database, and the process exits (the open channel would keep it alive). Exactly one SIGINT:
        // Azurite handles only the first, and a second would kill it in the middle of saving.
        if (child.connected) child.disconnect();
        else child.kill('SIGINT');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
        const end = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (end === 'timeout') {
          child.kill('SIGKILL');
          throw new Error(`Azurite did not finish saving within ${timeoutMs} ms and was killed`);
        }
      }
      const { code, signal } = await exited;
      if (code !== 0) throw new Error(`Azurite exited with ${signal ?? `code ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`);
    })());

  return { port, pid: child.pid, location, exited, connectionString: azuriteConnectionString(port), stop };
}
