/**
 * The OpenAPI 3.1 document of the HTTP API (`GET /api/openapi.json`), built from the same zod schemas the
 * handlers parse with, so the document and the handlers cannot drift apart.
 *
 * Schemas go through zod 4's own JSON Schema output (draft 2020-12, OpenAPI 3.1's dialect): it keeps every
 * regex (the resource-group rule needs its `u` flag's `\p{L}`, which zod-to-openapi 9 turns into a pattern
 * nothing matches) and tells request shapes (`io: input`, defaults optional) from answers (`io: output`).
 *
 * ROUTE_DOCS holds one entry per function name. test/unit/openapi.test.ts checks it against `functions`
 * both ways, so a route added without its entry (or an entry without its route) fails the build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z, type ZodObject, type ZodType } from 'zod';
import type { Deps } from '../core/deps';
import { MetadataSchema } from '../core/orchestration/metadata-schema';
import { DashboardQuery } from '../functions/dashboard';
import type { HttpFunction } from '../functions/define';
import { CancelRequest, EnqueueRequest } from '../functions/queues';
import { ListQuery, RestartRequest, StartRequest } from '../functions/orchestration';
import { DecisionRequest, pauseRequest } from '../functions/pauses';
import { RunFinishedRequest, RunRequest } from '../functions/runs';
import { templateRoot } from './templates';
import { VIEW_COMPONENTS } from './openapi-views';

export type Method = 'get' | 'head' | 'post' | 'put';
type Json = Record<string, unknown>;
type ViewName = keyof typeof VIEW_COMPONENTS;

/** A request body, by its component name (see `requestComponents`). */
export type RequestName = 'RunRequest' | 'RunFinishedRequest' | 'PauseRequest' | 'DecisionRequest' | 'EnqueueRequest' | 'CancelRequest' | 'StartRequest' | 'RestartRequest' | 'Metadata';

interface Reply {
  description: string;
  /** A JSON view under components.schemas. */
  json?: ViewName;
  /** Other media types this status may answer with (HTML pages, SVG, text). */
  other?: Record<string, Json>;
  /** Sends `Location` (the new resource's URL). */
  location?: boolean;
}

export interface OperationDoc {
  summary: string;
  description?: string;
  /** The query, as the zod object the handler validates it with (or one written here when it reads a key by hand). */
  query?: ZodObject;
  headers?: Array<{ name: string; description: string }>;
  body?: { schema: RequestName; mediaTypes: string[]; required?: boolean };
  responses: Record<number, Reply>;
  /** Every problem `code` this operation can answer, by status (docs/errors.md). 500 InternalError is added to all. */
  problems: Record<number, string[]>;
  /** Problems come as HTML pages too (the approval pages), or problem+json with `Accept: application/json`. */
  pages?: boolean;
}

export interface RouteDoc {
  /** As in `httpFunction({route})`, without the `/api` prefix; the registered function's route wins. */
  route: string;
  authLevel: HttpFunction['authLevel'];
  tag: string;
  operations: Partial<Record<Method, OperationDoc>>;
}

// ---- Problems shared by many routes --------------------------------------------------------------

const BODY = { 400: ['MalformedJson', 'ValidationFailed'], 413: ['PayloadTooLarge'] };
const STORAGE = ['StorageUnavailable'];
const ADF = ['UpstreamUnavailable', 'UpstreamThrottled', 'StorageUnavailable'];
/** A path segment that is not valid percent-encoding. */
const URL_PROBLEM = ['MalformedUrl'];

const merge = (...parts: Array<Record<number, string[]>>): Record<number, string[]> => {
  const out: Record<number, string[]> = {};
  for (const p of parts) for (const [s, codes] of Object.entries(p)) out[Number(s)] = [...new Set([...(out[Number(s)] ?? []), ...codes])];
  return out;
};

const HTML = { 'text/html': { type: 'string', description: 'A page (no-store, strict CSP).' } };

// ---- The routes --------------------------------------------------------------------------------------

