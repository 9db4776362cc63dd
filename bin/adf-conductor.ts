#!/usr/bin/env node
/**
 * adf-conductor: command-line tools for adf-conductor (`npm run conductor -- …` from a checkout).
 *
 *   adf-conductor validate <file> [--json]
 *
 * `validate` runs exactly the checks `PUT /api/metadata` runs, without a server.
 * Exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file.
 */
import { readFileSync } from 'fs';
import { Command, CommanderError } from 'commander';
import { parseMetadataText } from '../src/http/metadata-text';

export interface CliIo {
  /** One line to standard output (no trailing newline). */
  out(s: string): void;
  /** One line to standard error (no trailing newline). */
  err(s: string): void;
  readFile(p: string): string;
}

export const USAGE = [
  'usage: adf-conductor validate <file> [--json]',
  '',
  '  validate   check an orchestration metadata file (YAML or JSON): schema and integrity',
  '  --json     print {"valid": boolean, "errors": [{"path", "message"}]} instead of text',
  '',
  'exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file',
].join('\n');

export const EXIT = { valid: 0, invalid: 1, usage: 2 } as const;

export function main(argv: string[], io: CliIo): number {
  let exitCode: number = EXIT.valid;
  const program = new Command('adf-conductor')
    .exitOverride()
    // Help goes to stdout as USAGE; commander's own error lines are replaced by ours below.
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: () => undefined })
    .configureHelp({ formatHelp: () => USAGE });
  program
    .command('validate')
    .argument('<file>')
    .option('--json')
    .action((file: string, options: { json?: boolean }) => {
      exitCode = validate(file, options.json === true, io);
    });

  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.exitCode === 0) return EXIT.valid; // --help, -h, help
    io.err(usageError(e, argv));
    io.err(USAGE);
    return EXIT.usage;
  }
  return exitCode;
}

/** The one-line reason for a usage error, in the CLI's own words. */
function usageError(e: CommanderError, argv: string[]): string {
  const [command, ...rest] = argv;
  if (command === undefined) return 'adf-conductor: missing command';
  if (command !== 'validate') return `adf-conductor: unknown command "${command}"`;
  switch (e.code) {
    case 'commander.unknownOption':
      return `adf-conductor validate: unknown option ${rest.filter((a) => a.startsWith('-') && a !== '--json').join(', ')}`;
    case 'commander.missingArgument':
      return 'adf-conductor validate: missing <file>';
    case 'commander.excessArguments':
      return 'adf-conductor validate: give exactly one <file>';
    default:
      return `adf-conductor validate: ${e.message.replace(/^error: /, '')}`;
  }
}

function validate(file: string, json: boolean, io: CliIo): number {
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
