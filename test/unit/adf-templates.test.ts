/**
 * Every ADF pipeline template in templates/adf/ against two authorities:
 * - Data Factory's own model: the pipeline deserialises and serialises again with @azure/arm-datafactory's
 *   serializer and mappers (required properties present, no property the model does not know), and every
 *   activity, nested ones included, is of a type the model's Activity discriminator knows;
 * - the app's OpenAPI document (src/http/openapi.ts): every Web or WebHook activity that calls adf-conductor
 *   calls a documented route with a documented method and the function key, and sends a body the route's
 *   request schema accepts (a WebHook's with the callBackUri ADF adds).
 * ADF expressions are evaluated with the template's own defaults (a sample of the right type where a
 * parameter has none), so a body is checked as ADF would send it.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from '@apidevtools/swagger-parser/node_modules/ajv/dist/2020';
import { DataFactoryManagementClient, type DataFactoryManagementClientOptionalParams } from '@azure/arm-datafactory';
import type { CompositeMapper, Mapper, OperationSpec, Serializer } from '@azure/core-client';
import type { OpenAPIV3_1 } from 'openapi-types';
import { functions } from '../../src/functions/all';
import type { HttpFunction } from '../../src/functions/define';
import { buildOpenApiDocument } from '../../src/http/openapi';
import { unitDeps } from '../support/fake-factory';
import { evaluateAdf, type AdfContext } from '../support/adf-expressions';

// ---- The templates -------------------------------------------------------------------------------

interface Activity {
  name: string;
  type: string;
  typeProperties?: Record<string, any>;
  [k: string]: unknown;
}
interface Template {
  name: string;
  properties: { parameters?: Record<string, { type: string; defaultValue?: unknown }>; activities: Activity[]; [k: string]: unknown };
}

const ADF_DIR = path.join(__dirname, '..', '..', 'templates', 'adf');
const FILES = fs.readdirSync(ADF_DIR).filter((f) => f.endsWith('.json')).sort();
const load = (file: string) => JSON.parse(fs.readFileSync(path.join(ADF_DIR, file), 'utf8')) as Template;

/** Every activity, those inside ForEach, If, Until and Switch included. */
function allActivities(list: Activity[]): Activity[] {
  return list.flatMap((a) => {
    const tp = a.typeProperties ?? {};
    const inner = [tp.activities, tp.ifTrueActivities, tp.ifFalseActivities, tp.defaultActivities, ...((tp.cases as Array<{ activities?: unknown }>) ?? []).map((c) => c.activities)];
    return [a, ...allActivities(inner.filter((l): l is Activity[] => Array.isArray(l)).flat())];
  });
}

// ---- Data Factory's model: the SDK's own serializer and mappers ------------------------------------

/**
 * The SDK's serializer (with every mapper of its model) and the PipelineResource mapper, taken from the
 * operation spec of `pipelines.get`: the package exports neither its Mappers nor its serializer.
 */
