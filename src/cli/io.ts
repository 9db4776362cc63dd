/**
 * Everything the CLI touches outside itself comes through `CliIo`, so tests run every command in memory:
 * the terminal, the file system, the network, the clock and the environment.
 */
import { readFileSync } from 'fs';

/** What a progress bar needs of a terminal stream (process.stdout is one). */
export interface TtyStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  /** One line to standard output (no trailing newline). */
  out(s: string): void;
  /** One line to standard error (no trailing newline). */
  err(s: string): void;
  readFile(p: string): string;
  /** HTTP; global `fetch` when absent. */
  fetch?: typeof fetch;
  /** Waits between polls; a timer when absent. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch; `Date.now` when absent. */
  now?: () => number;
  /** Whether standard output is a terminal (live progress bars); false when absent. */
  isTTY?: boolean;
  /** The terminal the progress bars redraw; only used when `isTTY`. */
  tty?: TtyStream;
  /** ADF_CONDUCTOR_URL and ADF_CONDUCTOR_KEY are read here; nothing when absent. */
  env?: Record<string, string | undefined>;
}

/** The exit codes every command shares, so a CI/CD step can gate on them. */
export const EXIT = {
  /** Done: valid, applied, started, Succeeded, decided. */
  ok: 0,
  /** The answer is no: invalid metadata, an execution that ended Failed/Stopped/Cancelled, a refused request. */
  failed: 1,
  /** Usage error, unreadable file, or no usable answer from the server (unreachable, key refused, not found). */
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The IO of a real process. */
export function processIo(): Required<CliIo> {
  return {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    readFile: (p) => readFileSync(p, 'utf8'),
    fetch: (input, init) => fetch(input, init),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
    isTTY: process.stdout.isTTY === true,
    tty: process.stdout,
    env: process.env,
  };
}
