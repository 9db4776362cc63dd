import { main, type CliIo } from '../../bin/adf-conductor';
import type { ExecutionView } from '../../src/cli/client';

/**
 * `adf-conductor watch` with everything in memory: a scripted server (one answer per poll), a clock that
 * moves only when the CLI sleeps, and a terminal that records lines (or, for the bars, raw writes).
 */

type Answer = Response | Error;
interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

function scriptedServer(answers: Array<Answer | (() => Answer)>) {
  const sent: Sent[] = [];
  let i = 0;
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    sent.push({ method: init?.method ?? 'GET', url: String(input), headers: { ...(init?.headers as Record<string, string>) }, ...(typeof init?.body === 'string' ? { body: init.body } : {}) });
    const next = answers[Math.min(i++, answers.length - 1)]!;
    const a = typeof next === 'function' ? next() : next;
    if (a instanceof Error) throw a;
    return a;
  };
  return { fetch: fetchFn, sent };
}

function fakeIo(fetchFn: typeof fetch, extra: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sleeps: number[] = [];
  let t = Date.parse('2026-01-01T00:00:00Z');
  const io: CliIo = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    readFile: () => {
      throw new Error('no files here');
    },
    fetch: fetchFn,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    now: () => t,
    isTTY: false,
    env: {},
    ...extra,
  };
  return { io, out, err, sleeps };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers } });
const problem = (status: number, code: string, detail: string, headers: Record<string, string> = {}) =>
  json(status, { type: 'about:blank', title: 'x', status, detail, code }, headers);
const refused = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7071'), { code: 'ECONNREFUSED' }) });

type W = { name: string; status: string; error?: { activity: string; code: string; message: string }; runId?: string };
function execution(status: string, stages: Array<[string, W[]]>, endedAt?: string): ExecutionView {
  return {
    executionId: 'ex-1',
    batch: 'daily',
    status,
    metadataVersion: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    ...(endedAt ? { endedAt } : {}),
    restarts: 0,
    stages: stages.map(([name, workers]) => ({
      name,
      status: stageStatus(workers.map((w) => w.status)),
      workers: workers.map((w) => ({ pipeline: `pl_${w.name}`, factory: 'adf', stage: name, ...w })),
    })),
  } as unknown as ExecutionView;
}

/** As the server derives it (src/core/orchestration/model.ts). */
function stageStatus(st: string[]): string {
  if (st.every((s) => s === 'Pending')) return 'Pending';
  if (st.some((s) => s === 'Pending' || s === 'Starting' || s === 'Running')) return 'Running';
  if (st.every((s) => s === 'Succeeded')) return 'Succeeded';
  if (st.every((s) => s === 'Blocked')) return 'Blocked';
  return 'Failed';
}

const copyError = { activity: 'Copy data', code: '2200', message: 'Source not found' };
const polls = {
  first: execution('Running', [
    ['extract', [{ name: 'sales', status: 'Running' }, { name: 'customers', status: 'Running' }, { name: 'bad', status: 'Starting' }]],
    ['load', [{ name: 'mart', status: 'Pending' }]],
  ]),
  failed: execution('Running', [
    ['extract', [{ name: 'sales', status: 'Succeeded' }, { name: 'customers', status: 'Running' }, { name: 'bad', status: 'Failed', error: copyError }]],
    ['load', [{ name: 'mart', status: 'Blocked' }]],
  ]),
  stopped: execution(
    'Stopped',
    [
      ['extract', [{ name: 'sales', status: 'Succeeded' }, { name: 'customers', status: 'Succeeded' }, { name: 'bad', status: 'Failed', error: copyError }]],
      ['load', [{ name: 'mart', status: 'Blocked' }]],
    ],
    '2026-01-01T00:00:07.000Z',
  ),
  succeeded: execution('Succeeded', [['extract', [{ name: 'sales', status: 'Succeeded' }]]], '2026-01-01T00:00:03.000Z'),
};