async function armModel(): Promise<{ serializer: Serializer; pipeline: Mapper }> {
  const httpClient: NonNullable<DataFactoryManagementClientOptionalParams['httpClient']> = {
    sendRequest: async (request) => ({ request, status: 404, headers: request.headers, bodyAsText: '{"error":{"code":"NotFound","message":"x"}}' }),
  };
  const credential = { getToken: async () => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const client = new DataFactoryManagementClient(credential, '00000000-0000-4000-8000-000000000000', { httpClient, retryOptions: { maxRetries: 0 } });
  let spec: OperationSpec | undefined;
  const send = client.sendOperationRequest.bind(client);
  client.sendOperationRequest = ((args, s) => {
    spec = s;
    return send(args, s);
  });
  await client.pipelines.get('rg', 'adf', 'p').catch(() => undefined);
  const pipeline = spec?.responses[200]?.bodyMapper;
  if (!spec || !pipeline) throw new Error('no operation spec for pipelines.get');
  return { serializer: spec.serializer, pipeline };
}

/** The activity types the model knows: the concrete members of Activity's discriminated hierarchy (ControlActivity's, ExecutionActivity's …). */
function knownActivityTypes(serializer: Serializer): Set<string> {
  const discriminators = (serializer.modelMappers as { discriminators: Record<string, CompositeMapper> }).discriminators;
  const types = new Set<string>();
  const walk = (parent: string) => {
    for (const [key, mapper] of Object.entries(discriminators)) {
      if (!key.startsWith(`${parent}.`)) continue;
      const child = mapper.type.className!;
      // An abstract class (ControlActivity is `Container`) has members of its own.
      if (Object.keys(discriminators).some((k) => k.startsWith(`${child}.`))) walk(child);
      else types.add(key.slice(parent.length + 1));
    }
  };
  walk('Activity');
  return types;
}

/**
 * Web activity properties Data Factory has that the installed SDK's model (v12) predates; both are in the REST
 * specification and in the SDK's later versions. `turnOffAsync` ("Disable async HTTP pattern"): without it a
 * Web activity calling a route that answers 202 with Location polls that URL. `httpRequestTimeout`: the
 * wait for the HTTP answer (1 to 10 minutes). Nothing else is excused.
 */
const NEWER_THAN_THE_SDK: Record<string, string[]> = { WebActivity: ['turnOffAsync', 'httpRequestTimeout'] };

function withoutNewerProperties(properties: Template['properties']): Template['properties'] {
  const copy = structuredClone(properties);
  for (const a of allActivities(copy.activities)) for (const p of NEWER_THAN_THE_SDK[a.type] ?? []) delete a.typeProperties?.[p];
  return copy;
}

/** What Data Factory's model says is wrong with a template, as lines. */
function armProblems(t: Template, model: { serializer: Serializer; pipeline: Mapper }, known: Set<string>): string[] {
  const problems: string[] = [];
  let back: any;
  try {
    const resource = model.serializer.deserialize(model.pipeline, { id: `/pipelines/${t.name}`, ...t }, 'template');
    back = model.serializer.serialize(model.pipeline, resource, 'template');
  } catch (e) {
    return [`the ARM model refuses it: ${(e as Error).message}`];
  }
  // Through the model and back: anything it does not know (or puts elsewhere) comes out different.
  for (const at of differences(withoutNewerProperties(t.properties), back.properties, 'properties')) problems.push(`the ARM model does not give ${at} back unchanged`);
  for (const a of allActivities(t.properties.activities)) if (!known.has(a.type)) problems.push(`${a.name}: ${a.type} is not an ADF activity type`);
  return problems;
}

/** The paths where two JSON values differ (a property one of them lacks, or another value). */
function differences(a: unknown, b: unknown, at: string): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`));
  }
  return a === b ? [] : [at];
}

type Ctx = AdfContext;
const evaluate = evaluateAdf;

const CONDUCTOR = 'https://conductor.example.net';
const SAMPLES: Record<string, unknown> = { string: 'sample', securestring: 'secret', int: 1, float: 1.5, bool: true, array: [], object: {} };

/** The template's parameters as ADF would pass them: defaults, a sample where there is none, and our base URL. */
function contextFor(t: Template): Ctx {
  const params = Object.fromEntries(Object.entries(t.properties.parameters ?? {}).map(([k, p]) => [k, p.defaultValue ?? SAMPLES[p.type.toLowerCase()]]));
  for (const k of Object.keys(params)) if (/^conductor(Base)?Url$/i.test(k)) params[k] = CONDUCTOR;
  return { parameters: params, system: { RunId: 'adf-run-1', Pipeline: t.name, DataFactory: 'adf-prod', TriggerTime: '2026-03-01T08:00:00Z' } };
}

// ---- The OpenAPI document ------------------------------------------------------------------------

const http = functions.filter((f): f is HttpFunction => f.kind === 'http');
const doc = buildOpenApiDocument(unitDeps(), http) as unknown as OpenAPIV3_1.Document;
const DOC_ID = 'https://adf-conductor.local/openapi.json';
const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { uri: (s: string) => URL.canParse(s), 'date-time': true, email: true } });
ajv.addSchema({ ...(doc as object), $id: DOC_ID });

/** The documented operation a path and method reach, path templates matched segment by segment. */
function operationFor(apiPath: string, method: string): { template: string; op: OpenAPIV3_1.OperationObject } | undefined {
  for (const [template, item] of Object.entries(doc.paths ?? {})) {
    const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
    const op = item?.[method.toLowerCase() as 'get'];
    if (pattern.test(apiPath) && op) return { template, op };
  }
  return undefined;
}

interface Sent {
  activity: string;
  method: string;
  path: string;
  body?: unknown;
}

/** Every call a template makes to adf-conductor, as ADF would send it; and what the document says is wrong with each. */
function conductorCalls(t: Template): { calls: Sent[]; problems: string[] } {
  const ctx = contextFor(t);
  const calls: Sent[] = [];
  const problems: string[] = [];
  for (const a of allActivities(t.properties.activities).filter((x) => x.type === 'WebActivity' || x.type === 'WebHook')) {
    const tp = a.typeProperties ?? {};
    const url = new URL(String(evaluate(tp.url, ctx)));
    if (url.origin !== CONDUCTOR) continue; // e.g. Key Vault
    const method = String(tp.method ?? 'POST').toUpperCase();
    if (!url.pathname.startsWith('/api/')) {
      problems.push(`${a.name}: ${url.pathname} is not under /api`);
      continue;
    }
    const apiPath = decodeURI(url.pathname.slice('/api'.length));
    let body: unknown;
    if (tp.body !== undefined) {
      const raw = evaluate(tp.body, ctx);
      try {
        body = typeof raw === 'string' ? JSON.parse(raw) : raw;
      } catch {
        problems.push(`${a.name}: the body is not JSON: ${String(raw)}`);
        continue;
      }
      // ADF's Webhook activity adds callBackUri at the top level of what it sends.
      if (a.type === 'WebHook' && body !== null && typeof body === 'object') body = { ...body, callBackUri: 'https://adf.example.net/callback/abc?sig=x' };
    }
    calls.push({ activity: a.name, method, path: apiPath, body });
    problems.push(...callProblems(a, { activity: a.name, method, path: apiPath, body }));
  }
  return { calls, problems };
}

function callProblems(a: Activity, sent: Sent): string[] {
  const found = operationFor(sent.path, sent.method);
  if (!found) return [`${sent.activity}: ${sent.method} /api${sent.path} is no route of the API`];
  const { template, op } = found;
  const problems: string[] = [];
  const headers = Object.fromEntries(Object.entries((a.typeProperties?.headers ?? {}) as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
  if ((op.security ?? []).length > 0 && !('x-functions-key' in headers)) problems.push(`${sent.activity}: ${template} needs the function key (x-functions-key)`);
  const requestBody = op.requestBody as OpenAPIV3_1.RequestBodyObject | undefined;
  if (sent.body === undefined) {
    if (requestBody?.required) problems.push(`${sent.activity}: ${sent.method} ${template} requires a body`);
    return problems;
  }
  if (!requestBody?.content['application/json']) return [...problems, `${sent.activity}: ${sent.method} ${template} takes no JSON body`];
  const check = ajv.compile({ $ref: `${DOC_ID}#/paths/${template.replace(/~/g, '~0').replace(/\//g, '~1')}/${sent.method.toLowerCase()}/requestBody/content/application~1json/schema` });
  if (!check(sent.body)) problems.push(`${sent.activity}: the body does not match ${sent.method} ${template}: ${ajv.errorsText(check.errors)}`);
  return problems;
}