export const ROUTE_DOCS: Record<string, RouteDoc> = {
  RunPipeline: {
    route: 'runs',
    authLevel: 'function',
    tag: 'Runs',
    operations: {
      post: {
        summary: 'Start a pipeline and return at once (fire-and-forget)',
        description:
          'Starts the pipeline and tracks its run. The same idempotency key with the same body returns the same run and starts nothing; with another body it is refused (422 IdempotencyKeyReused). With `callBackUri` (an ADF Webhook activity), the outcome is POSTed there once the run ends.',
        headers: [{ name: 'Idempotency-Key', description: 'Same as `idempotencyKey` in the body.' }],
        body: { schema: 'RunRequest', mediaTypes: ['application/json'], required: true },
        responses: { 202: { description: 'The run was started (or, with an idempotency key, is being started: status Starting, runId null).', json: 'RunStarted', location: true } },
        problems: merge(BODY, { 404: ['PipelineNotFound'], 413: ['PayloadTooLarge'], 422: ['IdempotencyKeyReused', 'PipelineRejected'], 503: ADF }),
      },
    },
  },
  GetRun: {
    route: 'runs/{runId}',
    authLevel: 'function',
    tag: 'Runs',
    operations: {
      get: {
        summary: 'A tracked run: its ADF status, start, end and error message',
        responses: { 200: { description: 'The run.', json: 'Run' } },
        problems: { 400: URL_PROBLEM, 404: ['RunNotFound'], 503: STORAGE },
      },
    },
  },
  RunFinished: {
    route: 'callbacks/run-finished',
    authLevel: 'function',
    tag: 'Runs',
    operations: {
      post: {
        summary: "Settle one run now (a worker's last Web activity), instead of waiting for the sweep",
        body: { schema: 'RunFinishedRequest', mediaTypes: ['application/json'], required: true },
        responses: { 200: { description: 'The run as observed now.', json: 'Run' } },
        problems: merge(BODY, { 404: ['RunNotFound'], 503: ADF }),
      },
    },
  },
  PausePipeline: {
    route: 'pauses',
    authLevel: 'function',
    tag: 'Pauses',
    operations: {
      post: {
        summary: 'Pause for an approval: store the continuation and email a single-use link',
        description:
          '`continuation` is required unless `callBackUri` is given (a Webhook activity waiting in place). The token is returned once and only its hash is stored.',
        body: { schema: 'PauseRequest', mediaTypes: ['application/json'], required: true },
        responses: { 201: { description: 'The pause is Waiting.', json: 'PauseCreated', location: true } },
        problems: merge(BODY, { 404: ['PipelineNotFound'], 422: ['TemplateNotFound'], 503: ADF }),
      },
    },
  },
  GetPause: {
    route: 'pauses/{pauseId}',
    authLevel: 'function',
    tag: 'Pauses',
    operations: {
      get: {
        summary: 'A pause, with its data (what the continuation reads)',
        responses: { 200: { description: 'The pause.', json: 'Pause' } },
        problems: { 400: URL_PROBLEM, 404: ['PauseNotFound'], 503: STORAGE },
      },
    },
  },
  RestartPipeline: {
    route: 'restart',
    authLevel: 'anonymous',
    tag: 'Pauses',
    operations: {
      get: {
        summary: 'The approval page an approval link opens (never changes anything)',
        description:
          'The link carries the token in its fragment (`/api/restart#token=…`); the page POSTs it. A legacy link (`?token=…`) shows the confirmation page directly. With `Accept: application/json` and a legacy token, the pause as JSON.',
        query: z.strictObject({ token: z.string().optional().describe('Legacy links only: the token in the query.') }),
        responses: { 200: { description: 'The page (or the pause as JSON).', other: HTML, json: 'Pause' } },
        problems: { 404: ['TokenNotFound'], 409: ['AlreadyDecided'], 410: ['TokenExpired'], 503: STORAGE },
        pages: true,
      },
      head: {
        summary: 'As GET, without a body',
        query: z.strictObject({ token: z.string().optional() }),
        responses: { 200: { description: 'As GET.' } },
        problems: { 404: ['TokenNotFound'], 409: ['AlreadyDecided'], 410: ['TokenExpired'], 503: STORAGE },
        pages: true,
      },
      post: {
        summary: 'Approve or reject a pause (or view its confirmation page)',
        description:
          'Approve starts the continuation (its parameters plus pauseId); reject starts onReject, if any. Among concurrent decisions for one token exactly one acts; the others get 409 AlreadyDecided. An HTML page, or JSON with `Accept: application/json`.',
        body: { schema: 'DecisionRequest', mediaTypes: ['application/x-www-form-urlencoded', 'application/json'], required: true },
        responses: { 200: { description: 'The decision was carried out (or, for `view`, the confirmation page).', other: HTML, json: 'Pause' } },
        problems: merge(BODY, {
          404: ['TokenNotFound'],
          409: ['AlreadyDecided'],
          410: ['TokenExpired'],
          415: ['UnsupportedMediaType'],
          422: ['ContinuationNotFound', 'ContinuationRejected'],
          503: ['StartNotConfirmed', ...ADF],
        }),
        pages: true,
      },
    },
  },
  PutMetadata: {
    route: 'metadata',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      put: {
        summary: 'Replace the orchestration metadata (YAML or JSON)',
        description: 'Validation and integrity checks run first; on any problem nothing is stored and every problem is listed (422 MetadataInvalid).',
        body: { schema: 'Metadata', mediaTypes: ['application/yaml', 'application/json'], required: true },
        responses: { 200: { description: 'The new version.', json: 'MetadataApplied' } },
        problems: { 409: ['MetadataChanged'], 413: ['PayloadTooLarge'], 422: ['MetadataInvalid'], 503: STORAGE },
      },
    },
  },
  GetMetadata: {
    route: 'metadata',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      get: {
        summary: 'The current orchestration metadata',
        query: z.strictObject({ format: z.enum(['source', 'json']).optional().describe('`source`: the document as it was PUT, as text/plain.') }),
        responses: { 200: { description: 'The stored metadata (or its source text).', json: 'StoredMetadata', other: { 'text/plain': { type: 'string', description: 'With `format=source`.' } } } },
        problems: { 404: ['MetadataNotFound'], 503: STORAGE },
      },
    },
  },
  StartExecution: {
    route: 'executions',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      post: {
        summary: 'Start (or resume) an execution of a batch, or of selected stages and pipelines',
        description:
          "If the batch's last execution ended Failed or Stopped and `restart` is `resume` (the default), it is resumed: 200 with `resumed: true`. Otherwise a new execution starts: 202. With `dryRun: true` the answer is 200 with the plan (an `ExecutionPlan`), and nothing starts or is written.",
        body: { schema: 'StartRequest', mediaTypes: ['application/json'] },
        responses: {
          200: { description: 'The last execution of the batch was resumed (`ExecutionStarted`), or the plan of a dry run (`ExecutionPlan`).', json: 'ExecutionStartedOrPlan' },
          202: { description: 'A new execution started.', json: 'ExecutionStarted' },
        },
        problems: merge(BODY, { 404: ['MetadataNotFound', 'BatchNotFound'], 409: ['ExecutionInProgress'], 422: ['NothingSelected'], 503: ADF }),
      },
    },
  },
  ListExecutions: {
    route: 'executions',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      get: {
        summary: 'Recent executions, newest first',
        query: ListQuery,
        responses: { 200: { description: 'The executions.', json: 'ExecutionList' } },
        problems: { 400: ['ValidationFailed'], 503: STORAGE },
      },
    },
  },
  GetExecution: {
    route: 'executions/{executionId}',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      get: {
        summary: 'An execution with its stages and workers',
        responses: { 200: { description: 'The execution.', json: 'Execution' } },
        problems: { 400: URL_PROBLEM, 404: ['ExecutionNotFound'], 503: STORAGE },
      },
    },
  },
  ExecutionTimeline: {
    route: 'executions/{executionId}/timeline.svg',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      get: {
        summary: "The execution's Gantt timeline as an SVG image",
        responses: { 200: { description: 'One bar per worker, grouped by stage, coloured by status.', other: { 'image/svg+xml': { type: 'string' } } } },
        problems: { 400: URL_PROBLEM, 404: ['ExecutionNotFound'], 503: STORAGE },
      },
    },
  },
  CancelExecution: {
    route: 'executions/{executionId}/cancel',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      post: {
        summary: "Cancel a Running execution: its ADF runs, and workers not yet started",
        responses: { 200: { description: 'The execution, Cancelled.', json: 'Execution' } },
        problems: { 400: URL_PROBLEM, 404: ['ExecutionNotFound'], 409: ['ExecutionNotRunning', 'ExecutionChanged'], 503: ADF },
      },
    },
  },
  RestartExecution: {
    route: 'executions/{executionId}/restart',
    authLevel: 'function',
    tag: 'Orchestration',
    operations: {
      post: {
        summary: 'Rerun the workers that did not succeed, from the earliest unfinished stage',
        description: "With `fromFailure: true`, ADF's recovery rerun (start from the failed activity).",
        body: { schema: 'RestartRequest', mediaTypes: ['application/json'] },
        responses: { 202: { description: 'The execution, Running again.', json: 'Execution' } },
        problems: merge(BODY, { 400: URL_PROBLEM, 404: ['ExecutionNotFound'], 409: ['ExecutionInProgress', 'NothingToRestart', 'ExecutionChanged'], 503: ADF }),
      },
    },
  },
  EnqueueJob: {
    route: 'queues/{queue}/jobs',
    authLevel: 'function',
    tag: 'Queues',
    operations: {
      post: {
        summary: 'Add a job to a queue (FIFO, one at a time per slot)',
        body: { schema: 'EnqueueRequest', mediaTypes: ['application/json'], required: true },
        responses: { 202: { description: 'The job, RUNNING or PENDING with its position.', json: 'JobEnqueued', location: true } },
        problems: merge(BODY, { 400: URL_PROBLEM, 404: ['QueueNotFound', 'MetadataNotFound'], 503: ADF }),
      },
    },
  },
  GetQueue: {
    route: 'queues/{queue}',
    authLevel: 'function',
    tag: 'Queues',
    operations: {
      get: {
        summary: 'A queue: its running and waiting jobs',
        responses: { 200: { description: 'The queue.', json: 'Queue' } },
        problems: { 400: URL_PROBLEM, 404: ['QueueNotFound'], 503: STORAGE },
      },
    },
  },
  GetJob: {
    route: 'queues/{queue}/jobs/{jobId}',
    authLevel: 'function',
    tag: 'Queues',
    operations: {
      get: {
        summary: 'A job, with its place in the queue while it waits',
        responses: { 200: { description: 'The job.', json: 'Job' } },
        problems: { 400: URL_PROBLEM, 404: ['QueueNotFound', 'JobNotFound'], 503: STORAGE },
      },
    },
  },
  CancelJob: {
    route: 'queues/{queue}/jobs/{jobId}/cancel',
    authLevel: 'function',
    tag: 'Queues',
    operations: {
      post: {
        summary: 'Cancel a job; a RUNNING one frees its slot and the next job starts in this same request',
        body: { schema: 'CancelRequest', mediaTypes: ['application/json'] },
        responses: { 200: { description: 'The job, TERMINATED, and the job that started in its place.', json: 'JobCancelled' } },
        problems: merge(BODY, { 400: URL_PROBLEM, 404: ['QueueNotFound', 'JobNotFound'], 409: ['JobAlreadyFinished'], 503: ADF }),
      },
    },
  },
  Dashboard: {
    route: 'dashboard',
    authLevel: 'function',
    tag: 'Operations',
    operations: {
      get: {
        summary: "The operator's dashboard: executions with their timelines, queues, waiting approvals, callbacks, the sweep",
        description: 'HTML; its data as JSON with `Accept: application/json`.',
        query: DashboardQuery,
        responses: { 200: { description: 'The dashboard.', other: HTML, json: 'Dashboard' } },
        problems: { 400: ['ValidationFailed'], 503: STORAGE },
      },
    },
  },
  OpenApi: {
    route: 'openapi.json',
    authLevel: 'anonymous',
    tag: 'Operations',
    operations: {
      get: {
        summary: 'This document (OpenAPI 3.1)',
        responses: { 200: { description: 'The OpenAPI document.', other: { 'application/json': { type: 'object', description: 'An OpenAPI 3.1 document.' } } } },
        problems: {},
      },
    },
  },
};

