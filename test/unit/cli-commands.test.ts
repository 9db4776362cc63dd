import { readFileSync } from 'fs';
import { join } from 'path';
import { main } from '../../bin/adf-conductor';
import { parseRestartUrl } from '../../src/cli/commands';
import { fakeCliIo } from '../support/fake-cli-io';

/**
 * validate, apply, run, queue, approve and reject with everything in memory: files, a server that answers
 * by route and records what it was sent, and a terminal that records lines.
 */

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}
type Route = (req: Sent) => Response | Error;

function fakeServer(routes: Record<string, Route>) {
  const sent: Sent[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req: Sent = { method: init?.method ?? 'GET', url: String(input), headers: { ...(init?.headers as Record<string, string>) }, ...(typeof init?.body === 'string' ? { body: init.body } : {}) };
    sent.push(req);
    const route = routes[`${req.method} ${new URL(req.url).pathname}`];
    const a = route ? route(req) : new Response('no route', { status: 404 });
    if (a instanceof Error) throw a;
    return a;
  };
  return { fetch: fetchFn, sent };
}

function fakeIo(files: Record<string, string>, fetchFn: typeof fetch, env: Record<string, string> = {}) {
  let t = 0;
  return fakeCliIo(files, {
    fetch: fetchFn,
    sleep: async (ms) => {
      t += ms;
    },
    now: () => t,
    isTTY: false,
    env,
  });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers } });
const problem = (status: number, code: string, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  json(status, { type: 'about:blank', title: 'x', status, detail, code, ...extra }, headers);
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });

const examples = join(__dirname, '..', '..', 'examples');
const validYaml = readFileSync(join(examples, 'conductor.yaml'), 'utf8');
const selfDependent = ['stages:', '  - name: extract', '    pipelines:', '      - name: sales', '        dependsOn: [sales]', 'batches:', '  - name: daily', '    stages: [extract]', ''].join('\n');
const noServer = fakeServer({});

describe('adf-conductor validate: a self-dependency', () => {
  test('when a worker depends on itself, then validate names the worker and the path and returns 1', async () => {
    const { io, out } = fakeIo({ 'self.yaml': selfDependent }, noServer.fetch);

    expect(await main(['validate', 'self.yaml'], io)).toBe(1);
    expect(out).toContain('  stages[0].pipelines[0].dependsOn[0]: worker "sales" depends on itself');
    expect(out[0]).toMatch(/^✖ self\.yaml: \d+ problems$/);
  });
});