// ---- The tests -----------------------------------------------------------------------------------

describe('templates/adf', () => {
  let model: Awaited<ReturnType<typeof armModel>>;
  let known: Set<string>;
  beforeAll(async () => {
    model = await armModel();
    known = knownActivityTypes(model.serializer);
  });

  it('when the templates are listed, then there are templates, and the SDK knows the activity types they may use', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(8);
    for (const t of ['WebActivity', 'WebHook', 'ExecutePipeline', 'Wait', 'Until', 'IfCondition', 'Lookup', 'SetVariable', 'AppendVariable', 'ForEach', 'Switch', 'Fail', 'Copy'])
      expect(known).toContain(t);
    expect(known).not.toContain('Container'); // abstract: ControlActivity's own discriminator
  });

  describe.each(FILES)('%s', (file) => {
    const t = load(file);

    it("when Data Factory's model reads it, then it is a pipeline resource it gives back unchanged, and every activity is of a known type", () => {
      expect(armProblems(t, model, known)).toEqual([]);
    });

    it('when it calls adf-conductor, then each call is a documented route and method with the function key, and its body matches the route’s schema', () => {
      const { calls, problems } = conductorCalls(t);
      expect(problems).toEqual([]);
      expect(calls.length).toBeGreaterThan(0);
    });
  });

  it('when the calls are collected, then the templates reach the routes they are written for', () => {
    const reached = new Set(FILES.flatMap((f) => conductorCalls(load(f)).calls.map((c) => `${c.method} ${operationFor(c.path, c.method)?.template ?? c.path}`)));
    expect([...reached].sort()).toEqual(['GET /pauses/{pauseId}', 'POST /executions', 'POST /pauses', 'POST /queues/{queue}/jobs', 'POST /runs']);
  });
});

