/**
 * The ADF factory emulator: the ARM Data Factory REST API (api-version 2018-06-01) over HTTPS,
 * scripted by a scenario, so that the real `@azure/arm-datafactory` client runs against it unchanged.
 *
 * Time: every status change is stamped with the emulator's current time when it is applied, never
 * with a time in the past. Due transitions are applied by a 10 ms timer and again before each request,
 * so `queryPipelineRuns` by `lastUpdated` works as a change feed: a change is never reported with a
 * `lastUpdated` earlier than the upper bound of a query that was already answered without it.
 *
 * The parts: `model.ts` (run shapes, errors), `state.ts` (the service: runs, lifecycle, faults, seeded runs),
 * `run-index.ts` (its indexes and due heap), `query.ts` (filters, ordering, paging), `views.ts` (JSON of runs
 * and activity runs), `http.ts` (routes and the request handler), `webhook.ts` (ADF's Webhook activity: the POST,
 * its body's expressions, the callback body). This file starts it and is the public API.
 */
import { generateCertificate } from '../tls';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_SCENARIO, type Scenario, type TerminalStatus } from './scenario';
import type { CallbackRecord, EmulatedRun, SeedSpec } from './model';
import { FactoryService } from './state';
import { EmulatorHttp } from './http';
import { WEBHOOK_RESPONSE_TIMEOUT_MS, WebhookCaller } from './webhook';

export type { Scenario } from './scenario';
export { API_VERSION, RunAlreadyFinished, RunNotFound } from './model';
export type { CallbackRecord, EmulatedRun, PipelineRunJson, RunStatus, SeedSpec } from './model';
export type { ActivityRunJson } from './views';

const TICK_MS = 10;

export interface EmulatorOptions {
  /** 0 = a random free port. Default 7443. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: every pipeline name is accepted and succeeds after 100 ms. */
  scenario?: Scenario;
  /** Reuse a key and certificate (PEM) instead of generating a self-signed one. */
  tls?: { key: string; cert: string };
  /** Oldest finished runs are forgotten beyond this many runs. Default 50,000. */
  maxRuns?: number;
  /** How long a webhook POST may take to get its answer before the run fails (ADF: one minute). Default 60,000. */
  webhookResponseTimeoutMs?: number;
}

export interface FactoryEmulator {
  /** e.g. https://127.0.0.1:7443 */
  url: string;
  port: number;
  /** PEM of the self-signed certificate (it is its own CA). */
  ca: string;
  /** Every run, in creation order (same as GET /_emulator/runs). */
  runs(): EmulatedRun[];
  /** Webhook callbacks received, accepted and refused, oldest first (same as GET /_emulator/callbacks). */
  callbacks(runId?: string): CallbackRecord[];
  /** Finishes a run by hand. Throws `RunNotFound`, or `RunAlreadyFinished` for a terminal run. */
  finish(runId: string, status: TerminalStatus, message?: string): void;
  /** Replaces the scenario. Resets outcome sequences and the fault budget. Throws `ScenarioInvalid`. */
  setScenario(s: Scenario): void;
  /**
   * Creates `count` runs in process, for benchmarks: "untracked" runs of other pipelines changing around the
   * app's own. They live exactly like runs from createRun (Queued → InProgress → terminal, each change stamped
   * with `lastUpdated`) but are not ARM requests: stats do not count them, faults never hit them, the pipeline
   * need not be in the scenario, and `outcomes` sequences do not advance. Returns the runIds.
   */
  seedRuns(spec: SeedSpec): string[];
  /** ARM request counts by operation, plus `faults` (faults injected). */
  stats(): Record<string, number>;
  resetStats(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export { generateCertificate };

/** Starts the emulator; resolves once it listens. */
export async function startFactoryEmulator(opts: EmulatorOptions = {}): Promise<FactoryEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const service = new FactoryService(opts.maxRuns ?? 50_000);
  service.setScenario(opts.scenario ?? DEFAULT_SCENARIO);
  const tls = opts.tls ?? (await generateCertificate());
  const http = new EmulatorHttp(service);
  const webhooks = new WebhookCaller(opts.webhookResponseTimeoutMs ?? WEBHOOK_RESPONSE_TIMEOUT_MS);

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void http.handle(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const timer = setInterval(() => service.advance(), TICK_MS);
  timer.unref();

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `https://${urlHost}:${port}`;
  service.setWebhookStarter((run, body) => {
    const callBackUri = `${url}/_emulator/callbacks/${run.runId}`;
    const webhook = run.webhook!;
    void webhooks.call(webhook.url, { ...body, callBackUri }, webhook.caFile).then((result) => {
      if (!result.ok) service.webhookCallFailed(run.runId, result.code, result.message);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    ca: tls.cert,
    runs: () => service.runs(),
    callbacks: (runId) => service.callbacks(runId),
    finish: (runId, status, message) => {
      service.finish(runId, status, message);
    },
    setScenario: (s) => service.setScenario(s),
    seedRuns: (spec) => service.seedRuns(spec),
    stats: () => service.stats(),
    resetStats: () => service.resetStats(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(timer);
        webhooks.close();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