describe('adf-conductor watch, plain lines (no TTY)', () => {
  test('when an execution runs, fails a worker and ends Stopped, then it prints one line per change, the failure with its activity error, the outcome, and returns 1', async () => {
    const server = scriptedServer([json(200, polls.first), json(200, polls.failed), json(200, polls.failed), json(200, polls.stopped)]);
    const { io, out, err, sleeps } = fakeIo(server.fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(1);
    expect(out).toEqual([
      'execution ex-1 (batch daily): Running, 2 stages, 4 workers',
      'stage extract: 0/3 done (3 running) · running: sales, customers, bad',
      'stage extract: 2/3 done (1 running, 1 failed) · running: customers',
      'FAILED worker bad at "Copy data" [2200] Source not found',
      'stage load: 1/1 done (1 blocked)',
      // the third poll saw nothing new and printed nothing
      'stage extract: 3/3 done (1 failed)',
      'execution ex-1 Stopped after 7 s: 2 succeeded, 1 failed, 1 blocked',
    ]);
    expect(err).toEqual([]);
    expect(sleeps).toEqual([1000, 1000, 1000]);
    expect(server.sent.map((r) => `${r.method} ${r.url}`)).toEqual(Array(4).fill('GET http://127.0.0.1:7071/api/executions/ex-1'));
  });

  test('when the execution ends Succeeded, then the last line says so and it returns 0', async () => {
    const server = scriptedServer([json(200, polls.succeeded)]);
    const { io, out } = fakeIo(server.fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(0);
    expect(out).toEqual(['execution ex-1 (batch daily): Succeeded, 1 stage, 1 worker', 'stage extract: 1/1 done', 'execution ex-1 Succeeded after 3 s: 1 succeeded']);
  });

  test.each([
    ['Failed', 1],
    ['Cancelled', 1],
    ['Stopped', 1],
    ['Succeeded', 0],
  ])('when the execution ends %s, then it returns %i', async (status, code) => {
    const { io, out } = fakeIo(scriptedServer([json(200, execution(status, [['s', [{ name: 'w', status: 'Succeeded' }]]], '2026-01-01T00:00:01.000Z'))]).fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(code);
    expect(out.at(-1)).toMatch(new RegExp(`^execution ex-1 ${status} after 1 s`));
  });

  test('when a worker fails without an activity error, or is Cancelled or Unknown, then each gets its own line', async () => {
    const view = execution('Failed', [['s', [{ name: 'a', status: 'Failed', runId: 'run-9' }, { name: 'b', status: 'Cancelled' }, { name: 'c', status: 'Unknown' }]]], '2026-01-01T00:00:01.000Z');
    const { io, out } = fakeIo(scriptedServer([json(200, view)]).fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(1);
    expect(out).toContain('FAILED worker a (pipeline pl_a, run run-9)');
    expect(out).toContain('CANCELLED worker b');
    expect(out).toContain("UNKNOWN worker c: its run's outcome could not be read");
  });

  test('when an error message carries escape codes and line breaks, then it is printed on one clean line', async () => {
    const view = execution('Failed', [['s', [{ name: 'a', status: 'Failed', error: { activity: 'Copy', code: '1', message: 'bad\n\x1b[2Jrow\r\n 7' } }]]], '2026-01-01T00:00:01.000Z');
    const { io, out } = fakeIo(scriptedServer([json(200, view)]).fetch);

    await main(['watch', 'ex-1'], io);
    expect(out).toContain('FAILED worker a at "Copy" [1] bad [2Jrow 7');
  });

  test('when --interval is given, then it polls at that interval', async () => {
    const { io, sleeps } = fakeIo(scriptedServer([json(200, polls.first), json(200, polls.first), json(200, polls.succeeded)]).fetch);

    expect(await main(['watch', 'ex-1', '--interval', '0.25'], io)).toBe(0);
    expect(sleeps).toEqual([250, 250]);
  });

  test('when --interval is not a positive number of seconds, then it is a usage error (2) and nothing is sent', async () => {
    for (const bad of ['0', 'soon', '-1']) {
      const server = scriptedServer([json(200, polls.succeeded)]);
      const { io, err } = fakeIo(server.fetch);

      expect(await main(['watch', 'ex-1', '--interval', bad], io)).toBe(2);
      expect(err.join('\n')).toContain('must be a number of seconds');
      expect(server.sent).toEqual([]);
    }
  });
});

describe('adf-conductor watch: when it cannot tell, it returns 2', () => {
  test('when the server cannot be reached, then it says where and why on stderr and returns 2', async () => {
    const { io, out, err } = fakeIo(scriptedServer([refused()]).fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toBe('✖ cannot reach http://127.0.0.1:7071: connection refused (ECONNREFUSED)');
    expect(err[1]).toContain('npm start');
  });

  test('when the execution does not exist, then its problem is printed as code: detail and it returns 2', async () => {
    const { io, err } = fakeIo(scriptedServer([problem(404, 'ExecutionNotFound', "No execution 'ex-1'.")]).fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(2);
    expect(err).toEqual(["✖ ExecutionNotFound: No execution 'ex-1'."]);
  });

  test('when the key is refused (a bare 401 from the Functions host), then it says so without printing the key, and returns 2', async () => {
    const server = scriptedServer([new Response('', { status: 401, statusText: 'Unauthorized' })]);
    const { io, out, err } = fakeIo(server.fetch, { env: { ADF_CONDUCTOR_URL: 'https://conductor.example.net/api/', ADF_CONDUCTOR_KEY: 'k3y-s3cret' } });

    expect(await main(['watch', 'ex-1'], io)).toBe(2);
    expect(server.sent[0]).toMatchObject({ url: 'https://conductor.example.net/api/executions/ex-1', headers: { 'x-functions-key': 'k3y-s3cret' } });
    expect(err).toEqual(['✖ HTTP 401: the server refused the request (function key missing or wrong)', '  pass the function key with --key or ADF_CONDUCTOR_KEY']);
    expect([...out, ...err].join('\n')).not.toContain('k3y-s3cret');
  });

  test('when --url and --key are given, then they win over the environment', async () => {
    const server = scriptedServer([json(200, polls.succeeded)]);
    const { io } = fakeIo(server.fetch, { env: { ADF_CONDUCTOR_URL: 'http://env.example', ADF_CONDUCTOR_KEY: 'env-key' } });

    expect(await main(['watch', 'ex 1', '--url', 'http://flag.example:8080/', '--key', 'flag-key'], io)).toBe(0);
    expect(server.sent[0]).toMatchObject({ url: 'http://flag.example:8080/api/executions/ex%201', headers: { 'x-functions-key': 'flag-key', accept: 'application/json' } });
  });

  test('when --url is not an http(s) URL, then it is a usage error and nothing is sent', async () => {
    const server = scriptedServer([json(200, polls.succeeded)]);
    const { io, err } = fakeIo(server.fetch);

    expect(await main(['watch', 'ex-1', '--url', 'ftp://x'], io)).toBe(2);
    expect(err).toEqual(['✖ --url (or ADF_CONDUCTOR_URL) must be an http:// or https:// URL']);
    expect(server.sent).toEqual([]);
  });

  test('when the server goes away mid-watch and comes back, then it says so once, honours Retry-After, and still ends with the outcome', async () => {
    const server = scriptedServer([json(200, polls.first), refused(), problem(503, 'StorageUnavailable', 'Table Storage is unavailable; retry later.', { 'retry-after': '5' }), json(200, polls.stopped)]);
    const { io, out, err, sleeps } = fakeIo(server.fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(1);
    expect(err).toEqual(['… cannot reach http://127.0.0.1:7071: connection refused (ECONNREFUSED); retrying for up to 60 s', '… back in contact']);
    expect(sleeps).toEqual([1000, 1000, 5000]);
    expect(out.at(-1)).toBe('execution ex-1 Stopped after 7 s: 2 succeeded, 1 failed, 1 blocked');
  });

  test('when the server stays away mid-watch, then it gives up after the retry window and returns 2', async () => {
    const server = scriptedServer([json(200, polls.first), refused]);
    const { io, err } = fakeIo(server.fetch);

    expect(await main(['watch', 'ex-1'], io)).toBe(2);
    expect(err.slice(0, 3)).toEqual([
      '… cannot reach http://127.0.0.1:7071: connection refused (ECONNREFUSED); retrying for up to 60 s',
      '✖ gave up on execution ex-1 after 60 s without an answer; it may still be running',
      '✖ cannot reach http://127.0.0.1:7071: connection refused (ECONNREFUSED)',
    ]);
    expect(server.sent.length).toBe(62);
  });
});

describe('adf-conductor watch on a terminal: live bars', () => {
  /** A terminal that records what was written to it. */
  function terminal() {
    const writes: string[] = [];
    return { tty: { isTTY: true, columns: 120, write: (s: string) => writes.push(s) }, text: () => writes.join('') };
  }

  test('when stdout is a TTY, then it draws a bar per stage with the running workers, logs the failure above them, and prints the outcome last', async () => {
    const term = terminal();
    const { io, out } = fakeIo(scriptedServer([json(200, polls.first), json(200, polls.failed), json(200, polls.stopped)]).fetch, { isTTY: true, tty: term.tty });

    expect(await main(['watch', 'ex-1'], io)).toBe(1);
    const drawn = term.text();
    expect(drawn).toMatch(/ extract .* 0\/3 Running · running: sales, customers, bad/);
    expect(drawn).toMatch(/ load {4}.* 0\/1 Pending/);
    expect(drawn).toContain('FAILED worker bad at "Copy data" [2200] Source not found\n');
    expect(drawn).toMatch(/ extract .* 2\/3 Running · running: customers/);
    expect(drawn).toMatch(/ extract .* 3\/3 Failed · 1 failed/);
    expect(drawn).toMatch(/ load {4}.* 1\/1 Blocked · 1 blocked/);
    // Ctrl-C leaves the terminal as it was: line wrapping is never turned off, the cursor never hidden.
    expect(drawn).not.toContain('\x1b[?7l');
    expect(drawn).not.toContain('\x1b[?25l');
    // the failure scrolls above the bars once, not on every redraw
    expect(drawn.split('FAILED worker').length).toBe(2);
    expect(out).toEqual(['execution ex-1 (batch daily): Running, 2 stages, 4 workers', 'execution ex-1 Stopped after 7 s: 2 succeeded, 1 failed, 1 blocked']);
  });

  test('when the terminal is narrow, then each bar is cut to its width rather than wrapped (which would break the redraw)', async () => {
    const term = terminal();
    term.tty.columns = 40;
    const { io } = fakeIo(scriptedServer([json(200, polls.first), json(200, polls.stopped)]).fetch, { isTTY: true, tty: term.tty });

    expect(await main(['watch', 'ex-1'], io)).toBe(1);
    expect(term.text()).toContain(' extract ░░░░░░░░░░░░░░░░░░░░░░░░ 0/3 Ru\x1b[0K');
    expect(term.text()).not.toContain('0/3 Run');
  });

  test('when --plain is given on a TTY, then it prints plain lines and draws nothing', async () => {
    const term = terminal();
    const { io, out } = fakeIo(scriptedServer([json(200, polls.succeeded)]).fetch, { isTTY: true, tty: term.tty });

    expect(await main(['watch', 'ex-1', '--plain'], io)).toBe(0);
    expect(term.text()).toBe('');
    expect(out).toContain('stage extract: 1/1 done');
  });
});

describe('adf-conductor watch: workers on a shared limit', () => {
  it('when workers wait for a queue slot, then the stage line says how many', async () => {
    const { stageLine, stageProgress } = await import('../../src/cli/watch');
    const worker = (name: string, status: string) => ({ name, pipeline: 'p', factory: 'f', stage: 's', status });
    const line = stageLine(stageProgress({ name: 'crm', status: 'Running', workers: [worker('a', 'Running'), worker('b', 'Waiting'), worker('c', 'Waiting')] } as never));
    expect(line).toBe('stage crm: 0/3 done (1 running, 2 waiting for a queue) · running: a');
  });
});
