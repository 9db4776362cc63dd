/**
 * The OpenAPI document (`GET /api/openapi.json`, src/http/openapi.ts) against the app itself:
 * - every registered HTTP function's route and method is in it, and every operation in it is a registered function;
 * - it is valid OpenAPI 3.1 (swagger-parser);
 * - the real handler serves it, anonymously;
 * - its request schemas accept and refuse what the handlers' zod schemas accept and refuse;
 * - real answers of the real handlers (on in-memory doubles) match its response schemas, problem codes included.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import Ajv2020 from '@apidevtools/swagger-parser/node_modules/ajv/dist/2020';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { OpenAPIV3_1 } from 'openapi-types';
import { functions } from '../../src/functions/all';
import type { HttpFunction } from '../../src/functions/define';
import { buildOpenApiDocument, requestComponents, ROUTE_DOCS, type RequestName } from '../../src/http/openapi';
import { unitDeps } from '../support/fake-factory';

const http = functions.filter((f): f is HttpFunction => f.kind === 'http');
const deps = unitDeps();
const doc = buildOpenApiDocument(deps, http) as unknown as OpenAPIV3_1.Document;
/**
 * swagger-parser's `validate`, in a child node: its ref parser is ESM only, which jest's CommonJS runtime
 * cannot load (plain Node 22 can).
 */
function swaggerValidate(document: unknown): Promise<{ ok: boolean; openapi?: string; error?: string }> {
  const script = `const SwaggerParser = require('@apidevtools/swagger-parser');
let s = ''; process.stdin.on('data', (c) => (s += c)).on('end', () => SwaggerParser.validate(JSON.parse(s))
  .then((api) => console.log(JSON.stringify({ ok: true, openapi: api.openapi })), (e) => console.log(JSON.stringify({ ok: false, error: e.message }))));`;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..', '..') }, (err, stdout) => (err ? reject(new Error(err.message)) : resolve(JSON.parse(stdout))));
    child.stdin!.end(JSON.stringify(document));
  });
}

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;

/** Every operation in the document: path, method and the function it names. */
const operations = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
  METHODS.filter((m) => item?.[m]).map((m) => ({ path: p, method: m, op: item![m] as OpenAPIV3_1.OperationObject & { 'x-function': string } })),
);

