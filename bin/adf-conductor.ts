#!/usr/bin/env node
/**
 * adf-conductor: the operator's command line (`npm run conductor -- …` from a checkout; docs/cli.md).
 *
 *   adf-conductor validate <file> [--json]
 *   adf-conductor plan <file> [--batch <name>] [--stage <name>]… [--pipeline <name>]… [--param <name=value>]… [--json]
 *   adf-conductor apply <file>
 *   adf-conductor run <batch> [--wait]
 *   adf-conductor watch <executionId>
 *   adf-conductor queue <name>
 *   adf-conductor approve|reject <restartUrl>
 *
 * Exit codes: 0 done / valid / Succeeded; 1 invalid, Failed/Stopped/Cancelled, or refused by the server;
 * 2 usage error, unreadable file, or no usable answer from the server.
 * This file only wires commander to the commands in src/cli/.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { apply, decide, plan, queue, run, validate, watch } from '../src/cli/commands';
import { EXIT, processIo, type CliIo } from '../src/cli/io';
import { DEFAULT_INTERVAL_MS } from '../src/cli/watch';

export type { CliIo } from '../src/cli/io';
export { EXIT } from '../src/cli/io';

export const USAGE = [
  'usage: adf-conductor validate <file> [--json]',
  '       adf-conductor plan <file> [--batch <name>] [--stage <name>]… [--pipeline <name>]… [--param <name=value>]… [--json]',
  '       adf-conductor apply <file> [--url <url>] [--key <key>]',
  '       adf-conductor run <batch> [--wait] [--interval <seconds>] [--plain] [--url <url>] [--key <key>]',
  '       adf-conductor watch <executionId> [--interval <seconds>] [--plain] [--url <url>] [--key <key>]',
  '       adf-conductor queue <name> [--url <url>] [--key <key>]',
  '       adf-conductor approve <restartUrl> [--url <url>]',
  '       adf-conductor reject <restartUrl> [--url <url>]',
  '',
  '  validate   check an orchestration metadata file (YAML or JSON): schema and integrity, no server',
  '             --json: print {"valid": boolean, "errors": [{"path", "message"}]} instead of text',
  '  plan       what POST /api/executions {batch, dryRun: true} would answer, worked out here, no server:',
  '             stages in order, each worker\'s pipeline, factory and resolved parameters, what is skipped and why,',
  '             the shared limits; --batch omitted plans all stages; --stage/--pipeline (repeatable) narrow it;',
  '             --param name=value (repeatable; JSON when it parses) overrides the batch\'s parameters;',
  '             the default factory is $ADF_SUBSCRIPTION_ID, $ADF_RESOURCE_GROUP, $ADF_FACTORY_NAME;',
  '             --json: print the plan as the API answers it',
  '  apply      validate locally, then PUT it to /api/metadata and print the stored version',
  '  run        start (or resume) an execution of a batch; --wait watches it to its end',
  '  watch      follow an execution: a progress bar per stage on a terminal, plain lines otherwise',
  '             --interval: seconds between polls (default 1); --plain: plain lines on a terminal too',
  '  queue      a queue\'s running jobs, then its waiting jobs in start order',
  '  approve    approve a paused pipeline from its approval link (…/api/restart#token=…)',
  '  reject     reject it',
  '',
  '  --url      the app, e.g. https://my-app.azurewebsites.net (default $ADF_CONDUCTOR_URL, else http://127.0.0.1:7071)',
  '  --key      its function key, sent as x-functions-key (default $ADF_CONDUCTOR_KEY)',
  '',
  'exit codes: 0 valid / done / Succeeded; 1 invalid, Failed/Stopped/Cancelled, or refused by the server;',
  '            2 usage error, unreadable file, or no usable answer from the server',
].join('\n');

const COMMANDS = ['validate', 'plan', 'apply', 'run', 'watch', 'queue', 'approve', 'reject'];

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('must be a number of seconds from 0.1 to 3600');
  return n;
}

interface ServerFlags {
  url?: string;
  key?: string;
}
interface WatchFlags extends ServerFlags {
  interval?: number;
  plain?: boolean;
}

/** A repeatable option's values, in the order given. */
const collect = (value: string, previous: string[]) => [...previous, value];

