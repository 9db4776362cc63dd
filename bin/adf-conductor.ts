#!/usr/bin/env node
/**
 * conductor: command-line tools for adf-conductor.
 *
 *   conductor validate <file> [--json]
 *
 * `validate` runs exactly the checks `PUT /api/metadata` runs, without a server.
 * Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file.
 */
import { readFileSync } from 'fs';
import { parseMetadataText } from '../src/core/orchestration/metadata';

export interface CliIo {
  /** One line to standard output (no trailing newline). */
  out(s: string): void;
  /** One line to standard error (no trailing newline). */
  err(s: string): void;
  readFile(p: string): string;
}

export const USAGE = [
  'usage: conductor validate <file> [--json]',
  '',
  '  validate   check an orchestration metadata file (YAML or JSON): schema and integrity',
  '  --json     print {"valid": boolean, "errors": [{"path", "message"}]} instead of text',
  '',
  'exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file',
].join('\n');

export const EXIT = { valid: 0, invalid: 1, usage: 2 } as const;

export function main(argv: string[], io: CliIo): number {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return EXIT.valid;
  }
  if (command !== 'validate') {
    io.err(command === undefined ? 'conductor: missing command' : `conductor: unknown command "${command}"`);
    io.err(USAGE);
    return EXIT.usage;
  }
  const json = rest.includes('--json');
  const unknownFlags = rest.filter((a) => a.startsWith('-') && a !== '--json');
  const files = rest.filter((a) => !a.startsWith('-'));
  if (unknownFlags.length > 0 || files.length !== 1) {
    io.err(
      unknownFlags.length > 0
        ? `conductor validate: unknown option ${unknownFlags.join(', ')}`
        : files.length === 0
          ? 'conductor validate: missing <file>'
          : 'conductor validate: give exactly one <file>',
    );
    io.err(USAGE);
    return EXIT.usage;
  }
  const file = files[0]!;

  let text: string;
  try {
    text = io.readFile(file);
  } catch (e) {
    io.err(`✖ cannot read ${file}: ${describeReadError(e)}`);
    return EXIT.usage;
  }

  const result = parseMetadataText(text);
  if (json) {
    io.out(JSON.stringify({ valid: result.ok, errors: result.ok ? [] : result.errors }, null, 2));
    return result.ok ? EXIT.valid : EXIT.invalid;
  }
  if (result.ok) {
    const m = result.metadata;
    const workers = m.stages.reduce((n, s) => n + s.pipelines.length, 0);
    io.out(`✔ ${file} is valid: ${m.stages.length} stages, ${workers} workers, ${m.batches.length} batches`);
    return EXIT.valid;
  }
  io.out(`✖ ${file}: ${result.errors.length} problems`);
  for (const p of result.errors) io.out(`  ${p.path}: ${p.message}`);
  return EXIT.invalid;
}

function describeReadError(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e).code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), {
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    readFile: (p) => readFileSync(p, 'utf8'),
  });
}
