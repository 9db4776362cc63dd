import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataFactoryManagementClient, ActivityRun, PipelineRun } from '@azure/arm-datafactory';
import { startFactoryEmulator, type FactoryEmulator } from '../../local/factory-emulator/emulator';
import { parseScenario, ScenarioInvalid, type Scenario } from '../../local/factory-emulator/scenario';
import { generateCertificate } from '../../local/tls';
import { emulatorClient } from '../support/emulator-client';

const SUB = '00000000-0000-0000-0000-000000000001';
const RG = 'rg-local';
const FACTORY = 'f-webhook';

// ---- the webhook's target: a plain http server on 127.0.0.1, like the app under test -------------------------

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

let received: Received[] = [];
let target: Server;
let targetUrl: string;
const hanging: ServerResponse[] = [];

function startTarget(): Promise<void> {
  target = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      if (req.url === '/hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(req.url === '/fail' ? 500 : 202).end();
    });
  });
  return new Promise((resolve) => {
    target.listen(0, '127.0.0.1', () => {
      targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
      resolve();
    });
  });
}

// ---- the emulator, through the real SDK ----------------------------------------------------------------------

let emulator: FactoryEmulator;
let adf: DataFactoryManagementClient;

const scenario = (): Scenario => ({
  pipelines: {
    wh_ok: {
      parameters: ['who'],
      webhook: {
        url: `${targetUrl}/hook?code=secret-key`,
        body: {
          runId: '@{pipeline().RunId}',
          who: '@pipeline().parameters.who',
          note: 'run @{pipeline().RunId} of @{pipeline().Pipeline} in @{pipeline().DataFactory}',
          literal: '@@home',
          nested: { list: ['@{pipeline().parameters.who}', 7, true] },
        },
        timeoutMs: 60_000,
      },
    },
    wh_named: { webhook: { url: `${targetUrl}/hook`, activity: 'Wait for approval' } },
    wh_timeout: { webhook: { url: `${targetUrl}/hook`, body: { runId: '@{pipeline().RunId}' }, timeoutMs: 300 } },
    wh_500: { webhook: { url: `${targetUrl}/fail`, body: { runId: '@{pipeline().RunId}' } } },
    wh_hang: { webhook: { url: `${targetUrl}/hang`, body: { runId: '@{pipeline().RunId}' } } },
    wh_badparam: { webhook: { url: `${targetUrl}/hook`, body: { x: '@pipeline().parameters.missing' } } },
    wk_ok: { durationMs: 30 },
  },
  unknownPipelines: 'notFound',
});

beforeAll(async () => {
  await startTarget();
  emulator = await startFactoryEmulator({ port: 0, scenario: scenario(), webhookResponseTimeoutMs: 300 });
  adf = emulatorClient(emulator, SUB);
});

afterAll(async () => {
  await emulator.close();
  for (const res of hanging) res.destroy();
  target.closeAllConnections();
  await new Promise<void>((resolve) => target.close(() => resolve()));
});

