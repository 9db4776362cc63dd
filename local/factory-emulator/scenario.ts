/**
 * The factory emulator's script: which pipelines exist, how their runs end, and which faults to inject.
 * A scenario is plain JSON so that the local stack, the tests and a developer can all write one.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { expressionProblems, WEBHOOK_MAX_TIMEOUT_MS } from './webhook';

/** Operation names, as counted by `stats()` and as listed in `faults.operations`. */
export const OPERATIONS = ['createRun', 'getRun', 'cancel', 'queryPipelineRuns', 'queryActivityruns', 'getPipeline'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const TERMINAL_STATUSES = ['Succeeded', 'Failed', 'Cancelled'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

const Outcome = z.enum(TERMINAL_STATUSES);

const PipelineError = z
  .object({
    /** Name of the failing activity (its `target`). */
    activity: z.string().min(1).optional(),
    /** ADF error code, e.g. "2200". */
    code: z.string().min(1).optional(),
    message: z.string().optional(),
  })
  .strict();

const isHttpUrl = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

const isReadable = (path: string) => {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
};

/** ADF's Webhook activity: see `webhook.ts` and the README. */
const WebhookScenario = z
  .object({
    /** Where the run's start POSTs `body` plus `callBackUri`. */
    url: z.string().refine(isHttpUrl, 'must be an http or https URL'),
    /** A JSON object; string values may use the expressions listed in `webhook.ts`. Default {}. */
    body: z
      .record(z.string(), z.unknown())
      .superRefine((body, ctx) => {
        if (Object.keys(body).some((k) => k.toLowerCase() === 'callbackuri')) {
          ctx.addIssue({ code: 'custom', message: 'callBackUri is added by the emulator; the body must not set it', path: ['callBackUri'] });
        }
        for (const problem of expressionProblems(body)) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
      })
      .optional(),
    /** How long the run waits for the callback (ADF's `timeout`). Default 600000 (10 minutes), at most 7 days. */
    timeoutMs: z.number().int().min(1).max(WEBHOOK_MAX_TIMEOUT_MS).optional(),
    /** The activity's name in queryActivityruns. Default "Webhook". */
    activity: z.string().min(1).optional(),
    /** PEM file of an extra CA trusted for an https `url` (relative paths from the emulator's working directory). */
    caFile: z.string().min(1).refine(isReadable, 'is not a readable file').optional(),
  })
  .strict();

const PipelineScenario = z
  .object({
    /** Time in progress before the outcome applies; `null` = stays InProgress until finished by hand. */
    durationMs: z.number().int().min(0).nullable().optional(),
    outcome: Outcome.optional(),
    /** One outcome per successive run; the last one repeats. Wins over `outcome`. */
    outcomes: z.array(Outcome).min(1).optional(),
    error: PipelineError.optional(),
    /** Declared parameter names; createRun with any other name is refused with 400, as ADF does. */
    parameters: z.array(z.string().min(1)).optional(),
    /** The run is one Webhook activity: it waits for its callback, which decides the outcome. */
    webhook: WebhookScenario.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (!spec.webhook) return;
    for (const key of ['durationMs', 'outcome', 'outcomes', 'error'] as const) {
      if (spec[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'does not apply to a webhook pipeline: its callback (or its timeout) decides the outcome' });
      }
    }
  });

const Faults = z
  .object({
    /** Probability that an ARM request fails with one of `statuses` without doing anything. */
    rate: z.number().min(0).max(1).optional(),
    statuses: z.array(z.number().int().min(400).max(599)).min(1).optional(),
    /** Probability that createRun creates the run and still answers 503. */
    lostResponseRate: z.number().min(0).max(1).optional(),
    /** Random delay per ARM request, `[min, max]` milliseconds. */
    latencyMs: z
      .tuple([z.number().int().min(0), z.number().int().min(0)])
      .refine(([min, max]) => min <= max, 'min must not exceed max')
      .optional(),
    /** Only the first `limit` faults (of any kind) are injected. */
    limit: z.number().int().min(0).optional(),
    /** Faults (and latency) apply only to these operations. */
    operations: z.array(z.enum(OPERATIONS)).optional(),
  })
  .strict();

const ScenarioSchema = z
  .object({
    pipelines: z.record(z.string().min(1), PipelineScenario).optional(),
    unknownPipelines: z.enum(['notFound', 'succeed']).optional(),
    /** Time a run stays Queued before it goes InProgress. */
    queuedMs: z.number().int().min(0).optional(),
    /** Time a cancelled run stays Canceling before it is Cancelled. Default 50. */
    cancelMs: z.number().int().min(0).optional(),
    faults: Faults.optional(),
    /**
     * `many` (default): `RunGroupId In [...]` takes any number of values. `one`: more than one value is
     * refused with 400, as ADF was reported to do (azure-sdk-for-net#22025, 2021), to test a fallback.
     */
    runGroupIdValues: z.enum(['many', 'one']).optional(),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema>;
export type PipelineScenario = z.infer<typeof PipelineScenario>;
export type FaultScenario = z.infer<typeof Faults>;
export type WebhookScenario = z.infer<typeof WebhookScenario>;

/** A scenario that does not match the schema; every bad path is listed. */
export class ScenarioInvalid extends Error {
  override name = 'ScenarioInvalid';
  constructor(readonly problems: string[]) {
    super(`scenario is not valid: ${problems.join('; ')}`);
  }
}

/** Validates an already parsed scenario. Throws `ScenarioInvalid` listing every problem. */
export function parseScenario(value: unknown): Scenario {
  const result = ScenarioSchema.safeParse(value);
  if (!result.success) {
    throw new ScenarioInvalid(
      result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '$'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Reads and validates a scenario JSON file. */
export function loadScenario(path: string): Scenario {
  const text = readFileSync(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ScenarioInvalid([`$: not valid JSON (${(err as Error).message})`]);
  }
  return parseScenario(json);
}

/** The scenario used when none is given: every pipeline name succeeds after 100 ms. */
export const DEFAULT_SCENARIO: Scenario = { pipelines: {}, unknownPipelines: 'succeed' };