/** A validator over the whole document, so `#/components/schemas/…` refs resolve. */
const DOC_ID = 'https://adf-conductor.local/openapi.json';
const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { uri: (s: string) => URL.canParse(s), 'date-time': true, email: true } });
ajv.addSchema({ ...(doc as object), $id: DOC_ID });
const pointer = (...parts: string[]) => `${DOC_ID}#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
const validatorAt = (...parts: string[]) => ajv.compile({ $ref: pointer(...parts) });

describe('the OpenAPI document', () => {
  it('when the functions are registered, then each route and method is an operation of the document, with its auth level', () => {
    const missing: string[] = [];
    for (const fn of http)
      for (const m of fn.methods) {
        const op = doc.paths?.[`/${fn.route}`]?.[m.toLowerCase() as 'get'] as { 'x-function'?: string; security?: unknown[] } | undefined;
        if (op?.['x-function'] !== fn.name) missing.push(`${fn.name} ${m} /api/${fn.route}`);
        else expect(op.security).toEqual(fn.authLevel === 'anonymous' ? [] : [{ functionKey: [] }, { functionKeyQuery: [] }]);
      }
    expect(missing).toEqual([]);
    expect(http.length).toBeGreaterThan(15);
  });

  it('when the document lists an operation, then a registered function serves it (no documented route is missing)', () => {
    const unserved = operations
      .filter(({ path, method, op }) => !http.some((f) => f.name === op['x-function'] && `/${f.route}` === path && f.methods.map((m) => m.toLowerCase()).includes(method)))
      .map(({ path, method, op }) => `${op['x-function']} ${method.toUpperCase()} /api${path}`);
    expect(unserved).toEqual([]);
    // The registry's own routes say what the functions say (the document takes the function's when both exist).
    for (const fn of http) expect(ROUTE_DOCS[fn.name]?.route).toBe(fn.route);
  });

  it('when it is validated, then it is valid OpenAPI 3.1 with the contract’s routes, a function-key scheme and anonymous RestartPipeline and OpenApi', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(await swaggerValidate(doc)).toEqual({ ok: true, openapi: '3.1.0' });
    // The validator does refuse a broken document.
    const broken = structuredClone(doc) as any;
    broken.paths['/runs'].post.responses['202'].content['application/json'].schema = { $ref: '#/components/schemas/Nothing' };
    expect((await swaggerValidate(broken)).ok).toBe(false);
    const routes = operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`);
    for (const r of [
      'POST /runs', 'GET /runs/{runId}', 'POST /pauses', 'GET /pauses/{pauseId}', 'GET /restart', 'POST /restart', 'PUT /metadata', 'GET /metadata',
      'POST /executions', 'GET /executions', 'GET /executions/{executionId}', 'POST /executions/{executionId}/cancel', 'POST /executions/{executionId}/restart',
      'POST /queues/{queue}/jobs', 'GET /queues/{queue}', 'GET /queues/{queue}/jobs/{jobId}', 'POST /queues/{queue}/jobs/{jobId}/cancel',
      'POST /callbacks/run-finished', 'GET /dashboard', 'GET /executions/{executionId}/timeline.svg', 'GET /openapi.json',
    ])
      expect(routes).toContain(r);
    expect(doc.components?.securitySchemes?.functionKey).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-functions-key' }));
    const anonymous = operations.filter(({ op }) => Array.isArray(op.security) && op.security.length === 0).map(({ op }) => op['x-function']);
    expect([...new Set(anonymous)].sort()).toEqual(['OpenApi', 'RestartPipeline']);
  });

  it('when a route can fail, then each status lists its problem codes, and unknown statuses are not invented', () => {
    const run = doc.paths!['/runs']!.post!;
    const codes = (status: string) => [...((run.responses[status] as { 'x-problem-codes'?: string[] })['x-problem-codes'] ?? [])].sort();
    expect(codes('400')).toEqual(['MalformedJson', 'ValidationFailed']);
    expect(codes('404')).toEqual(['PipelineNotFound']);
    expect(codes('422')).toEqual(['IdempotencyKeyReused', 'PipelineRejected']);
    expect(codes('503')).toEqual(['StorageUnavailable', 'UpstreamThrottled', 'UpstreamUnavailable']);
    expect((run.responses['503'] as OpenAPIV3_1.ResponseObject).headers).toHaveProperty('Retry-After');
    for (const { op } of operations) expect(op.responses).toHaveProperty('500');
  });
});