describe('adf-conductor apply', () => {
  const summary = { version: 7, updatedAt: '2026-01-01T00:00:00Z', stages: 4, workers: 10, batches: ['daily', 'weekly'], queues: ['imports'] };

  test('when the file is valid, then it PUTs the text as YAML with the key and prints the stored version', async () => {
    const server = fakeServer({ 'PUT /api/metadata': () => json(200, summary) });
    const { io, out, all } = fakeIo({ 'conductor.yaml': validYaml }, server.fetch, { ADF_CONDUCTOR_KEY: 'the-key' });

    expect(await main(['apply', 'conductor.yaml', '--url', 'https://app.example.net'], io)).toBe(0);
    expect(server.sent).toEqual([
      { method: 'PUT', url: 'https://app.example.net/api/metadata', headers: { accept: 'application/json', 'content-type': 'application/yaml', 'x-functions-key': 'the-key' }, body: validYaml },
    ]);
    expect(out).toEqual(['✔ applied conductor.yaml: version 7 (4 stages, 10 workers, batches daily, weekly, queues imports)']);
    expect(all()).not.toContain('the-key');
  });

  test('when the file is .json, then it is sent as application/json', async () => {
    const server = fakeServer({ 'PUT /api/metadata': () => json(200, { ...summary, queues: [] }) });
    const doc = JSON.stringify({ stages: [{ name: 's', pipelines: [{ name: 'w' }] }], batches: [{ name: 'b', stages: ['s'] }] });
    const { io } = fakeIo({ 'm.JSON': doc }, server.fetch);

    expect(await main(['apply', 'm.JSON'], io)).toBe(0);
    expect(server.sent[0]?.headers['content-type']).toBe('application/json');
    expect(server.sent[0]?.url).toBe('http://127.0.0.1:7071/api/metadata');
  });

  test('when the file is invalid, then it lists the problems, sends nothing and returns 1', async () => {
    const server = fakeServer({ 'PUT /api/metadata': () => json(200, summary) });
    const { io, out } = fakeIo({ 'self.yaml': selfDependent }, server.fetch);

    expect(await main(['apply', 'self.yaml'], io)).toBe(1);
    expect(server.sent).toEqual([]);
    expect(out[0]).toMatch(/problems; nothing was sent$/);
    expect(out).toContain('  stages[0].pipelines[0].dependsOn[0]: worker "sales" depends on itself');
  });

  test('when the server answers 422, then its code, detail and every error path are printed and it returns 1', async () => {
    const errors = [
      { path: 'stages[0].pipelines[0].factory', message: 'no factory "finance"' },
      { path: 'queues[0].capacity', message: 'must be at most 50' },
    ];
    const server = fakeServer({ 'PUT /api/metadata': () => problem(422, 'MetadataInvalid', 'The metadata has 2 problem(s); nothing was stored.', { errors }) });
    const { io, err } = fakeIo({ 'conductor.yaml': validYaml }, server.fetch);

    expect(await main(['apply', 'conductor.yaml'], io)).toBe(1);
    expect(err).toEqual([
      '✖ MetadataInvalid: The metadata has 2 problem(s); nothing was stored.',
      '  stages[0].pipelines[0].factory: no factory "finance"',
      '  queues[0].capacity: must be at most 50',
    ]);
  });

  test('when the server is throttled (503), then the Retry-After is printed and it returns 2', async () => {
    const server = fakeServer({ 'PUT /api/metadata': () => problem(503, 'StorageUnavailable', 'Table Storage is unavailable; retry later.', {}, { 'retry-after': '12' }) });
    const { io, err } = fakeIo({ 'conductor.yaml': validYaml }, server.fetch);

    expect(await main(['apply', 'conductor.yaml'], io)).toBe(2);
    expect(err).toEqual(['✖ StorageUnavailable: Table Storage is unavailable; retry later.', '  retry after 12 s']);
  });

  test('when the file is missing or the server unreachable, then it returns 2', async () => {
    const a = fakeIo({}, noServer.fetch);
    expect(await main(['apply', 'nope.yaml'], a.io)).toBe(2);
    expect(a.err).toEqual(['✖ cannot read nope.yaml: no such file']);

    const b = fakeIo({ 'c.yaml': validYaml }, fakeServer({ 'PUT /api/metadata': refused }).fetch, { ADF_CONDUCTOR_URL: 'http://10.0.0.9:7071' });
    expect(await main(['apply', 'c.yaml'], b.io)).toBe(2);
    expect(b.err).toEqual(['✖ cannot reach http://10.0.0.9:7071: connection refused (ECONNREFUSED)']);
  });
});

describe('adf-conductor run', () => {
  test('when a new execution starts (202), then it POSTs {batch} and prints its id', async () => {
    const server = fakeServer({ 'POST /api/executions': () => json(202, { executionId: 'ex-9', status: 'Running' }) });
    const { io, out } = fakeIo({}, server.fetch);

    expect(await main(['run', 'daily'], io)).toBe(0);
    expect(server.sent[0]).toMatchObject({ method: 'POST', url: 'http://127.0.0.1:7071/api/executions', body: '{"batch":"daily"}', headers: { 'content-type': 'application/json' } });
    expect(out).toEqual(['started execution ex-9 (batch daily): Running']);
  });

  test('when the last execution is resumed (200 resumed), then it says resumed', async () => {
    const { io, out } = fakeIo({}, fakeServer({ 'POST /api/executions': () => json(200, { executionId: 'ex-8', status: 'Running', resumed: true }) }).fetch);

    expect(await main(['run', 'daily'], io)).toBe(0);
    expect(out).toEqual(['resumed execution ex-8 (batch daily): Running']);
  });

  test('when an execution of the batch is still running (409) or the batch is unknown (404), then the problem is printed and it returns 1', async () => {
    for (const answer of [problem(409, 'ExecutionInProgress', "Execution ex-7 of batch 'daily' is still running."), problem(404, 'BatchNotFound', "Batch 'daily' is not in the metadata (version 3).")]) {
      const { io, err } = fakeIo({}, fakeServer({ 'POST /api/executions': () => answer }).fetch);

      expect(await main(['run', 'daily'], io)).toBe(1);
      expect(err[0]).toMatch(/^✖ (ExecutionInProgress|BatchNotFound): /);
    }
  });

  test('when --wait is given, then it watches the execution it started and returns its outcome', async () => {
    const view = (status: string, w: string) => ({
      executionId: 'ex-9',
      batch: 'daily',
      status,
      metadataVersion: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      ...(status === 'Running' ? {} : { endedAt: '2026-01-01T00:00:02.000Z' }),
      restarts: 0,
      stages: [{ name: 'extract', status: w, workers: [{ name: 'sales', pipeline: 'pl', factory: 'f', stage: 'extract', status: w }] }],
    });
    let polls = 0;
    const server = fakeServer({
      'POST /api/executions': () => json(202, { executionId: 'ex-9', status: 'Running' }),
      'GET /api/executions/ex-9': () => json(200, ++polls < 2 ? view('Running', 'Running') : view('Succeeded', 'Succeeded')),
    });
    const { io, out } = fakeIo({}, server.fetch);

    expect(await main(['run', 'daily', '--wait'], io)).toBe(0);
    expect(out).toEqual([
      'started execution ex-9 (batch daily): Running',
      'execution ex-9 (batch daily): Running, 1 stage, 1 worker',
      'stage extract: 0/1 done (1 running) · running: sales',
      'stage extract: 1/1 done',
      'execution ex-9 Succeeded after 2 s: 1 succeeded',
    ]);
  });
});