/** The request bodies, by component name: exactly the schemas the handlers parse with. */
export function requestComponents(deps: Deps): Record<RequestName, ZodType> {
  return {
    RunRequest,
    RunFinishedRequest,
    PauseRequest: pauseRequest(deps),
    DecisionRequest,
    EnqueueRequest,
    CancelRequest,
    StartRequest,
    RestartRequest,
    Metadata: MetadataSchema,
  };
}

// ---- Building the document ------------------------------------------------------------------------

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Each schema of a registry as a component; `$schema`/`$id` dropped (the document's dialect is 2020-12 already). */
function components(schemas: Record<string, ZodType>, io: 'input' | 'output'): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, s] of Object.entries(schemas)) registry.add(s, { id });
  const out = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }).schemas;
  return Object.fromEntries(
    Object.entries(out).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      return [id, rest];
    }),
  );
}

/** A zod object's keys as OpenAPI parameters (in the query). */
function queryParameters(query: ZodObject): Json[] {
  const schema = z.toJSONSchema(query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: 'query', required: (schema.required ?? []).includes(name), schema: rest, ...(description ? { description } : {}) };
  });
}

const PATH_PARAMS: Record<string, string> = {
  runId: 'An ADF runId, or the claim id a Starting run was handed out under.',
  pauseId: 'The pause id.',
  executionId: 'The execution id.',
  queue: 'A queue declared in the metadata.',
  jobId: 'The job id.',
};

