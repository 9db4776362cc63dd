/**
 * The Webhook-activity templates in templates/adf/ (docs/webhooks.md): each is a pipeline the ARM
 * model of Data Factory accepts whole, its Webhook activity waits for a callback (reportStatusOnCallBack,
 * a timeout of at most 7 days), POSTs to the right route with the function key, sends a body with that
 * route's fields and a callbackTimeoutSeconds equal to the activity's timeout, and the activities after
 * it read only what the route's callback Output holds (DESIGN.md, "Webhook waits").
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DataFactoryManagementClient, type DataFactoryManagementClientOptionalParams } from '@azure/arm-datafactory';
import { z } from 'zod';
import { FactoryName, Guid, NAME_LIMITS, PIPELINE_RE, PipelineName, ResourceGroupName } from '../../src/core/names';
import { Parameters, PipelineRefShape, TimeoutSeconds } from '../../src/http/schemas';
import { EnqueueRequest } from '../../src/functions/queues';
import { RunRequest } from '../../src/functions/runs';
import { evaluateAdf, type AdfContext } from '../support/adf-expressions';

// ---- The pipeline JSON --------------------------------------------------------------------

interface Expression {
  value: string;
  type: 'Expression';
}
type Value = string | number | boolean | Expression | Value[] | { [k: string]: Value };
interface Activity {
  name: string;
  type: string;
  description?: string;
  dependsOn?: Array<{ activity: string; dependencyConditions: string[] }>;
  policy?: Record<string, unknown>;
  userProperties?: unknown[];
  typeProperties: Record<string, any>;
}
interface Pipeline {
  name: string;
  properties: {
    description?: string;
    parameters: Record<string, { type: string; defaultValue?: unknown }>;
    variables?: Record<string, { type: string; defaultValue?: unknown }>;
    activities: Activity[];
    annotations?: string[];
  };
}

const ADF_DIR = path.join(__dirname, '..', '..', 'templates', 'adf');
const load = (file: string) => JSON.parse(fs.readFileSync(path.join(ADF_DIR, file), 'utf8')) as Pipeline;

/** The activity lists directly inside a ForEach, If, Until or Switch. */
function childLists(a: Activity): Activity[][] {
  const tp = a.typeProperties ?? {};
  const lists: unknown[] = [tp.activities, tp.ifTrueActivities, tp.ifFalseActivities, tp.defaultActivities, ...((tp.cases as Array<{ activities: unknown }>) ?? []).map((c) => c.activities)];
  return lists.filter((l): l is Activity[] => Array.isArray(l));
}
/** Every list of sibling activities, the top level first (dependsOn reaches siblings only). */
function containers(activities: Activity[]): Activity[][] {
  return [activities, ...activities.flatMap((a) => childLists(a).flatMap(containers))];
}
const allActivities = (p: Pipeline) => containers(p.properties.activities).flat();

type Ctx = AdfContext & { system: { RunId: string; Pipeline: string; DataFactory: string }; outputs: Record<string, unknown> };

/** An ADF value (only `Expression` objects are evaluated here); a missing one fails. */
function evaluate(value: Value | undefined, ctx: Ctx): unknown {
  if (value === undefined) throw new Error('no value');
  return typeof value === 'object' && !Array.isArray(value) && value.type === 'Expression' ? evaluateAdf(value, ctx) : value;
}

/** Every expression text in an activity (URL, body, headers, variable values, items …). */
function expressionsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) expressionsIn(n, out);
  else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.type === 'Expression' && typeof o.value === 'string') out.push(o.value);
    else for (const [k, v] of Object.entries(o)) if (!['activities', 'ifTrueActivities', 'ifFalseActivities', 'defaultActivities', 'cases'].includes(k)) expressionsIn(v, out);
  }
  return out;
}

// ---- Is it a pipeline Data Factory accepts? -------------------------------------------------

const ACTIVITY_TYPES = new Set(['WebHook', 'WebActivity', 'SetVariable', 'AppendVariable', 'ForEach', 'Wait', 'IfCondition', 'Until', 'Fail', 'ExecutePipeline', 'Filter', 'Switch']);
const PARAMETER_TYPES = new Set(['string', 'int', 'float', 'bool', 'array', 'object', 'securestring']);
const VARIABLE_TYPES = new Set(['String', 'Boolean', 'Array']);
const CONDITIONS = new Set(['Succeeded', 'Failed', 'Skipped', 'Completed']);
/** ADF activity names: at most 55 characters, none of . + ? / < > * % & : \ (naming-rules). */
const ACTIVITY_NAME = /^[^.+?/<>*%&:\\]{1,55}$/;

