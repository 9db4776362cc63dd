/**
 * How the CLI words what went wrong. Problems print as `code: detail`, then each `path: message`, then the
 * Retry-After of a 503. Nothing here prints a key, a token, or a server's non-problem body.
 */
import { ApiProblem, DEFAULT_URL, Unreachable, UsageError } from './client';
import { EXIT, type CliIo, type ExitCode } from './io';

/** Lines for a problem+json answer. */
export function problemLines(p: ApiProblem): string[] {
  const lines = [`✖ ${oneLine(p.code)}: ${oneLine(p.detail)}`];
  for (const e of p.errors) lines.push(`  ${oneLine(e.path)}: ${oneLine(e.message)}`);
  if (p.retryAfter !== undefined) lines.push(`  retry after ${p.retryAfter} s`);
  if (p.status === 401 || p.status === 403) lines.push('  pass the function key with --key or ADF_CONDUCTOR_KEY');
  return lines;
}

/**
 * Prints any error a command let through and returns its exit code. A problem the server answered is exit 1
 * when `refused(p)` says the server said no to something well formed (an execution in progress, a decided
 * pause), and exit 2 otherwise: a key refused, something that is not there, an outage.
 */
export function reportError(e: unknown, io: CliIo, refused: (p: ApiProblem) => boolean = () => false): ExitCode {
  if (e instanceof UsageError) {
    io.err(`✖ ${e.message}`);
    return EXIT.usage;
  }
  if (e instanceof Unreachable) {
    io.err(`✖ ${e.message}`);
    if (e.origin === new URL(DEFAULT_URL).origin) io.err('  is the local stack running? (npm start) Otherwise pass --url or set ADF_CONDUCTOR_URL');
    return EXIT.usage;
  }
  if (e instanceof ApiProblem) {
    for (const line of problemLines(e)) io.err(line);
    return refused(e) ? EXIT.failed : EXIT.usage;
  }
  throw e;
}

/** Server text on one terminal line: no control characters (an error message could carry escape codes). */
export function oneLine(s: string | number | undefined | null): string {
  return String(s ?? '')
    .replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
