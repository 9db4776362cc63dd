/**
 * The CLI's commands, one function each: they take what commander parsed and the IO, print, and return the
 * exit code. `bin/adf-conductor.ts` only wires them to commander.
 */
import { extname } from 'path';
import { DomainError } from '../core/errors';
import { planExecution } from '../core/orchestration/plan';
import { parseMetadataText } from '../http/metadata-text';
import { toPlanView } from '../http/views/plan';
import { ConductorClient, UsageError, resolveServer, type ApiProblem, type JobView, type ServerOptions } from './client';
import { EXIT, type CliIo, type ExitCode } from './io';
import { ParamError, defaultFactoryFrom, parseParams, planLines } from './plan';
import { oneLine, reportError } from './report';
import { watchExecution, type WatchOptions } from './watch';

export function clientFor(opts: ServerOptions, io: CliIo): ConductorClient {
  return new ConductorClient(resolveServer(opts, io.env ?? {}), io.fetch ?? ((input, init) => fetch(input, init)));
}

/** Reads a file, or says why not on stderr. */
function read(file: string, io: CliIo): string | undefined {
  try {
    return io.readFile(file);
  } catch (e) {
    io.err(`✖ cannot read ${file}: ${describeReadError(e)}`);
    return undefined;
  }
}

function describeReadError(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES') return 'permission denied';
  return e instanceof Error ? e.message : String(e);
}

/** `validate <file> [--json]`: exactly the checks `PUT /api/metadata` runs, without a server. */
export function validate(file: string, json: boolean, io: CliIo): ExitCode {
  const text = read(file, io);
  if (text === undefined) return EXIT.usage;
  const result = parseMetadataText(text);
  if (json) {
    io.out(JSON.stringify({ valid: result.ok, errors: result.ok ? [] : result.errors }, null, 2));
    return result.ok ? EXIT.ok : EXIT.failed;
  }
  if (result.ok) {
    const m = result.metadata;
    const workers = m.stages.reduce((n, s) => n + s.pipelines.length, 0);
    io.out(`✔ ${file} is valid: ${m.stages.length} stages, ${workers} workers, ${m.batches.length} batches`);
    return EXIT.ok;
  }
  io.out(`✖ ${file}: ${result.errors.length} problems`);
  for (const p of result.errors) io.out(`  ${p.path}: ${p.message}`);
  return EXIT.failed;
}

export interface PlanOptions {
  batch?: string;
  stages?: string[];
  pipelines?: string[];
  /** Raw `--param name=value` arguments. */
  params?: string[];
  json?: boolean;
}

/**
 * `plan <file> [--batch <name>]`: what `POST /api/executions {batch, dryRun: true}` would answer, without a
 * server: the same planExecution on the file's metadata, with the execution id `(dry run)` and the default
 * factory from the app's settings in the environment. The plan goes to stdout; every refusal to stderr.
 */
export function plan(file: string, opts: PlanOptions, io: CliIo): ExitCode {
  let parameters: Record<string, unknown> | undefined;
  try {
    parameters = opts.params?.length ? parseParams(opts.params) : undefined;
  } catch (e) {
    if (!(e instanceof ParamError)) throw e;
    io.err(`✖ adf-conductor plan: ${e.message}`);
    return EXIT.usage;
  }
  const text = read(file, io);
  if (text === undefined) return EXIT.usage;
  const parsed = parseMetadataText(text);
  if (!parsed.ok) {
    io.err(`✖ ${file}: ${parsed.errors.length} problems`);
    for (const p of parsed.errors) io.err(`  ${p.path}: ${p.message}`);
    return EXIT.failed;
  }
  const input = {
    ...(opts.batch !== undefined ? { batch: opts.batch } : {}),
    ...(opts.stages?.length ? { stages: opts.stages } : {}),
    ...(opts.pipelines?.length ? { pipelines: opts.pipelines } : {}),
    ...(parameters ? { parameters } : {}),
  };
  const ctx = { executionId: '(dry run)', startedAt: new Date((io.now ?? Date.now)()).toISOString(), defaultFactory: defaultFactoryFrom(io.env ?? {}) };
  let planned: ReturnType<typeof planExecution>;
  try {
    planned = planExecution(parsed.metadata, input, ctx);
  } catch (e) {
    // Unknown stages or pipelines in the filter, nothing selected, a missing execution parameter.
    if (!(e instanceof DomainError)) throw e;
    io.err(`✖ ${e.code}: ${oneLine(e.message)}`);
    for (const p of e.errors ?? []) io.err(`  ${oneLine(p.path)}: ${oneLine(p.message)}`);
    return EXIT.failed;
  }
  if (!planned) {
    io.err(`✖ no batch '${oneLine(opts.batch)}' in ${file}`);
    return EXIT.failed;
  }
  const view = toPlanView(planned);
  if (opts.json) io.out(JSON.stringify(view, null, 2));
  else for (const line of planLines(view, file)) io.out(line);
  return EXIT.ok;
}