describe('the checks themselves', () => {
  const original = load('enqueue-and-wait.json');
  const hookOf = (t: Template) => allActivities(t.properties.activities).find((a) => a.type === 'WebHook')!;

  it('when a body gains an unknown field or loses a required one, then it is refused', () => {
    const t = structuredClone(original);
    const hook = hookOf(t);
    hook.typeProperties!.body = { value: '{"pipeline":"pl_x","priority":1}', type: 'Expression' };
    expect(conductorCalls(t).problems).toEqual([expect.stringMatching(/Run in turn and wait: the body does not match POST \/queues\/\{queue\}\/jobs: .*must NOT have additional properties/)]);
    hook.typeProperties!.body = { value: '{"parameters":{}}', type: 'Expression' };
    expect(conductorCalls(t).problems).toEqual([expect.stringMatching(/must have required property 'pipeline'/)]);
    hook.typeProperties!.body = { value: '{"pipeline":"pl_x", "timeoutSeconds": "soon"}', type: 'Expression' };
    expect(conductorCalls(t).problems).toEqual([expect.stringMatching(/timeoutSeconds must be integer/)]);
    hook.typeProperties!.body = { value: '{"pipeline": @{pipeline().parameters.pipeline}}', type: 'Expression' }; // unquoted: not JSON
    expect(conductorCalls(t).problems).toEqual([expect.stringMatching(/the body is not JSON/)]);
  });

  it('when a call goes to a wrong path or method, or without the key, then it is refused', () => {
    const t = structuredClone(original);
    const hook = hookOf(t);
    hook.typeProperties!.url = { value: '@{pipeline().parameters.conductorBaseUrl}/api/queue/@{pipeline().parameters.queue}/jobs', type: 'Expression' };
    expect(conductorCalls(t).problems).toEqual(['Run in turn and wait: POST /api/queue/catalog-import/jobs is no route of the API']);
    hook.typeProperties!.url = { value: '@{pipeline().parameters.conductorBaseUrl}/api/queues/@{pipeline().parameters.queue}/jobs', type: 'Expression' };
    hook.typeProperties!.method = 'PUT';
    expect(conductorCalls(t).problems).toEqual(['Run in turn and wait: PUT /api/queues/catalog-import/jobs is no route of the API']);
    hook.typeProperties!.method = 'POST';
    delete hook.typeProperties!.headers['x-functions-key'];
    expect(conductorCalls(t).problems).toEqual(['Run in turn and wait: /queues/{queue}/jobs needs the function key (x-functions-key)']);
  });

  it("when an activity is of no ADF type, or a property is one the model does not know, then Data Factory's model says so", async () => {
    const model = await armModel();
    const known = knownActivityTypes(model.serializer);
    const t = structuredClone(original);
    hookOf(t).type = 'Webhook';
    expect(armProblems(t, model, known)).toContain('Run in turn and wait: Webhook is not an ADF activity type');
    const u = structuredClone(original);
    hookOf(u).typeProperties!.retryOnCallBack = true; // not a WebHook property
    expect(armProblems(u, model, known)).toEqual(['the ARM model does not give properties.activities[0].typeProperties.retryOnCallBack back unchanged']);
    const v = structuredClone(original);
    delete hookOf(v).typeProperties!.url; // required by the model
    expect(armProblems(v, model, known)[0]).toMatch(/the ARM model refuses it|unchanged/);
  });
});