/** Everything in a pipeline that Data Factory's validation would refuse, as readable lines. */
function pipelineProblems(p: Pipeline): string[] {
  const problems: string[] = [];
  if (!PIPELINE_RE.test(p.name)) problems.push(`pipeline name ${p.name} breaks ADF's naming rules`);
  const params = p.properties.parameters ?? {};
  const vars = p.properties.variables ?? {};
  if (Object.keys(params).length > NAME_LIMITS.maxParameters) problems.push('more than 50 parameters');
  for (const [n, d] of Object.entries(params)) if (!PARAMETER_TYPES.has(d.type.toLowerCase())) problems.push(`parameter ${n} has type ${d.type}`);
  for (const [n, d] of Object.entries(vars)) if (!VARIABLE_TYPES.has(d.type)) problems.push(`variable ${n} has type ${d.type}`);

  const names = allActivities(p).map((a) => a.name);
  for (const n of new Set(names.filter((n, k) => names.indexOf(n) !== k))) problems.push(`activity name ${n} is used twice`);

  /** Checks one list of siblings; `inherited` is what the container itself may read (a ForEach's upstream). */
  const checkList = (list: Activity[], inherited: Set<string>) => {
    const siblings = new Map(list.map((a) => [a.name, a]));
    /** The activities that must have run before a, through dependsOn. */
    const upstream = (a: Activity, seen = new Set<string>()): Set<string> => {
      for (const d of a.dependsOn ?? [])
        if (!seen.has(d.activity) && siblings.has(d.activity)) {
          seen.add(d.activity);
          upstream(siblings.get(d.activity)!, seen);
        }
      return seen;
    };
    for (const a of list) {
      if (!ACTIVITY_NAME.test(a.name)) problems.push(`activity name ${a.name} breaks ADF's naming rules`);
      if (!ACTIVITY_TYPES.has(a.type)) problems.push(`${a.name}: unknown activity type ${a.type}`);
      for (const d of a.dependsOn ?? []) {
        if (!siblings.has(d.activity)) problems.push(`${a.name} depends on ${d.activity}, which is not beside it`);
        for (const c of d.dependencyConditions) if (!CONDITIONS.has(c)) problems.push(`${a.name}: dependency condition ${c}`);
      }
      const before = new Set([...inherited, ...upstream(a)]);
      if (upstream(a).has(a.name)) problems.push(`${a.name} depends on itself`);
      if ((a.type === 'SetVariable' || a.type === 'AppendVariable') && !(a.typeProperties.variableName in vars))
        problems.push(`${a.name} sets undeclared variable ${a.typeProperties.variableName}`);
      for (const text of expressionsIn(a.typeProperties)) {
        for (const m of text.matchAll(/pipeline\(\)\.parameters\.(\w+)/g)) if (!(m[1]! in params)) problems.push(`${a.name} reads undeclared parameter ${m[1]}`);
        for (const m of text.matchAll(/variables\('([^']+)'\)/g)) if (!(m[1]! in vars)) problems.push(`${a.name} reads undeclared variable ${m[1]}`);
        for (const m of text.matchAll(/activity\('([^']+)'\)/g)) if (!before.has(m[1]!)) problems.push(`${a.name} reads activity('${m[1]}'), which it does not depend on`);
      }
      for (const inner of childLists(a)) checkList(inner, before);
    }
  };
  checkList(p.properties.activities, new Set());
  return problems;
}

/** ADF's TimeSpan pattern for activity timeouts, from the ARM model: [d.]hh:mm:ss. */
const TIMESPAN = /^(?:(\d+)\.)?(\d\d):(60|[0-5][0-9]):(60|[0-5][0-9])$/;
function timeoutSeconds(timeout: string): number {
  const m = TIMESPAN.exec(timeout);
  if (!m) throw new Error(`timeout ${timeout} is not d.hh:mm:ss`);
  return Number(m[1] ?? 0) * 86_400 + Number(m[2]) * 3_600 + Number(m[3]) * 60 + Number(m[4]);
}
const SEVEN_DAYS = 7 * 86_400;

/**
 * Sends the template through the real ARM SDK's model both ways (a fake HTTP client answers a GET with
 * the template and records the PUT), and returns what came out. The SDK's serializer checks required
 * properties, and a property the ARM model does not know (or puts elsewhere) does not survive.
 */
async function throughArmModel(p: Pipeline): Promise<unknown> {
  const headers = new Map([['content-type', 'application/json']]);
  const httpHeaders = {
    get: (n: string) => headers.get(n.toLowerCase()),
    has: (n: string) => headers.has(n.toLowerCase()),
    set: (n: string, v: string | number | boolean) => void headers.set(n.toLowerCase(), String(v)),
    delete: (n: string) => void headers.delete(n.toLowerCase()),
    toJSON: () => Object.fromEntries(headers),
    [Symbol.iterator]: () => headers.entries(),
  };
  let put: unknown;
  const httpClient: NonNullable<DataFactoryManagementClientOptionalParams['httpClient']> = {
    sendRequest: async (request) => {
      const body = request.method === 'GET' ? JSON.stringify({ id: `/pipelines/${p.name}`, ...p }) : String(request.body);
      if (request.method === 'PUT') put = JSON.parse(body);
      return { request, status: 200, headers: httpHeaders, bodyAsText: body };
    },
  };
  const credential = { getToken: async () => ({ token: 'unused', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const client = new DataFactoryManagementClient(credential, '00000000-0000-4000-8000-000000000000', { httpClient, retryOptions: { maxRetries: 0 } });
  const model = await client.pipelines.get('rg', 'adf', p.name);
  await client.pipelines.createOrUpdate('rg', 'adf', p.name, model);
  return put;
}

// ---- The routes' bodies and callbacks (DESIGN.md, HTTP contract and "Webhook waits") ------------

/** What every waiting route accepts besides its own fields. ADF adds callBackUri itself. */
const CallbackFields = {
  callBackUri: z.url().max(2048).optional(),
  callbackTimeoutSeconds: TimeoutSeconds,
};
const Emails = z.array(z.email()).min(1).max(50);
const Ref = z.strictObject({ ...PipelineRefShape, parameters: Parameters.optional() });
const PauseBody = z.strictObject({
  continuation: Ref.extend({ pauseIdParameter: z.union([z.literal(false), z.string()]).optional() }).optional(),
  data: z.unknown().optional(),
  expiresInSeconds: z.number().int().min(1).optional(),
  notify: z
    .strictObject({ to: Emails, cc: Emails.optional(), subject: z.string().min(1).optional(), message: z.string().optional(), template: z.string().min(1).max(64).optional() })
    .optional(),
  onReject: Ref.optional(),
  ...CallbackFields,
});
const BatchName = z.string().min(1).max(NAME_LIMITS.nameMaxLength);
const ExecutionBody = z.strictObject({
  batch: BatchName.optional(),
  stages: z.array(BatchName).optional(),
  pipelines: z.array(BatchName).optional(),
  parameters: Parameters.optional(),
  ...CallbackFields,
});
const JobBody = z.strictObject({ ...PipelineRefShape, parameters: Parameters.optional(), timeoutSeconds: TimeoutSeconds.optional(), ...CallbackFields });
const RunBody = z.strictObject({ ...PipelineRefShape, parameters: Parameters.optional(), idempotencyKey: z.string().min(1).max(200).optional(), ...CallbackFields });

/** The callback Output each route sends on success; later activities may read these and nothing else. */
const outputs = {
  pause: (sent: any) => ({ pauseId: '9ac5089a-0000-4000-8000-000000000001', decision: 'approve', data: sent.data, decidedAt: '2026-03-01T08:00:00.000Z' }),
  execution: () => ({ executionId: '5d0e0000-0000-4000-8000-000000000002', status: 'Succeeded', workers: { Succeeded: 12 } }),
  job: () => ({ jobId: '1-9f2c0000', runId: 'a1b2c3d4-0000-4000-8000-000000000003', waitedSeconds: 42 }),
  run: () => ({ runId: 'a1b2c3d4-0000-4000-8000-000000000004', status: 'Succeeded', runStart: '2026-03-01T08:00:00.000Z', runEnd: '2026-03-01T08:05:00.000Z' }),
};

interface Case {
  file: string;
  route: (base: string, params: Record<string, unknown>) => string;
  schema: z.ZodType;
  /** The body of this route as the server's own request schema sees it today (callback fields aside). */
  server?: z.ZodType;
  output: (sent: any) => unknown;
  /** Template-specific checks of the evaluated body. */
  check: (body: any, waitSeconds: number, t: Pipeline) => void;
}

const cases: Case[] = [
  {
    file: 'approve-in-place.json',
    route: (base) => `${base}/api/pauses`,
    schema: PauseBody,
    output: outputs.pause,
    check: (body, waitSeconds) => {
      expect(body.continuation).toBeUndefined(); // it goes on in place
      expect(body.notify).toMatchObject({ to: ['approver@example.com'], template: 'approval' });
      expect(body.data).toMatchObject({ loadDate: '2026-02-28', tables: ['sales', 'customers'], sourceRunId: 'adf-run-1' });
      // The pause expires, and calls back Expired, before ADF stops waiting.
      expect(body.expiresInSeconds).toBeLessThan(waitSeconds);
    },
  },
  {
    file: 'run-execution-and-wait.json',
    route: (base) => `${base}/api/executions`,
    schema: ExecutionBody,
    output: outputs.execution,
    check: (body) => expect(body.batch).toBe('daily'),
  },
  {
    file: 'enqueue-and-wait.json',
    route: (base, p) => `${base}/api/queues/${String(p.queue)}/jobs`,
    schema: JobBody,
    server: EnqueueRequest,
    output: outputs.job,
    check: (body, waitSeconds) => {
      expect(body).toMatchObject({ pipeline: 'pl_import_catalog', parameters: { region: 'EU' }, timeoutSeconds: 3600 });
      // The wait covers the job's own run time, with room for its turn in the queue.
      expect(body.timeoutSeconds).toBeLessThan(waitSeconds);
    },
  },
  {
    file: 'run-and-wait.json',
    route: (base) => `${base}/api/runs`,
    schema: RunBody,
    server: RunRequest,
    output: outputs.run,
    check: (body) => expect(body).toMatchObject({ pipeline: 'pipeline_Y', parameters: { region: 'EU' } }),
  },
];

const BASE = 'https://conductor.example.net';
const contextFor = (t: Pipeline): Ctx => ({
  parameters: {
    ...Object.fromEntries(Object.entries(t.properties.parameters).map(([k, v]) => [k, v.defaultValue])),
    conductorBaseUrl: BASE,
    functionKey: 'key-from-key-vault',
    ...('jobParameters' in t.properties.parameters ? { jobParameters: { region: 'EU' } } : {}),
    ...('targetParameters' in t.properties.parameters ? { targetParameters: { region: 'EU' } } : {}),
  },
  system: { RunId: 'adf-run-1', Pipeline: t.name, DataFactory: 'adf-prod' },
  outputs: {},
});
const webhookOf = (t: Pipeline) => {
  const hooks = allActivities(t).filter((a) => a.type === 'WebHook');
  expect(hooks).toHaveLength(1);
  return hooks[0]!;
};
/** The body as ADF sends it: the evaluated body (JSON text or an object), which ADF extends with callBackUri. */
const bodyOf = (hook: Activity, ctx: Ctx): Record<string, unknown> => {
  const v = evaluate(hook.typeProperties.body, ctx);
  return (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
};

describe.each(cases)('templates/adf/$file', ({ file, route, schema, server, output, check }) => {
  const t = load(file);
  const hook = webhookOf(t);
  const ctx = contextFor(t);

  it('when Data Factory validates it, then it is a well-formed pipeline whose every property the ARM model knows', async () => {
    expect(pipelineProblems(t)).toEqual([]);
    const put = (await throughArmModel(t)) as Pipeline;
    expect(put.properties).toEqual(t.properties);
  });

  it('when it runs, then its Webhook activity POSTs to the route with the function key and waits for the callback, at most 7 days', () => {
    const tp = hook.typeProperties;
    expect(tp.method).toBe('POST');
    expect(tp.reportStatusOnCallBack).toBe(true);
    const seconds = timeoutSeconds(tp.timeout);
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(SEVEN_DAYS);
    expect(evaluate(tp.url, ctx)).toBe(route(BASE, ctx.parameters));
    expect(tp.headers['Content-Type']).toBe('application/json');
    expect(tp.headers['x-functions-key']).toEqual({ value: '@pipeline().parameters.functionKey', type: 'Expression' });
    expect(t.properties.parameters.functionKey?.type).toBe('securestring');
    // The function key and the callBackUri (a bearer secret) stay out of the run history.
    expect(hook.policy).toMatchObject({ secureInput: true });
  });

  it("when its body is evaluated, then it holds the route's fields and a callbackTimeoutSeconds equal to the activity's timeout", () => {
    const body = bodyOf(hook, ctx);
    const seconds = timeoutSeconds(hook.typeProperties.timeout);
    expect(body.callBackUri).toBeUndefined(); // ADF adds it
    expect(body.callbackTimeoutSeconds).toBe(seconds);
    const parsed = schema.safeParse({ ...body, callBackUri: 'https://adf.example.net/callback/abc?sig=x' });
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    if (server) {
      const { callbackTimeoutSeconds: _t, ...fields } = body;
      const own = server.safeParse(fields);
      expect(own.success ? [] : own.error.issues).toEqual([]);
    }
    check(body, seconds, t);
  });

  it("when the callback reports success, then the activities after the Webhook read only what the route's Output holds", () => {
    const body = bodyOf(hook, ctx);
    const after = { ...ctx, outputs: { [hook.name]: output(body) } };
    const readers = allActivities(t).filter((a) => a !== hook);
    expect(readers.length).toBeGreaterThan(0);
    for (const a of readers) {
      const texts = expressionsIn(a.typeProperties).filter((x) => !x.includes('item()'));
      for (const text of texts) expect(() => evaluate({ value: text, type: 'Expression' }, after)).not.toThrow();
      if (a.type === 'ForEach') expect(Array.isArray(evaluate(a.typeProperties.items, after))).toBe(true);
      if (a.type === 'SetVariable') expect(typeof evaluate(a.typeProperties.value, after)).toBe(t.properties.variables![a.typeProperties.variableName]!.type.toLowerCase());
    }
  });
});

describe('templates/adf/run-and-wait.json, across factories', () => {
  it('when target names another factory, then the body carries the whole reference and the server accepts it', () => {
    const t = load('run-and-wait.json');
    const ctx = contextFor(t);
    ctx.parameters.target = { pipeline: 'pl_extract_sales', factory: 'adf-finance', resourceGroup: 'rg-finance', subscriptionId: '11111111-2222-4333-8444-555555555555' };
    const body = bodyOf(webhookOf(t), ctx);
    expect(body).toEqual({ ...(ctx.parameters.target as object), parameters: { region: 'EU' }, callbackTimeoutSeconds: 43200 });
    expect(RunBody.safeParse(body).success).toBe(true);
    expect(PipelineName.safeParse(body.pipeline).success && FactoryName.safeParse(body.factory).success && ResourceGroupName.safeParse(body.resourceGroup).success).toBe(true);
    expect(Guid.safeParse(body.subscriptionId).success).toBe(true);
  });
});

describe('the checks themselves', () => {
  it('when a template is broken, then the checks say so', async () => {
    const t = load('enqueue-and-wait.json');
    const broken = structuredClone(t);
    const hook = webhookOf(broken);
    hook.typeProperties.reportStatusOnCallBack = false;
    hook.typeProperties.timeout = '8.00:00:00';
    hook.typeProperties.url = { value: '@{pipeline().parameters.conductorUrl}/api/queues/x/jobs', type: 'Expression' };
    hook.typeProperties.retryOnCallBack = true; // not a Webhook property
    broken.properties.activities[1]!.typeProperties.variableName = 'nope';
    broken.properties.activities[2]!.dependsOn = [];
    expect(pipelineProblems(broken)).toEqual([
      'Run in turn and wait reads undeclared parameter conductorUrl',
      'Keep the job id sets undeclared variable nope',
      "Keep the run id reads activity('Run in turn and wait'), which it does not depend on",
    ]);
    expect(timeoutSeconds(hook.typeProperties.timeout)).toBeGreaterThan(SEVEN_DAYS);
    expect(isDeepStrictEqual(((await throughArmModel(broken)) as Pipeline).properties, broken.properties)).toBe(false);

    const output = outputs.job();
    const ctx = { ...contextFor(t), outputs: { 'Run in turn and wait': output } };
    expect(() => evaluate({ value: "@activity('Run in turn and wait').output.exitCode", type: 'Expression' }, ctx)).toThrow(/no property exitCode/);

    const badBody = { pipeline: 'pl_import_catalog', callbackTimeoutSeconds: SEVEN_DAYS + 1, continuation: {} };
    expect(JobBody.safeParse(badBody).success).toBe(false);
  });
});