beforeEach(() => {
  received = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const start = async (pipeline: string, parameters?: Record<string, unknown>) =>
  (await adf.pipelines.createRun(RG, FACTORY, pipeline, { parameters })).runId;

const getRun = (runId: string) => adf.pipelineRuns.get(RG, FACTORY, runId);

const waitForStatus = (runId: string, done: (r: PipelineRun) => boolean) =>
  waitFor(`run ${runId}`, async () => {
    const run = await getRun(runId);
    return done(run) ? run : undefined;
  });

const isTerminal = (r: PipelineRun) => ['Succeeded', 'Failed', 'Cancelled'].includes(r.status ?? '');

/** The POST the target received for this run (the bodies carry the runId). */
const postFor = (runId: string) =>
  waitFor(`the webhook POST of ${runId}`, () => received.find((r) => r.body.runId === runId || String(r.body.callBackUri).endsWith(runId)));

async function activities(runId: string): Promise<ActivityRun[]> {
  const page = await adf.activityRuns.queryByPipelineRun(RG, FACTORY, runId, {
    lastUpdatedAfter: new Date(Date.now() - 3600_000),
    lastUpdatedBefore: new Date(Date.now() + 3600_000),
  });
  return page.value;
}

interface RawResponse {
  status: number;
  body: unknown;
}

/** A request to the emulator over HTTPS (its own CA), as the app's outbox would send a callback. */
function raw(method: string, url: string, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca: emulator.ca, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const callBack = (callBackUri: string, body?: unknown) =>
  raw('POST', callBackUri, body === undefined ? undefined : JSON.stringify(body));

const errorCode = (response: RawResponse) => (response.body as { error?: { code?: string } }).error?.code;

// ---------------------------------------------------------------------------------------------------------------

describe('factory emulator: the Webhook activity', () => {
  test('when a webhook run starts, then its url receives the body, expressions resolved, plus a callBackUri to the emulator', async () => {
    const runId = await start('wh_ok', { who: 'ana' });
    const post = await postFor(runId);

    expect(post.path).toBe('/hook?code=secret-key');
    expect(post.headers['content-type']).toMatch(/^application\/json/);
    expect(post.body).toEqual({
      runId,
      who: 'ana',
      note: `run ${runId} of wh_ok in ${FACTORY}`,
      literal: '@home',
      nested: { list: ['ana', 7, true] },
      callBackUri: `${emulator.url}/_emulator/callbacks/${runId}`,
    });

    // it waits for the callback, however long the POST took
    await sleep(150);
    const run = await getRun(runId);
    expect(run.status).toBe('InProgress');
    expect(run.runEnd).toBeUndefined();
    const [activity, ...others] = await activities(runId);
    expect(others).toEqual([]);
    expect(activity).toMatchObject({ activityName: 'Webhook', activityType: 'WebHook', status: 'InProgress' });
    // the activity's input shows the resolved body and the url without its query, never the callBackUri
    expect(activity?.input).toEqual({
      method: 'POST',
      url: `${targetUrl}/hook`,
      body: { runId, who: 'ana', note: `run ${runId} of wh_ok in ${FACTORY}`, literal: '@home', nested: { list: ['ana', 7, true] } },
      timeout: '00:01:00',
    });
  });

  test('when the callback reports success, then the run Succeeds and the Output is the activity output; a second callback is refused with 409', async () => {
    const runId = await start('wh_ok', { who: 'bo' });
    const { body } = await postFor(runId);
    const before = await getRun(runId);

    const first = await callBack(String(body.callBackUri), { Output: { rows: 42, files: ['a.csv'] }, StatusCode: '200' });
    expect(first).toEqual({ status: 200, body: { runId, status: 'Succeeded' } });

    const run = await getRun(runId);
    expect(run.status).toBe('Succeeded');
    expect(run.message).toBe('');
    expect(run.lastUpdated!.getTime()).toBeGreaterThanOrEqual(before.lastUpdated!.getTime());
    expect(run.lastUpdated?.getTime()).toBe(run.runEnd?.getTime());
    const [activity] = await activities(runId);
    expect(activity).toMatchObject({ activityName: 'Webhook', status: 'Succeeded', output: { rows: 42, files: ['a.csv'] } });
    expect(activity?.error).toMatchObject({ errorCode: '', message: '' });

    const second = await callBack(String(body.callBackUri), { StatusCode: '500', Error: { ErrorCode: 'Late', Message: 'too late' } });
    expect(second.status).toBe(409);
    expect(errorCode(second)).toBe('CallbackAlreadyReceived');
    const after = await getRun(runId);
    expect(after.status).toBe('Succeeded');
    expect(after.lastUpdated?.getTime()).toBe(run.lastUpdated?.getTime());
    expect((await activities(runId))[0]?.output).toEqual({ rows: 42, files: ['a.csv'] });
  });

  test('when the callback has StatusCode 400, then the run Fails with its Error as the activity error', async () => {
    const runId = await start('wh_named');
    const { body } = await postFor(runId);

    const response = await callBack(String(body.callBackUri), {
      Output: { checked: 3 },
      Error: { ErrorCode: 'E42', Message: 'downstream refused the batch' },
      StatusCode: 400,
    });
    expect(response).toEqual({ status: 200, body: { runId, status: 'Failed' } });

    const run = await getRun(runId);
    expect(run.status).toBe('Failed');
    expect(run.message).toBe('downstream refused the batch');
    const [activity] = await activities(runId);
    expect(activity).toMatchObject({
      activityName: 'Wait for approval',
      activityType: 'WebHook',
      status: 'Failed',
      output: { checked: 3 },
      error: { errorCode: 'E42', message: 'downstream refused the batch', failureType: 'UserError', target: 'Wait for approval' },
    });
  });

  test('when the callback has no StatusCode, or an empty body, then it counts as success; keys match in any case', async () => {
    const a = await start('wh_named');
    const b = await start('wh_named');
    const c = await start('wh_named');
    const [pa, pb, pc] = await Promise.all([postFor(a), postFor(b), postFor(c)]);

    expect((await callBack(String(pa.body.callBackUri), { Output: { ok: true } })).status).toBe(200);
    expect((await callBack(String(pb.body.callBackUri))).status).toBe(200);
    expect((await callBack(String(pc.body.callBackUri), { output: { n: 1 }, statusCode: '503', error: { errorCode: 'Busy', message: 'try later' } })).status).toBe(200);

    expect((await getRun(a)).status).toBe('Succeeded');
    expect((await activities(a))[0]?.output).toEqual({ ok: true });
    expect((await getRun(b)).status).toBe('Succeeded');
    expect((await activities(b))[0]?.output).toEqual({});
    const failed = await getRun(c);
    expect(failed.status).toBe('Failed');
    expect((await activities(c))[0]).toMatchObject({ status: 'Failed', output: { n: 1 }, error: { errorCode: 'Busy', message: 'try later' } });
  });

  test('when no callback arrives within timeoutMs, then the run Fails, the activity is TimedOut, and a late callback is refused', async () => {
    const runId = await start('wh_timeout');
    const { body } = await postFor(runId);
    expect((await getRun(runId)).status).toBe('InProgress');

    const run = await waitForStatus(runId, isTerminal);
    expect(run.status).toBe('Failed');
    expect(run.durationInMs).toBeGreaterThanOrEqual(300);
    expect(run.message).toBe("The webhook activity 'Webhook' timed out: no callback within 00:00:00.300.");
    const [activity] = await activities(runId);
    expect(activity).toMatchObject({ status: 'TimedOut', error: { errorCode: 'WebhookTimedOut', target: 'Webhook' } });

    const late = await callBack(String(body.callBackUri), { StatusCode: '200' });
    expect(late.status).toBe(409);
    expect(errorCode(late)).toBe('ActivityNotWaiting');
    expect((await getRun(runId)).status).toBe('Failed');
  });

  test('when the url answers 500, then the run Fails with ADF error 2108; when it does not answer in time, with 2128', async () => {
    const bad = await start('wh_500');
    const hang = await start('wh_hang');

    const failed = await waitForStatus(bad, isTerminal);
    expect(failed.status).toBe('Failed');
    expect(failed.message).toBe(`Error calling the endpoint '${targetUrl}/fail'. Response status code: '500'.`);
    expect((await activities(bad))[0]).toMatchObject({ status: 'Failed', error: { errorCode: '2108' } });

    const silent = await waitForStatus(hang, isTerminal);
    expect(silent.status).toBe('Failed');
    expect(silent.message).toMatch(/^No response from the endpoint\./);
    expect((await activities(hang))[0]).toMatchObject({ status: 'Failed', error: { errorCode: '2128' } });

    // the POST did reach the endpoint; its callback comes too late
    const { body } = await postFor(hang);
    expect((await callBack(String(body.callBackUri), {})).status).toBe(409);
  });

  test('when the body names a parameter the run does not have, then the activity fails with InvalidTemplate and nothing is POSTed', async () => {
    const runId = await start('wh_badparam');
    const run = await waitForStatus(runId, isTerminal);
    expect(run.status).toBe('Failed');
    expect(run.message).toContain("property 'missing' doesn't exist");
    expect((await activities(runId))[0]?.error).toMatchObject({ errorCode: 'InvalidTemplate' });
    await sleep(50);
    expect(received).toEqual([]);
  });

  test('when a waiting run is cancelled, then its callback is refused with 409', async () => {
    const runId = await start('wh_named');
    const { body } = await postFor(runId);
    await adf.pipelineRuns.cancel(RG, FACTORY, runId);
    const run = await waitForStatus(runId, isTerminal);
    expect(run.status).toBe('Cancelled');
    expect((await activities(runId))[0]?.status).toBe('Cancelled');
    const response = await callBack(String(body.callBackUri), {});
    expect(response.status).toBe(409);
    expect(errorCode(response)).toBe('ActivityNotWaiting');
  });

  test('when the url is https with its own CA, then the POST needs the scenario caFile to trust it', async () => {
    const tls = await generateCertificate();
    const dir = mkdtempSync(join(tmpdir(), 'emulator-webhook-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, tls.cert);
    const bodies: Record<string, unknown>[] = [];
    const secure = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    const secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/hook`;
    try {
      const base = scenario();
      emulator.setScenario({ ...base, pipelines: { ...base.pipelines,
        wh_tls: { webhook: { url: secureUrl, body: { runId: '@{pipeline().RunId}' }, caFile } },
        wh_tls_untrusted: { webhook: { url: secureUrl, body: { runId: '@{pipeline().RunId}' } } } } });

      const trusted = await start('wh_tls');
      const body = await waitFor('the https POST', () => bodies.find((b) => b.runId === trusted));
      expect((await callBack(String(body.callBackUri), { Output: { tls: true } })).status).toBe(200);
      expect((await getRun(trusted)).status).toBe('Succeeded');

      const untrusted = await start('wh_tls_untrusted');
      const failed = await waitForStatus(untrusted, isTerminal);
      expect(failed.status).toBe('Failed');
      expect((await activities(untrusted))[0]?.error).toMatchObject({ errorCode: '2128' });
      expect(bodies.filter((b) => b.runId === untrusted)).toEqual([]);
    } finally {
      emulator.setScenario(scenario());
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('when a callback names an unknown run or a run without a webhook, then 404; a malformed body is 400 and changes nothing', async () => {
    const unknown = await callBack(`${emulator.url}/_emulator/callbacks/00000000-0000-0000-0000-00000000dead`, {});
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe('PipelineRunNotFound');

    const plain = await start('wk_ok');
    const notWebhook = await callBack(`${emulator.url}/_emulator/callbacks/${plain}`, {});
    expect(notWebhook.status).toBe(404);
    expect(errorCode(notWebhook)).toBe('CallbackNotFound');

    const runId = await start('wh_named');
    const { body } = await postFor(runId);
    const uri = String(body.callBackUri);
    expect((await raw('POST', uri, '{not json')).status).toBe(400);
    expect((await callBack(uri, { StatusCode: 'teapot' })).status).toBe(400);
    expect((await callBack(uri, { Output: 'text' })).status).toBe(400);
    expect((await callBack(uri, [1, 2])).status).toBe(400);
    expect((await getRun(runId)).status).toBe('InProgress');
    expect((await callBack(uri, { StatusCode: 201 })).status).toBe(200);
    expect((await getRun(runId)).status).toBe('Succeeded');
  });

  test('when callbacks arrive, then GET /_emulator/callbacks lists them, and nothing but the POST body carries a callBackUri', async () => {
    const runId = await start('wh_ok', { who: 'cy' });
    const { body } = await postFor(runId);
    await callBack(String(body.callBackUri), { Output: { x: 1 }, Error: { ErrorCode: 'E1', Message: 'm' }, StatusCode: '418' });
    await callBack(String(body.callBackUri), { StatusCode: '200' });

    const listed = await raw('GET', `${emulator.url}/_emulator/callbacks?runId=${runId}`);
    expect(listed.status).toBe(200);
    const records = listed.body as Record<string, unknown>[];
    expect(records).toEqual([
      expect.objectContaining({ runId, pipelineName: 'wh_ok', factory: FACTORY, statusCode: 418, output: { x: 1 },
        error: { ErrorCode: 'E1', Message: 'm' }, accepted: true }),
      expect.objectContaining({ runId, statusCode: 200, output: {}, error: null, accepted: false, refusal: 'CallbackAlreadyReceived' }),
    ]);
    for (const r of records) expect(new Date(String(r.at)).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(emulator.callbacks(runId)).toEqual(records);

    const all = (await raw('GET', `${emulator.url}/_emulator/callbacks`)).body as { runId: string }[];
    expect(all.map((r) => r.runId)).toContain(runId);

    // the secret stays in the POST body: no inspection view, run or activity run shows it
    const views = JSON.stringify([all, emulator.runs(), await getRun(runId), await activities(runId)]);
    expect(views).not.toContain('/_emulator/callbacks/');
    expect(views).not.toContain('callBackUri');
    expect(views).not.toContain('secret-key');
  });
});

describe('factory emulator: webhook scenario validation', () => {
  const invalid = (webhook: unknown, extra: Record<string, unknown> = {}) => {
    try {
      parseScenario({ pipelines: { p: { webhook, ...extra } } });
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioInvalid);
      return (err as ScenarioInvalid).problems;
    }
    throw new Error('expected ScenarioInvalid');
  };

  test('when a webhook is well formed, then it is accepted', () => {
    expect(() => parseScenario({ pipelines: { p: { webhook: { url: 'https://example.test/x' } } } })).not.toThrow();
  });

  test('when a webhook is not valid, then every problem is listed with its path', () => {
    expect(invalid({ url: 'ftp://example.test/x' })).toEqual(['pipelines.p.webhook.url: must be an http or https URL']);
    expect(invalid({})).toEqual([expect.stringMatching(/^pipelines\.p\.webhook\.url: /)]);
    expect(invalid({ url: 'http://127.0.0.1/x', timeoutMs: 0 })).toEqual([expect.stringMatching(/^pipelines\.p\.webhook\.timeoutMs: /)]);
    expect(invalid({ url: 'http://127.0.0.1/x', timeoutMs: 8 * 24 * 3600_000 })).toHaveLength(1);
    expect(invalid({ url: 'http://127.0.0.1/x', headers: {} })).toEqual([expect.stringMatching(/^pipelines\.p\.webhook: /)]);
    expect(invalid({ url: 'http://127.0.0.1/x', body: { callBackUri: 'x' } })).toEqual([
      'pipelines.p.webhook.body.callBackUri: callBackUri is added by the emulator; the body must not set it',
    ]);
    expect(invalid({ url: 'http://127.0.0.1/x', body: { a: ['ok', '@{utcnow()}'] } })).toEqual([
      expect.stringMatching(/^pipelines\.p\.webhook\.body\.a\.1: unsupported expression 'utcnow\(\)'/),
    ]);
    expect(invalid({ url: 'https://x.test/', caFile: '/nonexistent/ca.pem' })).toEqual(['pipelines.p.webhook.caFile: is not a readable file']);
    expect(invalid({ url: 'http://127.0.0.1/x' }, { durationMs: 5, outcome: 'Failed' })).toEqual([
      'pipelines.p.durationMs: does not apply to a webhook pipeline: its callback (or its timeout) decides the outcome',
      'pipelines.p.outcome: does not apply to a webhook pipeline: its callback (or its timeout) decides the outcome',
    ]);
  });

  test('when a scenario with a bad webhook is posted to the emulator, then it answers 400 ScenarioInvalid', async () => {
    const response = await raw('POST', `${emulator.url}/_emulator/scenario`, JSON.stringify({ pipelines: { p: { webhook: { url: 'nope' } } } }));
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('ScenarioInvalid');
  });
});
