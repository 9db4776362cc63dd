import { Cron } from 'croner';
import { z } from 'zod';
import type { CoreSettings } from './core/deps';
import { CRASH_STEPS } from './core/crash';
import { Guid } from './core/names';

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const nonEmpty = z.string().trim().min(1);

/** Every app setting, with its default. local.settings.sample.json documents each. */
const Settings = z
  .object({
    AzureWebJobsStorage: z.string().optional(),
    CONDUCTOR_STORAGE: z.string().optional(),
    CONDUCTOR_TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,29}$/, 'letters and digits, starting with a letter, at most 30').default('conductor'),
    ADF_ENDPOINT: z.url().default('https://management.azure.com'),
    ADF_SUBSCRIPTION_ID: Guid,
    ADF_RESOURCE_GROUP: nonEmpty,
    ADF_FACTORY_NAME: nonEmpty,
    ADF_CREDENTIAL: z.enum(['default', 'emulator']).default('default'),
    ADF_CA_CERT: z.string().optional(),
    ADF_START_TIMEOUT_SECONDS: int(60, 5, 240),
    EMAIL_CONNECTION_STRING: z.string().optional(),
    EMAIL_ENDPOINT: z.url().optional(),
    EMAIL_SENDER: z.string().optional(),
    EMAIL_CA_CERT: z.string().optional(),
    EMAIL_OUTBOX_DIR: z.string().default('.outbox'),
    PUBLIC_BASE_URL: z.url().optional(),
    SWEEP_SCHEDULE: z
      .string()
      .default('*/30 * * * * *')
      .refine((v) => scheduleIntervalSeconds(v) !== undefined, 'must be an NCRONTAB expression with six fields (seconds first) that fires at least twice'),
    PAUSE_DEFAULT_TTL_SECONDS: int(86_400, 1, 31_536_000),
    PAUSE_MAX_TTL_SECONDS: int(2_592_000, 1, 31_536_000),
    RUN_STALE_SECONDS: int(300, 1, 86_400),
    FEED_OVERLAP_SECONDS: int(30, 0, 3600),
    RECONCILE_GRACE_SECONDS: int(30, 0, 3600),
    STALE_CHECK_READS_PER_PASS: int(10, 1, 250),
    ADF_WRITES_PER_SECOND: int(8, 1, 1000),
    ADF_WRITE_BURST: int(100, 1, 1000),
    EXECUTION_RETENTION_DAYS: int(90, 1, 3650),
    OUTBOX_RETRY_SECONDS: int(10, 1, 3600),
    ALLOW_INSECURE_CALLBACKS: z.enum(['true', 'false'], "must be 'true' or 'false'").default('false'),
    CALLBACK_CA_CERT: z.string().optional(),
    /** Test-only: `step:N[,step:N]` kills the process at a named crash point (src/core/crash.ts). */
    CONDUCTOR_CRASH_AT: z
      .string()
      .regex(/^(\w+(:\d+)?)(,\w+(:\d+)?)*$/, 'step or step:N, separated by commas')
      .refine((v) => v.split(',').every((p) => (CRASH_STEPS as readonly string[]).includes(p.split(':')[0] as string)), `each step is one of ${CRASH_STEPS.join(', ')}`)
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.CONDUCTOR_STORAGE && !s.AzureWebJobsStorage)
      ctx.addIssue({ code: 'custom', path: ['CONDUCTOR_STORAGE'], message: 'set CONDUCTOR_STORAGE or AzureWebJobsStorage' });
    if (typeof s.PAUSE_DEFAULT_TTL_SECONDS === 'number' && typeof s.PAUSE_MAX_TTL_SECONDS === 'number' && s.PAUSE_DEFAULT_TTL_SECONDS > s.PAUSE_MAX_TTL_SECONDS)
      ctx.addIssue({ code: 'custom', path: ['PAUSE_DEFAULT_TTL_SECONDS'], message: 'must not exceed PAUSE_MAX_TTL_SECONDS' });
    if ((s.EMAIL_CONNECTION_STRING || s.EMAIL_ENDPOINT) && !s.EMAIL_SENDER)
      ctx.addIssue({ code: 'custom', path: ['EMAIL_SENDER'], message: 'required when EMAIL_CONNECTION_STRING or EMAIL_ENDPOINT is set' });
  }, { when: () => true }); // cross-key checks run even when a single key is bad: every problem is listed at once

export type AppSettings = z.infer<typeof Settings>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`adf-conductor configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads every setting at once; a bad or missing key is listed by name (never by value). */
/** The Functions host always sets FUNCTIONS_WORKER_RUNTIME; elsewhere (tests, local/host) functions are not registered with it. */
export const inFunctionsHost = (env: Record<string, string | undefined> = process.env): boolean => Boolean(env.FUNCTIONS_WORKER_RUNTIME);

export function loadSettings(env: Record<string, string | undefined> = process.env): AppSettings {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Settings.safeParse(blanksRemoved);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`));
  return parsed.data;
}

export function coreSettings(s: AppSettings): CoreSettings {
  return {
    defaultFactory: { subscriptionId: s.ADF_SUBSCRIPTION_ID, resourceGroup: s.ADF_RESOURCE_GROUP, factory: s.ADF_FACTORY_NAME },
    pauseDefaultTtlSeconds: s.PAUSE_DEFAULT_TTL_SECONDS,
    pauseMaxTtlSeconds: s.PAUSE_MAX_TTL_SECONDS,
    publicBaseUrl: s.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    runStaleSeconds: s.RUN_STALE_SECONDS,
    feedOverlapSeconds: s.FEED_OVERLAP_SECONDS,
    reconcileGraceSeconds: s.RECONCILE_GRACE_SECONDS,
    staleCheckReadsPerPass: s.STALE_CHECK_READS_PER_PASS,
    armWritesPerSecond: s.ADF_WRITES_PER_SECOND,
    armWriteBurst: s.ADF_WRITE_BURST,
    executionRetentionDays: s.EXECUTION_RETENTION_DAYS,
    outboxRetrySeconds: s.OUTBOX_RETRY_SECONDS,
    allowInsecureCallbacks: s.ALLOW_INSECURE_CALLBACKS === 'true',
    sweepIntervalSeconds: scheduleIntervalSeconds(s.SWEEP_SCHEDULE) ?? 30,
  };
}

/** The longest gap between the next firings of an NCRONTAB schedule (six fields, UTC), or undefined when it is not one. */
export function scheduleIntervalSeconds(expression: string): number | undefined {
  try {
    const runs = new Cron(expression, { mode: '6-part', timezone: 'UTC', domAndDow: true, paused: true }).nextRuns(6);
    if (runs.length < 2) return undefined;
    return Math.max(...runs.slice(1).map((r, i) => (r.getTime() - (runs[i] as Date).getTime()) / 1000));
  } catch {
    return undefined;
  }
}
