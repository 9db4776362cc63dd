/**
 * The factory emulator's HTTP side: ARM routes, request bodies, ARM error bodies, and the inspection
 * routes under `/_emulator`. The service itself is in `state.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ScenarioInvalid, TERMINAL_STATUSES, type Operation, type Scenario, type TerminalStatus } from './scenario';
import { API_VERSION, ArmError, badRequest, faultError, RunAlreadyFinished, RunNotFound } from './model';
import { queryActivityRuns, queryPipelineRuns } from './query';
import type { FactoryService } from './state';
import { emulatedRun, pipelineRunJson } from './views';
import { parseCallbackBody } from './webhook';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

type ArmRoute = { op: Operation; subscriptionId: string; resourceGroup: string; factory: string; name?: string };

/** Matches `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataFactory/factories/{f}/...`, case-insensitively. */
function matchArmRoute(method: string, segments: string[]): ArmRoute | undefined {
  const [s0, subscriptionId, s2, resourceGroup, s4, s5, s6, factory, ...rest] = segments;
  const lower = (v: string | undefined) => v?.toLowerCase();
  if (lower(s0) !== 'subscriptions' || lower(s2) !== 'resourcegroups' || lower(s4) !== 'providers' ||
      lower(s5) !== 'microsoft.datafactory' || lower(s6) !== 'factories' ||
      !subscriptionId || !resourceGroup || !factory) {
    return undefined;
  }
  const base = { subscriptionId, resourceGroup, factory };
  const [r0, r1, r2] = rest.map((s, i) => (i === 1 ? s : s.toLowerCase()));
  if (rest.length === 3 && r0 === 'pipelines' && r1 && r2 === 'createrun' && method === 'POST') return { ...base, op: 'createRun', name: r1 };
  if (rest.length === 2 && r0 === 'pipelines' && r1 && method === 'GET') return { ...base, op: 'getPipeline', name: r1 };
  if (rest.length === 2 && r0 === 'pipelineruns' && r1 && method === 'GET') return { ...base, op: 'getRun', name: r1 };
  if (rest.length === 3 && r0 === 'pipelineruns' && r1 && r2 === 'cancel' && method === 'POST') return { ...base, op: 'cancel', name: r1 };
  if (rest.length === 3 && r0 === 'pipelineruns' && r1 && r2 === 'queryactivityruns' && method === 'POST') {
    return { ...base, op: 'queryActivityruns', name: r1 };
  }
  if (rest.length === 1 && r0 === 'querypipelineruns' && method === 'POST') return { ...base, op: 'queryPipelineRuns' };
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ArmError(413, 'RequestEntityTooLarge', 'The request body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

const sendError = (res: ServerResponse, err: ArmError) =>
  send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const queryFlag = (url: URL, name: string) => url.searchParams.get(name)?.toLowerCase() === 'true';

export class EmulatorHttp {
  constructor(private readonly service: FactoryService) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://emulator.invalid');
      const segments = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
      const method = (req.method ?? 'GET').toUpperCase();
      const body = await readBody(req);
      if (segments[0]?.toLowerCase() === '_emulator') {
        this.handleInspection(method, segments.slice(1), url, body, res);
        return;
      }
      await this.handleArm(method, segments, url, body, req, res);
    } catch (err) {
      if (err instanceof ArmError) {
        sendError(res, err);
        return;
      }
      console.error('factory emulator: unexpected error', err);
      sendError(res, new ArmError(500, 'InternalServerError', 'The emulator failed to handle the request.'));
    }
  }

  private async handleArm(method: string, segments: string[], url: URL, body: string, req: IncomingMessage, res: ServerResponse) {
    const route = matchArmRoute(method, segments);
    if (route) this.service.count(route.op);
    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(auth)) {
      throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing or not a Bearer token.",
        { 'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"' });
    }
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion === null) throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    if (apiVersion !== API_VERSION) {
      throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid. The supported version is '${API_VERSION}'.`);
    }
    if (!route) throw new ArmError(404, 'NotFound', `No route for ${method} ${url.pathname}.`);

    const latency = this.service.latencyFor(route.op);
    if (latency > 0) await sleep(latency);
    const fault = this.service.injectedFault(route.op);
    if (fault) throw fault;

    const svc = this.service;
    const name = route.name ?? '';
    switch (route.op) {
      case 'createRun': {
        const params = parseJson(body) ?? {};
        if (typeof params !== 'object' || params === null || Array.isArray(params)) {
          throw badRequest('The request body must be a JSON object of parameters.');
        }
        const run = svc.createRun({
          subscriptionId: route.subscriptionId,
          resourceGroup: route.resourceGroup,
          factory: route.factory,
          pipelineName: name,
          parameters: params as Record<string, unknown>,
          referencePipelineRunId: url.searchParams.get('referencePipelineRunId') || undefined,
          isRecovery: queryFlag(url, 'isRecovery'),
          startFromFailure: queryFlag(url, 'startFromFailure'),
          startActivityName: url.searchParams.get('startActivityName') || undefined,
        });
        if (svc.loseResponse()) throw faultError(503, 'Injected lost response: the run was created.');
        send(res, 200, { runId: run.runId });
        return;
      }
      case 'getRun': {
        const run = svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name);
        send(res, 200, pipelineRunJson(run, svc.isLatest(run)));
        return;
      }
      case 'cancel':
        svc.cancel(svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name));
        send(res, 200, undefined);
        return;
      case 'queryPipelineRuns':
        send(res, 200, queryPipelineRuns(svc, route.subscriptionId, route.resourceGroup, route.factory, parseJson(body)));
        return;
      case 'queryActivityruns': {
        const run = svc.findRun(route.subscriptionId, route.resourceGroup, route.factory, name);
        send(res, 200, queryActivityRuns(svc, run, parseJson(body)));
        return;
      }
      case 'getPipeline': {
        const pipeline = svc.requirePipeline(name);
        const id = `/subscriptions/${route.subscriptionId}/resourceGroups/${route.resourceGroup}/providers/Microsoft.DataFactory/factories/${route.factory}/pipelines/${pipeline.name}`;
        send(res, 200, {
          id,
          name: pipeline.name,
          type: 'Microsoft.DataFactory/factories/pipelines',
          properties: {
            activities: [],
            parameters: Object.fromEntries((pipeline.spec.parameters ?? []).map((p) => [p, { type: 'String' }])),
          },
          etag: Buffer.from(pipeline.name.toLowerCase()).toString('hex').slice(0, 32).padEnd(32, '0'),
        });
        return;
      }
    }
  }

  private handleInspection(method: string, rest: string[], url: URL, body: string, res: ServerResponse): void {
    const svc = this.service;
    const [a, b, c] = rest.map((s) => s.toLowerCase());
    if (method === 'GET' && a === 'runs' && rest.length === 1) {
      const factory = url.searchParams.get('factory')?.toLowerCase();
      const pipelineName = url.searchParams.get('pipelineName')?.toLowerCase();
      const runs = svc.runs().filter((r) =>
        (!factory || r.factory.toLowerCase() === factory) && (!pipelineName || r.pipelineName.toLowerCase() === pipelineName));
      send(res, 200, runs);
      return;
    }
    if (method === 'GET' && a === 'runs' && b && rest.length === 2) {
      const run = svc.runs().find((r) => r.runId === b);
      if (!run) throw new ArmError(404, 'PipelineRunNotFound', `Pipeline run '${b}' not found.`);
      send(res, 200, run);
      return;
    }
    if (method === 'POST' && a === 'runs' && b && c === 'finish' && rest.length === 3) {
      const input = parseJson(body) as { status?: unknown; message?: unknown } | undefined;
      const status = input?.status;
      if (typeof status !== 'string' || !(TERMINAL_STATUSES as readonly string[]).includes(status)) {
        throw badRequest(`'status' must be one of ${TERMINAL_STATUSES.join(', ')}.`);
      }
      if (input?.message !== undefined && typeof input.message !== 'string') throw badRequest("'message' must be a string.");
      try {
        const run = svc.finish(b, status as TerminalStatus, input?.message);
        send(res, 200, emulatedRun(run, svc.isLatest(run)));
      } catch (err) {
        if (err instanceof RunNotFound) throw new ArmError(404, 'PipelineRunNotFound', err.message);
        if (err instanceof RunAlreadyFinished) throw new ArmError(409, 'RunAlreadyFinished', err.message);
        throw err;
      }
      return;
    }
    if (a === 'callbacks' && method === 'GET' && rest.length === 1) {
      send(res, 200, svc.callbacks(url.searchParams.get('runId') ?? undefined));
      return;
    }
    // The webhook activity's callBackUri. Never logged: it stands for ADF's, which is a bearer secret.
    if (a === 'callbacks' && method === 'POST' && b && rest.length === 2) {
      const report = parseCallbackBody(parseJson(body));
      if ('problem' in report) throw badRequest(report.problem);
      const run = svc.receiveCallback(b, report);
      send(res, 200, { runId: run.runId, status: run.status });
      return;
    }
    if (method === 'POST' && a === 'scenario' && rest.length === 1) {
      try {
        svc.setScenario(parseJson(body) as Scenario);
      } catch (err) {
        if (err instanceof ScenarioInvalid) throw new ArmError(400, 'ScenarioInvalid', err.message);
        throw err;
      }
      send(res, 200, { ok: true });
      return;
    }
    if (method === 'GET' && a === 'stats' && rest.length === 1) {
      send(res, 200, svc.stats());
      return;
    }
    if (method === 'POST' && a === 'stats' && b === 'reset' && rest.length === 2) {
      svc.resetStats();
      send(res, 200, svc.stats());
      return;
    }
    if (method === 'GET' && (a === 'health' || a === undefined)) {
      send(res, 200, { ok: true });
      return;
    }
    throw new ArmError(404, 'NotFound', `No emulator route for ${method} ${url.pathname}.`);
  }
}