describe('GET /api/openapi.json', () => {
  it('when it is called without a key, then the real handler answers 200 with the document as JSON', async () => {
    const fn = http.find((f) => f.name === 'OpenApi')!;
    expect(fn).toMatchObject({ route: 'openapi.json', methods: ['GET'], authLevel: 'anonymous' });
    const req = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/openapi.json' });
    const res = (await fn.make(() => deps)(req, new InvocationContext())) as HttpResponseInit;
    expect(res.status).toBe(200);
    expect((res.headers as Record<string, string>)['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(String(res.body));
    expect(body).toEqual(JSON.parse(JSON.stringify(doc)));
    // Built once: a second call answers the same text.
    const again = (await fn.make(() => deps)(req, new InvocationContext())) as HttpResponseInit;
    expect(again.body).toBe(res.body);
  });
});

describe('request schemas: the document and the handlers agree', () => {
  const zods = requestComponents(deps);
  const longName = 'p'.repeat(141);
  /** Bodies the handlers' zod schemas accept or refuse; the document must say the same of each. */
  const samples: Record<RequestName, unknown[]> = {
    RunRequest: [
      { pipeline: 'pl_load' },
      { pipeline: 'pl_load', factory: 'adf-prod', resourceGroup: 'Äpfel(rg)', subscriptionId: '11111111-2222-4333-8444-555555555555', parameters: { a: 1 }, idempotencyKey: 'k', callBackUri: 'https://x/cb', callbackTimeoutSeconds: 60 },
      {},
      { pipeline: 'pl_load', extra: 1 },
      { pipeline: 'pl.load' },
      { pipeline: longName },
      { pipeline: 'pl_load', factory: 'a--b' },
      { pipeline: 'pl_load', resourceGroup: 'rg.' },
      { pipeline: 'pl_load', subscriptionId: 'not-a-guid' },
      { pipeline: 'pl_load', parameters: [] },
      { pipeline: 'pl_load', idempotencyKey: '' },
      { pipeline: 'pl_load', callbackTimeoutSeconds: 604_801 },
      { pipeline: 'pl_load', callbackTimeoutSeconds: 1.5 },
      { pipeline: 7 },
    ],
    RunFinishedRequest: [{ runId: 'r' }, {}, { runId: '' }, { runId: 'r', x: 1 }, { runId: 'r'.repeat(101) }],
    PauseRequest: [
      { continuation: { pipeline: 'pl_next' } },
      { continuation: { pipeline: 'pl_next', pauseIdParameter: false, parameters: {} }, data: [1, { a: null }], expiresInSeconds: 60, notify: { to: ['a@example.com'], cc: ['b@example.com'], subject: 'Hi', message: 'm', template: 'approval' }, onReject: { pipeline: 'pl_undo' } },
      { continuation: { pipeline: 'pl_next', pauseIdParameter: true } },
      { continuation: { pipeline: 'pl_next' }, expiresInSeconds: 0 },
      { continuation: { pipeline: 'pl_next' }, expiresInSeconds: deps.settings.pauseMaxTtlSeconds + 1 },
      { continuation: { pipeline: 'pl_next' }, notify: { to: [] } },
      { continuation: { pipeline: 'pl_next' }, notify: { to: ['not an email'] } },
      { continuation: { pipeline: 'pl_next' }, notify: { to: ['a@example.com'], subject: 'two\nlines' } },
      { continuation: { pipeline: 'pl_next' }, onReject: { pipeline: 'pl_undo', pauseIdParameter: 'x' } },
      { continuation: { pipeline: 'pl_next', extra: true } },
    ],
    DecisionRequest: [{ token: 't', decision: 'approve' }, { token: 't', decision: 'view' }, { token: 't', decision: 'maybe' }, { decision: 'approve' }, { token: 1, decision: 'reject' }],
    EnqueueRequest: [{ pipeline: 'pl_import' }, { pipeline: 'pl_import', timeoutSeconds: 3600, parameters: { region: 'EU' } }, { pipeline: 'pl_import', timeoutSeconds: 0 }, { timeoutSeconds: 5 }, { pipeline: 'pl_import', queue: 'q' }],
    CancelRequest: [{}, { reason: 'r' }, { reason: 'r'.repeat(1001) }, { why: 'r' }],
    StartRequest: [{}, { batch: 'daily', stages: ['s1'], pipelines: ['w1'], callbackTimeoutSeconds: 43200 }, { batch: '' }, { stages: [] }, { batch: 'daily', dryRun: 'yes' }],
    RestartRequest: [{}, { fromFailure: true }, { fromFailure: 'yes' }, { from: true }],
    Metadata: [
      { stages: [{ name: 's1', pipelines: [{ name: 'w1' }] }] },
      { properties: { failureHandling: 'DependencyChain', maxConcurrentWorkers: 5 }, stages: [{ name: 's1', pipelines: [{ name: 'w1', pipeline: 'pl_w1', dependsOn: [] }] }], batches: [{ name: 'daily', stages: ['s1'] }], queues: [{ name: 'q1', capacity: 2 }], recipients: [{ email: 'ops@example.com', on: ['Failed'] }] },
      {},
      { stages: [] },
      { stages: [{ name: 's1', pipelines: [{ name: 'w1' }] }], properties: { failureHandling: 'Sometimes' } },
      { stages: [{ name: 's1', pipelines: [{ name: 'w1', retries: 3 }] }] },
      { stages: [{ name: 's1', pipelines: [{ name: 'w1' }] }], queues: [{ name: 'has space' }] },
    ],
  };

  it.each(Object.keys(samples) as RequestName[])('when %s bodies are checked, then the document accepts exactly those the handler accepts', (name) => {
    const zod = zods[name];
    const check = validatorAt('components', 'schemas', name);
    const verdicts = samples[name].map((body) => ({ body, zod: zod.safeParse(body).success, document: check(body) }));
    expect(verdicts.filter((v) => v.zod !== v.document)).toEqual([]);
    // Each list has both kinds, so the comparison means something.
    expect(new Set(verdicts.map((v) => v.zod))).toEqual(new Set([true, false]));
  });

  it('when a field is required by the handler, then the document requires it too', () => {
    const required = (name: string) => (doc.components!.schemas![name] as { required?: string[] }).required ?? [];
    expect(required('RunRequest')).toEqual(['pipeline']);
    expect(required('EnqueueRequest')).toEqual(['pipeline']);
    expect(required('RunFinishedRequest')).toEqual(['runId']);
    expect(required('DecisionRequest').sort()).toEqual(['decision', 'token']);
    expect(required('Metadata')).toEqual(['stages']);
    expect(required('StartRequest')).toEqual([]);
  });
});

describe('answers of the real handlers match the documented responses', () => {
  const d = unitDeps();
  const byName = (name: string) => http.find((f) => f.name === name)!;
  const seen = new Set<string>();

  /** Calls a handler as the host would, then checks the answer against the document's schema for its status and media type. */
  async function call(name: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; type: string }> {
    const fn = byName(name);
    const u = new URL(`http://127.0.0.1:7071/api/${url}`);
    const names = [...fn.route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const pattern = new RegExp(`^/api/${fn.route.replace(/\{\w+\}/g, '([^/]+)')}$`);
    const m = pattern.exec(u.pathname);
    if (!m) throw new Error(`${url} is not ${fn.route}`);
    const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
    const text = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body);
    const req = new HttpRequest({
      method,
      url: u.toString(),
      headers: { ...(text !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      params,
      query: Object.fromEntries(u.searchParams),
      ...(text !== undefined ? { body: { string: text } } : {}),
    });
    const res = (await fn.make(() => d)(req, new InvocationContext())) as HttpResponseInit;
    const status = res.status ?? 200;
    const type = String((res.headers as Record<string, string>)['content-type'] ?? '').split(';')[0]!;
    const op = operations.find((o) => o.op['x-function'] === name && o.method === method.toLowerCase());
    expect(op).toBeDefined();
    const documented = op!.op.responses?.[String(status)] as OpenAPIV3_1.ResponseObject | undefined;
    if (!documented) throw new Error(`${name} ${method} answered ${status}, which the document does not list: ${String(res.body)}`);
    expect(Object.keys(documented.content ?? {})).toContain(type);
    const json = /json$/.test(type) ? JSON.parse(String(res.body)) : undefined;
    if (json !== undefined) {
      const check = validatorAt('paths', op!.path, op!.method, 'responses', String(status), 'content', type, 'schema');
      if (!check(json)) throw new Error(`${name} ${method} ${status}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(json, null, 1)}`);
    }
    seen.add(`${name} ${status}`);
    return { status, json, type };
  }

  it('when every kind of request is made, then every answer, success or problem, is what the document says', async () => {
    const metadata = {
      stages: [{ name: 's1', pipelines: [{ name: 'w1', pipeline: 'pl_w1' }, { name: 'w2', pipeline: 'pl_w2' }] }],
      batches: [{ name: 'daily', stages: ['s1'] }],
      queues: [{ name: 'q1', capacity: 1 }],
    };
    expect((await call('GetMetadata', 'GET', 'metadata')).status).toBe(404);
    expect((await call('PutMetadata', 'PUT', 'metadata', { stages: [] })).status).toBe(422);
    expect((await call('PutMetadata', 'PUT', 'metadata', metadata)).status).toBe(200);
    expect((await call('GetMetadata', 'GET', 'metadata')).status).toBe(200);
    expect((await call('GetMetadata', 'GET', 'metadata?format=source')).type).toBe('text/plain');

    const run = await call('RunPipeline', 'POST', 'runs', { pipeline: 'pl_load', parameters: { a: 1 } });
    expect(run.status).toBe(202);
    await call('GetRun', 'GET', `runs/${run.json.runId}`);
    d.factory.finish(run.json.runId, 'Succeeded');
    expect((await call('RunFinished', 'POST', 'callbacks/run-finished', { runId: run.json.runId })).json.status).toBe('Succeeded');
    expect((await call('GetRun', 'GET', 'runs/nope')).status).toBe(404);
    expect((await call('RunPipeline', 'POST', 'runs', { pipelin: 'x' })).status).toBe(400);
    expect((await call('RunPipeline', 'POST', 'runs', '{not json')).status).toBe(400);
    expect((await call('RunPipeline', 'POST', 'runs', { pipeline: 'pl_load' }, { 'idempotency-key': 'k1' })).status).toBe(202);
    expect((await call('RunPipeline', 'POST', 'runs', { pipeline: 'pl_other' }, { 'idempotency-key': 'k1' })).status).toBe(422);

    const pause = await call('PausePipeline', 'POST', 'pauses', { continuation: { pipeline: 'pl_next' }, data: { tables: ['a'] }, notify: { to: ['a@example.com'] } });
    expect(pause.status).toBe(201);
    await call('GetPause', 'GET', `pauses/${pause.json.pauseId}`);
    expect((await call('GetPause', 'GET', 'pauses/nope')).status).toBe(404);
    const asJson = { accept: 'application/json' };
    expect((await call('RestartPipeline', 'POST', 'restart', { token: pause.json.token, decision: 'approve' }, asJson)).json.status).toBe('Approved');
    expect((await call('RestartPipeline', 'POST', 'restart', { token: pause.json.token, decision: 'reject' }, asJson)).status).toBe(409);
    expect((await call('RestartPipeline', 'POST', 'restart', { token: 'nope', decision: 'reject' }, asJson)).status).toBe(404);
    expect((await call('RestartPipeline', 'GET', 'restart')).type).toBe('text/html');
    expect((await call('RestartPipeline', 'POST', 'restart', 'token=x', { 'content-type': 'text/plain', ...asJson })).status).toBe(415);

    const started = await call('StartExecution', 'POST', 'executions', { batch: 'daily' });
    expect(started.status).toBe(202);
    const id = started.json.executionId as string;
    expect((await call('StartExecution', 'POST', 'executions', { batch: 'daily' })).status).toBe(409);
    expect((await call('StartExecution', 'POST', 'executions', { batch: 'weekly' })).status).toBe(404);
    await call('GetExecution', 'GET', `executions/${id}`);
    expect((await call('ListExecutions', 'GET', 'executions?batch=daily&limit=5')).json.value).toHaveLength(1);
    expect((await call('ListExecutions', 'GET', 'executions?status=Sideways')).status).toBe(400);
    expect((await call('RestartExecution', 'POST', `executions/${id}/restart`, {})).status).toBe(409);
    expect((await call('CancelExecution', 'POST', `executions/${id}/cancel`)).json.status).toBe('Cancelled');
    expect((await call('CancelExecution', 'POST', `executions/${id}/cancel`)).status).toBe(409);
    expect((await call('RestartExecution', 'POST', `executions/${id}/restart`, {})).status).toBe(202);
    expect((await call('GetExecution', 'GET', 'executions/nope')).status).toBe(404);

    const first = await call('EnqueueJob', 'POST', 'queues/q1/jobs', { pipeline: 'pl_import' });
    const second = await call('EnqueueJob', 'POST', 'queues/q1/jobs', { pipeline: 'pl_import', timeoutSeconds: 60 });
    expect([first.json.status, second.json.status]).toEqual(['RUNNING', 'PENDING']);
    expect((await call('EnqueueJob', 'POST', 'queues/nope/jobs', { pipeline: 'pl_import' })).status).toBe(404);
    expect((await call('GetQueue', 'GET', 'queues/q1')).json.waiting).toHaveLength(1);
    await call('GetJob', 'GET', `queues/q1/jobs/${second.json.jobId}`);
    expect((await call('GetJob', 'GET', 'queues/q1/jobs/nope')).status).toBe(404);
    expect((await call('CancelJob', 'POST', `queues/q1/jobs/${first.json.jobId}/cancel`, { reason: 'test' })).json.next.jobId).toBe(second.json.jobId);
    expect((await call('CancelJob', 'POST', `queues/q1/jobs/${first.json.jobId}/cancel`, {})).status).toBe(409);

    await call('OpenApi', 'GET', 'openapi.json');
    // Every function that answers JSON took part (the dashboard and its timeline are checked by their own tests).
    const named = new Set([...seen].map((s) => s.split(' ')[0]));
    expect(http.map((f) => f.name).filter((n) => !named.has(n) && !['Dashboard', 'ExecutionTimeline'].includes(n))).toEqual([]);
  });

  it('when an answer breaks its schema, then the check says so', () => {
    const check = validatorAt('paths', '/runs/{runId}', 'get', 'responses', '200', 'content', 'application/json', 'schema');
    const good = { runId: 'r', pipeline: 'p', factory: 'f', resourceGroup: 'g', subscriptionId: 's', status: 'Queued' };
    expect(check(good)).toBe(true);
    expect(check({ ...good, status: 'Sleeping' })).toBe(false);
    expect(check({ ...good, undocumented: 1 })).toBe(false);
    const problem = validatorAt('paths', '/runs/{runId}', 'get', 'responses', '404', 'content', 'application/problem+json', 'schema');
    const p = { type: 'about:blank', title: 'Not Found', status: 404, detail: 'x', code: 'RunNotFound' };
    expect(problem(p)).toBe(true);
    expect(problem({ ...p, code: 'PauseNotFound' })).toBe(false);
  });
});