describe('adf-conductor queue', () => {
  test('when the queue has running and waiting jobs, then it prints the running ones, then the waiting ones in start order', async () => {
    const job = (jobId: string, status: string, extra: Record<string, unknown> = {}) => ({ jobId, queue: 'imports', pipeline: `pl_${jobId}`, parameters: {}, status, enqueuedAt: `2026-01-01T00:00:0${jobId.slice(-1)}Z`, ...extra });
    const server = fakeServer({
      'GET /api/queues/imports': () =>
        json(200, {
          name: 'imports',
          capacity: 1,
          running: [job('j1', 'RUNNING', { startedAt: '2026-01-01T00:01:00Z', runId: 'run-1' })],
          waiting: [job('j2', 'PENDING', { position: 1 }), job('j3', 'PENDING', { position: 2 })],
        }),
    });
    const { io, out } = fakeIo({}, server.fetch);

    expect(await main(['queue', 'imports'], io)).toBe(0);
    expect(out).toEqual([
      'queue imports (capacity 1): 1 running, 2 waiting',
      'running:',
      '  j1 pl_j1 RUNNING since 2026-01-01T00:01:00Z run run-1',
      'waiting:',
      '  1. j2 pl_j2 PENDING enqueued 2026-01-01T00:00:02Z',
      '  2. j3 pl_j3 PENDING enqueued 2026-01-01T00:00:03Z',
    ]);
  });

  test('when the queue is unknown, then QueueNotFound is printed and it returns 2', async () => {
    const { io, err } = fakeIo({}, fakeServer({ 'GET /api/queues/nope': () => problem(404, 'QueueNotFound', "No queue 'nope' is declared in the metadata.") }).fetch);

    expect(await main(['queue', 'nope'], io)).toBe(2);
    expect(err).toEqual(["✖ QueueNotFound: No queue 'nope' is declared in the metadata."]);
  });
});