interface PlanFlags {
  batch?: string;
  stage: string[];
  pipeline: string[];
  param: string[];
  json?: boolean;
}

const watchOptions = (o: WatchFlags) => ({ url: o.url, key: o.key, intervalMs: (o.interval ?? DEFAULT_INTERVAL_MS / 1000) * 1000, plain: o.plain === true });

export async function main(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('adf-conductor')
    .exitOverride()
    // Help goes to stdout as USAGE; commander's own error lines are replaced by ours below.
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: () => undefined })
    .configureHelp({ formatHelp: () => USAGE });
  const server = (c: Command) => c.option('--url <url>').option('--key <key>');
  const watching = (c: Command) => server(c).option('--interval <seconds>', 'seconds between polls', seconds).option('--plain');

  program
    .command('validate')
    .argument('<file>')
    .option('--json')
    .action((file: string, o: { json?: boolean }) => {
      exitCode = validate(file, o.json === true, io);
    });
  program
    .command('plan')
    .argument('<file>')
    .option('--batch <name>')
    .option('--stage <name>', 'repeatable', collect, [])
    .option('--pipeline <name>', 'repeatable', collect, [])
    .option('--param <name=value>', 'repeatable', collect, [])
    .option('--json')
    .action((file: string, o: PlanFlags) => {
      exitCode = plan(file, { batch: o.batch, stages: o.stage, pipelines: o.pipeline, params: o.param, json: o.json === true }, io);
    });
  server(program.command('apply').argument('<file>')).action(async (file: string, o: ServerFlags) => {
    exitCode = await apply(file, o, io);
  });
  watching(program.command('run').argument('<batch>').option('--wait')).action(async (batch: string, o: WatchFlags & { wait?: boolean }) => {
    exitCode = await run(batch, { ...watchOptions(o), wait: o.wait === true }, io);
  });
  watching(program.command('watch').argument('<executionId>')).action(async (id: string, o: WatchFlags) => {
    exitCode = await watch(id, watchOptions(o), io);
  });
  server(program.command('queue').argument('<name>')).action(async (name: string, o: ServerFlags) => {
    exitCode = await queue(name, o, io);
  });
  for (const decision of ['approve', 'reject'] as const) {
    server(program.command(decision).argument('<restartUrl>')).action(async (link: string, o: ServerFlags) => {
      exitCode = await decide(link, decision, o, io);
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.exitCode === 0) return EXIT.ok; // --help, -h, help
    io.err(usageError(e, argv));
    io.err(USAGE);
    return EXIT.usage;
  }
  return exitCode;
}

/** The one-line reason for a usage error, in the CLI's own words (never echoing an option's value). */
function usageError(e: CommanderError, argv: string[]): string {
  const [command, ...rest] = argv;
  if (command === undefined) return 'adf-conductor: missing command';
  if (!COMMANDS.includes(command)) return `adf-conductor: unknown command "${command.split('=')[0]}"`;
  switch (e.code) {
    case 'commander.unknownOption':
      return `adf-conductor ${command}: unknown option ${unknownOptions(e, rest)}`;
    case 'commander.missingArgument':
      return `adf-conductor ${command}: missing ${e.message.match(/'([^']+)'/)?.[1] ? `<${e.message.match(/'([^']+)'/)?.[1]}>` : 'argument'}`;
    case 'commander.excessArguments':
      return `adf-conductor ${command}: too many arguments`;
    case 'commander.optionMissingArgument':
      return `adf-conductor ${command}: ${e.message.replace(/^error: /, '')}`;
    default:
      return `adf-conductor ${command}: ${e.message.replace(/^error: /, '')}`;
  }
}

/** The unknown option's name as commander found it, without any `=value` (it could be a key). */
function unknownOptions(e: CommanderError, rest: string[]): string {
  const named = e.message.match(/'([^']+)'/)?.[1];
  return (named ?? rest.find((a) => a.startsWith('-')) ?? '').split('=')[0] ?? '';
}

if (require.main === module) {
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`✖ adf-conductor: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT.usage;
    },
  );
}