function operation(name: string, method: Method, route: string, authLevel: RouteDoc['authLevel'], tag: string, op: OperationDoc): Json {
  const parameters: Json[] = [
    ...[...route.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' }, description: PATH_PARAMS[m[1]!] ?? m[1] })),
    ...(op.query ? queryParameters(op.query) : []),
    ...(op.headers ?? []).map((h) => ({ name: h.name, in: 'header', required: false, schema: { type: 'string' }, description: h.description })),
  ];
  const responses: Json = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const content: Json = {};
    if (r.json) content['application/json'] = { schema: ref(r.json) };
    for (const [type, schema] of Object.entries(r.other ?? {})) content[type] = { schema };
    responses[status] = {
      description: r.description,
      ...(r.location ? { headers: { Location: { description: 'The URL to GET it from.', schema: { type: 'string', format: 'uri' } } } } : {}),
      ...(method !== 'head' && Object.keys(content).length ? { content } : {}),
    };
  }
  const problems = merge(op.problems, { 500: ['InternalError'] });
  for (const [status, codes] of Object.entries(problems).sort(([a], [b]) => Number(a) - Number(b))) {
    const schema = { allOf: [ref('Problem')], properties: { code: { enum: codes } } };
    const content: Json = { 'application/problem+json': { schema } };
    if (op.pages) content['text/html'] = { schema: { type: 'string' } };
    responses[status] = {
      description: `${codes.join(', ')} (docs/errors.md)`,
      ...(status === '503' ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } } } : {}),
      ...(method !== 'head' ? { content } : {}),
      'x-problem-codes': codes,
    };
  }
  return {
    operationId: method === 'get' || Object.keys(ROUTE_DOCS[name]?.operations ?? {}).length === 1 ? name : `${name}_${method}`,
    tags: [tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: op.body.required ?? false,
            content: Object.fromEntries(op.body.mediaTypes.map((t) => [t, { schema: ref(op.body!.schema) }])),
          },
        }
      : {}),
    responses,
    security: authLevel === 'anonymous' ? [] : [{ functionKey: [] }, { functionKeyQuery: [] }],
    'x-function': name,
    'x-auth-level': authLevel,
  };
}

function packageVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(templateRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/**
 * The document. `deps` gives the limits that depend on settings (a pause's maximum TTL). A registered
 * function's route and authLevel win over its entry's, so the document says what the host serves.
 */
export function buildOpenApiDocument(deps: Deps, registered: HttpFunction[] = []): Json {
  const paths: Record<string, Json> = {};
  for (const [name, doc] of Object.entries(ROUTE_DOCS)) {
    const fn = registered.find((f) => f.name === name);
    const route = fn?.route ?? doc.route;
    const authLevel = fn?.authLevel ?? doc.authLevel;
    const item = (paths[`/${route}`] ??= {});
    for (const [method, op] of Object.entries(doc.operations) as Array<[Method, OperationDoc]>) item[method] = operation(name, method, route, authLevel, doc.tag, op);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'adf-conductor',
      version: packageVersion(),
      summary: 'Control flow for Azure Data Factory: fire-and-forget runs, pausable pipelines, metadata-driven orchestration and pipeline queues.',
      description:
        'Errors are RFC 9457 `application/problem+json` with a stable `code` (each status lists its codes). Admin routes take a function key in the `x-functions-key` header (or the `code` query parameter). Generated from the zod schemas the handlers use.',
    },
    servers: [{ url: '/api', description: 'This function app' }],
    tags: [...new Set(Object.values(ROUTE_DOCS).map((d) => d.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ...components(VIEW_COMPONENTS, 'output'), ...components(requestComponents(deps), 'input') },
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: 'An Azure Functions function (or host) key.' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code', description: 'The same key, in the query string.' },
      },
    },
  };
}

let cached: string | undefined;

/** The document as JSON text, built once per process (settings are read once too). */
export function openApiJson(deps: Deps, registered: HttpFunction[]): string {
  return (cached ??= JSON.stringify(buildOpenApiDocument(deps, registered)));
}
