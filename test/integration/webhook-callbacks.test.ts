import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, sweepUntil, type TestStack } from '../support/test-stack';
import { declareQueues, enqueue } from './queues.support';

/** A Webhook activity's receiver: records every callback POST; `failFirst` answers 503 that many times first. */
async function startReceiver() {
  const received: Array<{ path: string; body: any }> = [];
  let failFirst = 0;
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      if (failFirst > 0) {
        failFirst--;
        res.writeHead(503).end();
        return;
      }
      received.push({ path: req.url ?? '', body: JSON.parse(text) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    uri: (name: string) => `${base}/cb/${name}?sig=${'s'.repeat(20)}${name}`,
    of: (name: string) => received.filter((r) => r.path.startsWith(`/cb/${name}?`)),
    received,
    failNext: (n: number) => (failFirst = n),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const scenario: Scenario = {
  pipelines: {
    wk_ok: { durationMs: 150 },
    wk_bad: { durationMs: 150, outcome: 'Failed', error: { activity: 'Copy data', code: '2200', message: 'Source not found' } },
    wk_manual: { durationMs: null },
  },
  unknownPipelines: 'notFound',
};

describe('Webhook waits: callBackUri on pauses, executions, queue jobs and runs, delivered once', () => {
  let stack: TestStack;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    stack = await startTestStack({ scenario, env: { OUTBOX_RETRY_SECONDS: '1' } });
    rx = await startReceiver();
  });
  afterAll(async () => {
    await stack.close();
    await rx.close();
  });

  it('when a pause waits in place (no continuation), then approve calls back 200 with its data, reject 409 Rejected, expiry 408 Expired, each once', async () => {
    const make = async (name: string, extra: Record<string, unknown> = {}) => {
      const res = await stack.call('POST', '/pauses', { callBackUri: rx.uri(name), data: { loadDate: '2026-11-28' }, ...extra });
      expect(res.status).toBe(201);
      return res.json as { pauseId: string; token: string };
    };
    const a = await make('approve');
    const r = await make('reject');
    await make('expire', { expiresInSeconds: 1 });
    expect((await stack.call('POST', '/restart', { token: a.token, decision: 'approve' }, { accept: 'application/json' })).status).toBe(200);
    expect((await stack.call('POST', '/restart', { token: r.token, decision: 'reject' }, { accept: 'application/json' })).status).toBe(200);
    await new Promise((res) => setTimeout(res, 1100));
    await sweepUntil(stack, async () => rx.of('expire').length > 0);
    await stack.sweep();
    expect(rx.of('approve').map((c) => c.body)).toEqual([{ StatusCode: '200', Output: expect.objectContaining({ pauseId: a.pauseId, decision: 'approve', data: { loadDate: '2026-11-28' } }) }]);
    expect(rx.of('reject').map((c) => c.body)).toEqual([expect.objectContaining({ StatusCode: '409', Error: expect.objectContaining({ ErrorCode: 'Rejected' }) })]);
    expect(rx.of('expire').map((c) => c.body)).toEqual([expect.objectContaining({ StatusCode: '408', Error: expect.objectContaining({ ErrorCode: 'Expired' }) })]);
    const view = await stack.call('GET', `/pauses/${a.pauseId}`);
    expect(view.json.callback).toEqual({ status: 'delivered', attempts: 1 });
  });

  it('when 50 approvals race, then one callback arrives', async () => {
    const p = (await stack.call('POST', '/pauses', { callBackUri: rx.uri('race') })).json as { token: string };
    await Promise.all(Array.from({ length: 50 }, () => stack.call('POST', '/restart', { token: p.token, decision: 'approve' }, { accept: 'application/json' })));
    await stack.sweep();
    await stack.sweep();
    expect(rx.of('race')).toHaveLength(1);
  });

  it('when executions end Succeeded and Stopped, then each caller hears 200 or 500 once, with worker counts and the failed activity', async () => {
    const md = (pipeline: string) => JSON.stringify({ properties: { failureHandling: 'Simple' }, stages: [{ name: 's1', pipelines: [{ name: 'w1', pipeline }] }], batches: [{ name: `b_${pipeline}`, stages: ['s1'] }] });
    expect((await stack.call('PUT', '/metadata', md('wk_ok'), { 'content-type': 'application/json' })).status).toBe(200);
    const ok = await stack.call('POST', '/executions', { batch: 'b_wk_ok', callBackUri: rx.uri('exec-ok') });
    expect(ok.status).toBe(202);
    await sweepUntil(stack, async () => rx.of('exec-ok').length > 0);
    expect((await stack.call('PUT', '/metadata', md('wk_bad'), { 'content-type': 'application/json' })).status).toBe(200);
    const bad = await stack.call('POST', '/executions', { batch: 'b_wk_bad', callBackUri: rx.uri('exec-bad') });
    await sweepUntil(stack, async () => rx.of('exec-bad').length > 0);
    await stack.sweep();
    expect(rx.of('exec-ok').map((c) => c.body)).toEqual([{ StatusCode: '200', Output: { executionId: ok.json.executionId, status: 'Succeeded', workers: { Succeeded: 1 } } }]);
    expect(rx.of('exec-bad')).toHaveLength(1);
    expect(rx.of('exec-bad')[0]?.body).toMatchObject({ StatusCode: '500', Output: { executionId: bad.json.executionId, status: 'Stopped' }, Error: { ErrorCode: 'Stopped' } });
    expect(rx.of('exec-bad')[0]?.body.Error.Message).toContain('Source not found');
  });

  it('when a job completes and another is cancelled, then 200 and 500 TERMINATED arrive once each', async () => {
    await declareQueues(stack, [{ name: 'wq', capacity: 1 }]);
    const done = await enqueue(stack, 'wq', { pipeline: 'wk_ok', callBackUri: rx.uri('job-ok') });
    const cancelled = await enqueue(stack, 'wq', { pipeline: 'wk_manual', callBackUri: rx.uri('job-cancel') });
    await sweepUntil(stack, async () => rx.of('job-ok').length > 0);
    expect((await stack.call('POST', `/queues/wq/jobs/${cancelled.json.jobId}/cancel`)).status).toBe(200);
    await stack.sweep();
    expect(rx.of('job-ok').map((c) => c.body)).toEqual([{ StatusCode: '200', Output: expect.objectContaining({ jobId: done.json.jobId, status: 'COMPLETED' }) }]);
    expect(rx.of('job-cancel').map((c) => c.body)).toEqual([expect.objectContaining({ StatusCode: '500', Error: expect.objectContaining({ ErrorCode: 'TERMINATED' }) })]);
  });

  it('when a run ends Failed, then its caller hears 500 Failed once; the receiver answering 503 first only delays it', async () => {
    rx.failNext(2);
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_bad', callBackUri: rx.uri('run-bad') });
    expect(res.status).toBe(202);
    await sweepUntil(stack, async () => rx.of('run-bad').length > 0, 30_000, 300);
    await stack.sweep();
    expect(rx.of('run-bad').map((c) => c.body)).toEqual([expect.objectContaining({ StatusCode: '500', Error: expect.objectContaining({ ErrorCode: 'Failed' }) })]);
    const view = await stack.call('GET', `/runs/${res.json.runId}`);
    expect(view.json.callback).toMatchObject({ status: 'delivered', attempts: 3 });
  });

  it('when a callBackUri is not https (outside the loopback allowance) or over 2 KiB, then 400 names it and nothing is written', async () => {
    const rows = async () => (await stack.deps.tables.table('Outbox').scanAll()).length + (await stack.deps.tables.table('Pauses').scanAll()).length;
    const before = await rows();
    for (const uri of ['http://example.com/cb', 'ftp://127.0.0.1/x', `https://example.com/${'x'.repeat(2100)}`, 'not a url']) {
      for (const [path, body] of [['/pauses', { callBackUri: uri }], ['/runs', { pipeline: 'wk_ok', callBackUri: uri }]] as const) {
        const res = await stack.call('POST', path, body);
        expect(res.status).toBe(400);
        expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(['callBackUri']);
        expect(res.text).not.toContain(uri.slice(0, 40));
      }
    }
    expect(await rows()).toBe(before);
  });

  it('never leaks a callBackUri: not in logs, views, or any table row once delivered', async () => {
    await stack.sweep();
    const secret = 'sig=ssssssssssssssssssss';
    expect(stack.logs.join('\n')).not.toContain(secret);
    expect(stack.logs.join('\n')).not.toContain('/cb/');
    const all = [];
    for (const t of ['Outbox', 'Pauses', 'Runs', 'ActiveRuns', 'Queues', 'Executions'] as const) all.push(...(await stack.deps.tables.table(t).scanAll()));
    expect(JSON.stringify(all)).not.toContain(secret);
  });
});