/** `apply <file>`: validate here first (nothing is sent when it fails), then PUT /api/metadata. */
export async function apply(file: string, opts: ServerOptions, io: CliIo): Promise<ExitCode> {
  const text = read(file, io);
  if (text === undefined) return EXIT.usage;
  const local = parseMetadataText(text);
  if (!local.ok) {
    io.out(`✖ ${file}: ${local.errors.length} problems; nothing was sent`);
    for (const p of local.errors) io.out(`  ${p.path}: ${p.message}`);
    return EXIT.failed;
  }
  try {
    const client = clientFor(opts, io);
    const contentType = extname(file).toLowerCase() === '.json' ? 'application/json' : 'application/yaml';
    const { body: s } = await client.putMetadata(text, contentType);
    const queues = s.queues.length ? `, queues ${s.queues.map(oneLine).join(', ')}` : '';
    io.out(`✔ applied ${file}: version ${s.version} (${s.stages} stages, ${s.workers} workers, batches ${s.batches.map(oneLine).join(', ') || 'none'}${queues})`);
    return EXIT.ok;
  } catch (e) {
    // The server's integrity checks said no: the same answer as a local validation failure.
    return reportError(e, io, (p) => p.status === 422 && ours(p));
  }
}

export interface RunOptions extends ServerOptions, WatchOptions {
  wait?: boolean;
}

/** `run <batch> [--wait]`: POST /api/executions; with --wait, watch it to its end. */
export async function run(batch: string, opts: RunOptions, io: CliIo): Promise<ExitCode> {
  let client: ConductorClient;
  let executionId: string;
  try {
    client = clientFor(opts, io);
    const { body } = await client.startExecution(batch);
    executionId = body.executionId;
    io.out(body.resumed ? `resumed execution ${executionId} (batch ${oneLine(batch)}): ${body.status}` : `started execution ${executionId} (batch ${oneLine(batch)}): ${body.status}`);
  } catch (e) {
    // 409 ExecutionInProgress and 404 BatchNotFound are the server saying no to a well-formed request.
    return reportError(e, io, (p) => [400, 404, 409, 422].includes(p.status) && ours(p));
  }
  if (!opts.wait) return EXIT.ok;
  return watchExecution(client, executionId, io, opts);
}

/** `watch <executionId>`. */
export async function watch(executionId: string, opts: ServerOptions & WatchOptions, io: CliIo): Promise<ExitCode> {
  let client: ConductorClient;
  try {
    client = clientFor(opts, io);
  } catch (e) {
    return reportError(e, io);
  }
  return watchExecution(client, executionId, io, opts);
}

/** `queue <name>`: its running jobs, then its waiting jobs in the order they will start. */
export async function queue(name: string, opts: ServerOptions, io: CliIo): Promise<ExitCode> {
  try {
    const { body: q } = await clientFor(opts, io).getQueue(name);
    io.out(`queue ${oneLine(q.name)} (capacity ${q.capacity}): ${q.running.length} running, ${q.waiting.length} waiting`);
    if (q.running.length) io.out('running:');
    for (const j of q.running) io.out(`  ${jobLine(j)}${j.startedAt ? ` since ${j.startedAt}` : ''}${j.runId ? ` run ${j.runId}` : ''}`);
    if (q.waiting.length) io.out('waiting:');
    q.waiting.forEach((j, i) => io.out(`  ${j.position ?? i + 1}. ${jobLine(j)} enqueued ${j.enqueuedAt}`));
    return EXIT.ok;
  } catch (e) {
    return reportError(e, io);
  }
}

const jobLine = (j: JobView) => `${j.jobId} ${oneLine(j.pipeline)} ${j.status}`;

/**
 * Where an approval link POSTs, and its token. The link is `{base}/api/restart#token=…` (the token in the
 * fragment, which browsers never send); older links carry `?token=…`. A mail gateway may have percent-encoded
 * the whole link. The token is never part of an error message.
 */
export function parseRestartUrl(link: string): { endpoint: string; token: string } {
  const decoded = /^https?%3A/i.test(link.trim()) ? safeDecode(link.trim()) : link.trim();
  let u: URL;
  try {
    u = new URL(decoded);
  } catch {
    throw new UsageError('the approval link must be a URL like https://…/api/restart#token=…');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !/\/api\/restart\/?$/.test(u.pathname)) {
    throw new UsageError('the approval link must be a URL like https://…/api/restart#token=…');
  }
  const token = new URLSearchParams(u.hash.replace(/^#/, '')).get('token') ?? u.searchParams.get('token');
  if (!token) throw new UsageError('the approval link has no token (expected …/api/restart#token=…)');
  return { endpoint: `${u.origin}${u.pathname}`, token };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * `approve|reject <restartUrl>`: POST {token, decision} to the link's own server (anonymous; `--url` replaces
 * the link's origin, e.g. to reach the app on an internal address). 0 decided, 1 refused (404 unknown link,
 * 409 already decided, 410 expired), 2 usage or connection error.
 */
export async function decide(link: string, decision: 'approve' | 'reject', opts: ServerOptions, io: CliIo): Promise<ExitCode> {
  try {
    const { endpoint: own, token } = parseRestartUrl(link);
    const client = clientFor(opts, io);
    const endpoint = opts.url ? `${client.server.base}/api/restart` : own;
    const { body: p } = await client.decide(endpoint, token, decision);
    const pipeline = p.decision === 'reject' ? p.onReject?.pipeline : p.continuation?.pipeline;
    const run = p.runId ? `: ${pipeline ? oneLine(pipeline) : 'its pipeline'} started, run ${p.runId}` : '';
    io.out(`✔ pause ${p.pauseId} ${p.status}${run}`);
    return EXIT.ok;
  } catch (e) {
    // 404 TokenNotFound, 409 AlreadyDecided, 410 TokenExpired: the server said no to this link.
    return reportError(e, io, (p) => [404, 409, 410].includes(p.status) && ours(p));
  }
}

/** A problem+json our API wrote (not a proxy's bare 404 for a wrong URL). */
const ours = (p: ApiProblem) => !p.code.startsWith('HTTP ');
