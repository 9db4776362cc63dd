import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** `npm start` (dist/local/stack.js) as a child process, for the end-to-end tests that run the whole stack. */
export const root = path.join(__dirname, '..', '..');
const stackJs = path.join(root, 'dist', 'local', 'stack.js');

/** Builds dist/ when any .ts or .json under src/ or local/ is newer than dist/local/stack.js. */
export function ensureBuilt(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...fs.readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : /\.(ts|json)$/.test(e.name) ? fs.statSync(path.join(dir, e.name)).mtimeMs : 0)));
  const built = fs.existsSync(stackJs) ? fs.statSync(stackJs).mtimeMs : 0;
  if (built >= Math.max(...['src', 'local'].map((d) => newest(path.join(root, d))))) return;
  spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
  if (!fs.existsSync(stackJs)) throw new Error('the build failed');
}

export interface StackProcess {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
  ready: Promise<string>;
}

/** Starts `stack.js --quiet` with only PATH, HOME and `env`; `ready` resolves with its `ready …` line. */
export function runStack(env: Record<string, string>): StackProcess {
  // Its own process group, so that a failed test can still stop whatever it started.
  const child = spawn(process.execPath, [stackJs, '--quiet'], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = output.split('\n').find((l) => l.startsWith('ready '));
      if (line) {
        clearInterval(timer);
        resolve(line);
      }
    }, 50);
    void exit.then((code) => {
      clearInterval(timer);
      reject(new Error(`the stack exited with ${code}:\n${output}`));
    });
  });
  ready.catch(() => undefined);
  return { child, output: () => output, exit, ready };
}

/** SIGKILLs the stack's whole process group, if it still runs. */
export function killGroup(p: StackProcess | undefined): void {
  if (p?.child.pid && p.child.exitCode === null && p.child.signalCode === null) {
    try {
      process.kill(-p.child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