describe('adf-conductor approve / reject', () => {
  const token = 'tok_' + 'A'.repeat(82);
  const link = `https://conductor.example.net/api/restart#token=${token}`;
  const pause = { pauseId: 'p-1', status: 'Approved', decision: 'approve', runId: 'run-5', continuation: { pipeline: 'pl_continue' }, data: null, createdAt: 'x', expiresAt: 'y' };

  test('when the link is approved, then it POSTs {token, decision} as JSON to the link server, prints the outcome, and never the token', async () => {
    const server = fakeServer({ 'POST /api/restart': () => json(200, pause) });
    const { io, out, all } = fakeIo({}, server.fetch, { ADF_CONDUCTOR_URL: 'http://elsewhere:7071' });

    expect(await main(['approve', link], io)).toBe(0);
    expect(server.sent).toEqual([
      { method: 'POST', url: 'https://conductor.example.net/api/restart', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify({ token, decision: 'approve' }) },
    ]);
    expect(out).toEqual(['✔ pause p-1 Approved: pl_continue started, run run-5']);
    expect(all()).not.toContain(token);
  });

  test('when the link is rejected, then the decision is reject', async () => {
    const server = fakeServer({ 'POST /api/restart': () => json(200, { ...pause, status: 'Rejected', decision: 'reject', runId: undefined }) });
    const { io, out } = fakeIo({}, server.fetch);

    expect(await main(['reject', link], io)).toBe(0);
    expect(JSON.parse(server.sent[0]!.body!)).toEqual({ token, decision: 'reject' });
    expect(out).toEqual(['✔ pause p-1 Rejected']);
  });

  test('when --url is given, then it replaces the link server (the same path)', async () => {
    const server = fakeServer({ 'POST /api/restart': () => json(200, pause) });
    const { io } = fakeIo({}, server.fetch);

    expect(await main(['approve', link, '--url', 'http://10.1.2.3:7071/'], io)).toBe(0);
    expect(server.sent[0]?.url).toBe('http://10.1.2.3:7071/api/restart');
  });

  test.each([
    [409, 'AlreadyDecided', 'This pause was already approved at 2026-01-01T00:00:00Z.'],
    [410, 'TokenExpired', 'This approval link expired at 2026-01-01T00:00:00Z.'],
    [404, 'TokenNotFound', 'This approval link is not valid.'],
  ])('when the server answers %i %s, then it prints code: detail and returns 1, without the token', async (status, code, detail) => {
    const { io, err, all } = fakeIo({}, fakeServer({ 'POST /api/restart': () => problem(status, code, detail) }).fetch);

    expect(await main(['approve', link], io)).toBe(1);
    expect(err).toEqual([`✖ ${code}: ${detail}`]);
    expect(all()).not.toContain(token);
  });

  test('when the link is not an approval link, has no token, or the server is unreachable, then it returns 2 without printing the token', async () => {
    for (const [arg, expected] of [
      ['not a url', 'the approval link must be a URL like https://…/api/restart#token=…'],
      ['https://conductor.example.net/api/restart', 'the approval link has no token (expected …/api/restart#token=…)'],
      [`https://conductor.example.net/api/dashboard#token=${token}`, 'the approval link must be a URL like https://…/api/restart#token=…'],
    ]) {
      const server = fakeServer({ 'POST /api/restart': () => json(200, pause) });
      const { io, err, all } = fakeIo({}, server.fetch);

      expect(await main(['approve', arg!], io)).toBe(2);
      expect(err).toEqual([`✖ ${expected}`]);
      expect(server.sent).toEqual([]);
      expect(all()).not.toContain(token);
    }
    const { io, err, all } = fakeIo({}, fakeServer({ 'POST /api/restart': refused }).fetch);
    expect(await main(['approve', link], io)).toBe(2);
    expect(err).toEqual(['✖ cannot reach https://conductor.example.net: connection refused (ECONNREFUSED)']);
    expect(all()).not.toContain(token);
  });

  test('when a route answers a bare 404 (not our API), then it is a usage/connection error (2), not a refusal', async () => {
    const { io } = fakeIo({}, fakeServer({}).fetch);
    expect(await main(['approve', link], io)).toBe(2);
  });

  test('when the link is legacy (?token=) or percent-encoded by a mail gateway, then the token is still found', () => {
    expect(parseRestartUrl(`http://h:7071/api/restart?token=${token}`)).toEqual({ endpoint: 'http://h:7071/api/restart', token });
    expect(parseRestartUrl(encodeURIComponent(link))).toEqual({ endpoint: 'https://conductor.example.net/api/restart', token });
    expect(parseRestartUrl(`  ${link}\n`)).toEqual({ endpoint: 'https://conductor.example.net/api/restart', token });
  });
});

describe('adf-conductor usage', () => {
  test('when a server command misses its argument or gets an unknown option, then usage goes to stderr and it returns 2, never echoing an option value', async () => {
    for (const argv of [['watch'], ['run'], ['queue'], ['approve'], ['apply'], ['watch', 'x', '--kee=s3cret'], ['watch', 'x', 'y']]) {
      const server = fakeServer({});
      const { io, err, out } = fakeIo({}, server.fetch);

      expect(await main(argv, io)).toBe(2);
      expect(err.join('\n')).toContain('usage: adf-conductor validate <file> [--json]');
      expect(err.join('\n')).toContain('adf-conductor watch <executionId>');
      expect([...out, ...err].join('\n')).not.toContain('s3cret');
      expect(server.sent).toEqual([]);
    }
  });

  test('when help is asked for a command, then the usage goes to stdout and it returns 0', async () => {
    const { io, out } = fakeIo({}, noServer.fetch);

    expect(await main(['watch', '--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('exit codes: 0 valid / done / Succeeded');
  });
});
