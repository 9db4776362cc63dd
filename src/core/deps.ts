import type { Clock, Factory, FactoryTarget, Ids, Logger, Mailer, Tables } from './ports';

/** Settings the domain needs, already validated by src/config.ts. */
export interface CoreSettings {
  /** Fills the missing parts of a pipeline reference. */
  defaultFactory: Partial<FactoryTarget>;
  pauseDefaultTtlSeconds: number;
  pauseMaxTtlSeconds: number;
  /** Base of links in emails; when absent the request's own origin is used. */
  publicBaseUrl?: string;
  /** A run the change feed has not mentioned for this long is checked with a per-run GET. */
  runStaleSeconds: number;
  /** The change feed is read from (watermark − overlap) to absorb clock skew and late writes. */
  feedOverlapSeconds: number;
  /** A claim left Starting this long without a runId is reconciled by the sweep. */
  reconcileGraceSeconds: number;
  /** Starts per second per factory (ARM write limits). */
  startsPerSecondPerFactory: number;
  executionRetentionDays: number;
}

/** Everything a use case may touch. Built once per process by src/composition.ts. */
export interface Deps {
  tables: Tables;
  factory: Factory;
  mailer: Mailer;
  clock: Clock;
  log: Logger;
  ids: Ids;
  settings: CoreSettings;
}

export const defaultCoreSettings: CoreSettings = {
  defaultFactory: {},
  pauseDefaultTtlSeconds: 86_400,
  pauseMaxTtlSeconds: 2_592_000,
  runStaleSeconds: 300,
  feedOverlapSeconds: 30,
  reconcileGraceSeconds: 30,
  startsPerSecondPerFactory: 20,
  executionRetentionDays: 90,
};
