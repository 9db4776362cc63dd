import type { Callbacks, Clock, Factory, FactoryTarget, Ids, Logger, Mailer, MailTemplates, Sleep, Tables } from './ports';

/** Settings the domain needs, already validated by src/config.ts. */
export interface CoreSettings {
  /** Fills the missing parts of a pipeline reference. */
  defaultFactory: Partial<FactoryTarget>;
  pauseDefaultTtlSeconds: number;
  pauseMaxTtlSeconds: number;
  /** Base of links in emails; when absent the request's own origin is used. */
  publicBaseUrl?: string;
  /** A run the change feed has not mentioned for this long is re-checked, by the page (RunGroupId In [...]). */
  runStaleSeconds: number;
  /** ARM reads per factory per pass for those re-checks (pages, plus a GET for a run a page did not show). */
  staleCheckReadsPerPass: number;
  /** The change feed is read from (watermark − overlap) to absorb clock skew and late writes. */
  feedOverlapSeconds: number;
  /** A claim left Starting this long without a runId is reconciled by the sweep. */
  reconcileGraceSeconds: number;
  /** ARM writes (createRun, cancel) per second per subscription, shared by every instance (ARM refills 10/s). */
  armWritesPerSecond: number;
  /** Writes that may go at once after a quiet spell (ARM's write bucket holds 200). */
  armWriteBurst: number;
  executionRetentionDays: number;
  /** The outbox's first retry delay; each next one doubles (capped at 30 minutes). */
  outboxRetrySeconds: number;
  /** `http://127.0.0.1` and `http://localhost` callBackUris are accepted (the local stack); else https only. */
  allowInsecureCallbacks: boolean;
  /** The longest gap between two firings of SWEEP_SCHEDULE: the dashboard warns after three with no pass. */
  sweepIntervalSeconds: number;
}

/** Everything a use case may touch. Built once per process by src/composition.ts. */
export interface Deps {
  tables: Tables;
  factory: Factory;
  mailer: Mailer;
  callbacks: Callbacks;
  templates: MailTemplates;
  clock: Clock;
  log: Logger;
  ids: Ids;
  sleep: Sleep;
  settings: CoreSettings;
  /** Test-only crash points (see crash.ts); absent in production. */
  crash?: (step: import('./crash').CrashStep) => void;
}

export const defaultCoreSettings: CoreSettings = {
  defaultFactory: {},
  pauseDefaultTtlSeconds: 86_400,
  pauseMaxTtlSeconds: 2_592_000,
  runStaleSeconds: 300,
  staleCheckReadsPerPass: 10,
  feedOverlapSeconds: 30,
  reconcileGraceSeconds: 30,
  armWritesPerSecond: 8,
  armWriteBurst: 100,
  executionRetentionDays: 90,
  outboxRetrySeconds: 10,
  allowInsecureCallbacks: false,
  sweepIntervalSeconds: 30,
};
