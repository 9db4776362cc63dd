import http from 'node:http';
import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack, type TestStack } from '../support/test-stack';

/**
 * Regression tests for the hostile-input defects of issue 10 (found at commit 3bfb389), on Azurite and the
 * emulator. The fuzz of every route is test/faults/fuzz.test.ts; these pin each defect by name.
 */
const scenario: Scenario = { pipelines: { wk_ok: { durationMs: 100 }, ct_ok: { durationMs: 100 } }, unknownPipelines: 'notFound' };

/** A raw GET whose path is sent exactly as written (fetch would normalise it). */
function rawGet(url: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

const nested = (depth: number, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

describe('hostile input: clear 4xx answers, nothing written, the host stays up', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ scenario });
  });
  afterAll(() => stack.close());

  const rowCount = async () => {
    let n = 0;
    for (const t of ['Runs', 'ActiveRuns', 'Pauses', 'Metadata', 'Idempotency'] as const) n += (await stack.deps.tables.table(t).scanAll()).length;
    return n;
  };

  it('defect 1: deeply nested YAML is refused before the parser sees it, twice in a row, and the host survives', async () => {
    for (const body of ['- '.repeat(2000), `a: ${'['.repeat(10000)}`, '- '.repeat(2000), `a: ${'['.repeat(10000)}`]) {
      const res = await stack.call('PUT', '/metadata', body, { 'content-type': 'application/yaml' });
      expect(res.status).toBe(422);
      expect(res.json.errors[0].message).toMatch(/nests deeper than 64 levels/);
    }
    expect((await stack.call('GET', '/runs/nothing-here')).status).toBe(404);
  });

  it('defect 4: parameters or pause data nested 5,000 levels deep are a 400 ValidationFailed naming the path, not a 500', async () => {
    const before = await rowCount();
    const run = await stack.call('POST', '/runs', `{"pipeline":"wk_ok","parameters":{"p":${nested(5000)}}}`, { 'content-type': 'application/json' });
    expect(run.status).toBe(400);
    expect(run.json).toMatchObject({ code: 'ValidationFailed' });
    expect(run.json.errors[0]).toMatchObject({ message: 'nests deeper than 64 levels' });
    expect(run.json.errors[0].path).toMatch(/^parameters\.p\[0\]/);
    const pause = await stack.call('POST', '/pauses', `{"continuation":{"pipeline":"ct_ok"},"data":${nested(5000, '{}')}}`, { 'content-type': 'application/json' });
    expect(pause.status).toBe(400);
    expect(pause.json.code).toBe('ValidationFailed');
    expect(await rowCount()).toBe(before);
  });

  it('defect 5: an id with "/" never reaches a table key: GET /runs/a%2Fb and run-finished {"runId":"a/b"} are a quick 404', async () => {
    const t0 = Date.now();
    const get = await stack.call('GET', '/runs/a%2Fb');
    expect(get.status).toBe(404);
    expect(get.json.code).toBe('RunNotFound');
    const cb = await stack.call('POST', '/callbacks/run-finished', { runId: 'a/b' });
    expect(cb.status).toBe(404);
    expect(cb.json.code).toBe('RunNotFound');
    for (const id of ['a%5Cb', 'a%23b', 'a%3Fb', 'x'.repeat(600)]) {
      expect((await stack.call('POST', `/executions/${id}/restart`, {})).status).toBe(404);
      expect((await stack.call('GET', `/pauses/${id}`)).status).toBe(404);
      expect((await stack.call('GET', `/executions/${id}`)).status).toBe(404);
    }
    expect(Date.now() - t0).toBeLessThan(5_000); // was a 503 with Retry-After after about 6 s each
  });

  it('defect 6: malformed percent-encoding is a 400 MalformedUrl problem, not a 500', async () => {
    const res = await rawGet(stack.host.url, '/api/runs/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ code: 'MalformedUrl', status: 400 });
  });

  it('defect 8: a parameter named __proto__ is refused (400) for runs, jobs, pauses and metadata, never dropped silently', async () => {
    const before = stack.emulator.runs().length;
    const rows = await rowCount();
    const bodies: Array<[string, string, string]> = [
      ['POST', '/runs', '{"pipeline":"wk_ok","parameters":{"a":1,"__proto__":{"x":1}}}'],
      ['POST', '/queues/q1/jobs', '{"pipeline":"wk_ok","parameters":{"__proto__":1}}'],
      ['POST', '/pauses', '{"continuation":{"pipeline":"ct_ok","parameters":{"__proto__":"x"}}}'],
      ['POST', '/pauses', '{"continuation":{"pipeline":"ct_ok"},"data":{"__proto__":{"polluted":true}}}'],
    ];
    for (const [method, path, body] of bodies) {
      const res = await stack.call(method, path, body, { 'content-type': 'application/json' });
      expect(res.status).toBe(400);
      expect(res.json.errors.map((e: { path: string }) => e.path).join(' ')).toMatch(/__proto__/);
    }
    const md = await stack.call('PUT', '/metadata', 'version: 1\n__proto__:\n  x: 1\n', { 'content-type': 'application/yaml' });
    expect(md.status).toBe(422);
    expect(md.json.errors.map((e: { path: string }) => e.path)).toContain('__proto__');
    expect(stack.emulator.runs().length).toBe(before);
    expect(await rowCount()).toBe(rows);
  });

  it('defect 12: JSON, problem and plain-text answers carry X-Content-Type-Options: nosniff', async () => {
    const ok = await stack.call('POST', '/runs', { pipeline: 'wk_ok' });
    expect(ok.status).toBe(202);
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    const bad = await stack.call('GET', '/runs/nothing-here');
    expect(bad.headers.get('x-content-type-options')).toBe('nosniff');
    const put = await stack.call('PUT', '/metadata', 'version: 1\nstages: []\n', { 'content-type': 'application/yaml' });
    const source = await stack.call('GET', '/metadata?format=source');
    if (put.status === 200) {
      expect(source.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(source.headers.get('x-content-type-options')).toBe('nosniff');
    } else {
      expect(source.headers.get('x-content-type-options')).toBe('nosniff'); // the 404 problem
    }
  });

  it('fuzz finding: a run whose parameters are over 30,000 characters of JSON is a 413 before anything is written (was a 500 from Table Storage)', async () => {
    const rows = await rowCount();
    const res = await stack.call('POST', '/runs', { pipeline: 'wk_ok', parameters: { p: 'x'.repeat(33_000) }, idempotencyKey: 'big-one' });
    expect(res.status).toBe(413);
    expect(res.json.code).toBe('PayloadTooLarge');
    expect(await rowCount()).toBe(rows);
  });

  it('fuzz finding: metadata sent as JSON nested past the limit is a 422 naming the nesting, never a parser stack overflow', async () => {
    const deep = `{"stages":${'['.repeat(3000)}${']'.repeat(3000)}}`;
    const res = await stack.call('PUT', '/metadata', deep, { 'content-type': 'application/json' });
    expect(res.status).toBe(422);
    expect(res.text).not.toMatch(/call stack/i);
    expect(res.json.errors[0].message).toMatch(/nests deeper than 64 levels/);
  });

  it('fuzz finding: a JSON client posting to the approval route without Accept gets problem+json, not a page', async () => {
    const res = await stack.call('POST', '/restart', { fromFailure: false });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
