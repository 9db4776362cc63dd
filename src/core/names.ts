/**
 * Every naming rule and size limit a name or a parameter set must meet, in one place. The HTTP
 * schemas (src/http/schemas.ts), the orchestration metadata and the app settings (src/config.ts)
 * all check with these, so a name gets the same verdict wherever it is written.
 *
 * Sources: Data Factory's naming rules (learn.microsoft.com/azure/data-factory/naming-rules) and
 * ARM's resource-name rules (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules).
 * docs/orchestration.md and docs/errors.md describe them for users; keep the three in step.
 */
import { z } from 'zod';

export const NAME_LIMITS = {
  /** ADF pipeline names, and our stage, worker, batch, queue and factory-key names. */
  nameMaxLength: 140,
  /** ADF allows 50 parameters per pipeline. */
  maxParameters: 50,
  /** A worker's or a job's timeout: at most 7 days. */
  maxTimeoutSeconds: 604_800,
} as const;

/** An integer in [min, max]; every failure (wrong type, fraction, range) says the same thing. */
export const intIn = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

// ---- Azure names -----------------------------------------------------------------------

/** Subscription and tenant ids. */
export const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const GUID_MSG = 'must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)';
export const Guid = z.string().regex(GUID_RE, { error: GUID_MSG });

/**
 * Data factory: 3-63 letters, digits and hyphens; starts and ends with a letter or digit; every
 * hyphen sits between two letters or digits (no `--`).
 */
export const FACTORY_RE = /^(?=.{3,63}$)[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$/;
export const FACTORY_MSG =
  'must be a data factory name: 3-63 letters, digits or single hyphens, starting and ending with a letter or digit';
export const FactoryName = z.string().regex(FACTORY_RE, { error: FACTORY_MSG });

/**
 * Resource group: 1-90 of `_ - . ( )` and letters or digits as .NET's Char.IsLetterOrDigit sees
 * them (any script's letters, decimal digits), not ending with a period. `Äpfel` is a valid name.
 */
export const RESOURCE_GROUP_RE = /^[-\p{L}\p{Nd}_.()]{0,89}[-\p{L}\p{Nd}_()]$/u;
export const RESOURCE_GROUP_MSG =
  'must be an Azure resource group name: 1-90 letters, digits, "_", "-", ".", "(" or ")", not ending with "."';
export const ResourceGroupName = z.string().regex(RESOURCE_GROUP_RE, { error: RESOURCE_GROUP_MSG });

/** ADF pipeline: 1-140 characters, starts with a letter, digit or `_`, none of . + ? / < > * % & : \ or control characters. */
export const PIPELINE_RE = /^[A-Za-z0-9_][^.+?/<>*%&:\\\u0000-\u001f]{0,139}$/;
export const PIPELINE_MSG =
  'must be an ADF pipeline name: 1-140 characters, starting with a letter, digit or "_", without . + ? / < > * % & : \\';
export const PipelineName = z.string().regex(PIPELINE_RE, { error: PIPELINE_MSG });

// ---- Parameters ------------------------------------------------------------------------

/** ADF parameter names are identifiers. */
export const PARAMETER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const PARAMETER_NAME_MSG = 'parameter name must start with a letter or "_" and contain only letters, digits and "_"';

/** A run's or job's parameters as JSON, at most: they are stored as one Table Storage property (32K characters). */
export const MAX_PARAMETER_CHARS = 30_000;

/** A pipeline's parameters: at most 50, each named like an identifier (a bad name is reported at its own path). */
export const Parameters = z.record(z.string(), z.unknown()).superRefine((params, ctx) => {
  const names = Object.keys(params);
  if (names.length > NAME_LIMITS.maxParameters) {
    ctx.addIssue({
      code: 'custom',
      message: `has ${names.length} parameters; ADF allows at most ${NAME_LIMITS.maxParameters} per pipeline`,
    });
  }
  for (const n of names) {
    if (!PARAMETER_NAME_RE.test(n)) ctx.addIssue({ code: 'custom', path: [n], message: PARAMETER_NAME_MSG });
  }
});

// ---- Our own names ---------------------------------------------------------------------

/**
 * Stage, worker and batch names: 1-140 characters; letters, digits, `_`, `-` and inner spaces;
 * first character a letter, digit or `_`. Every such name is also a valid ADF pipeline name,
 * which is why a worker's `pipeline` can default to its `name`.
 */
export const NAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_\- ]{0,138}[A-Za-z0-9_-])?$/;
export const NAME_MSG =
  'must be 1-140 characters of letters, digits, "_", "-" or inner spaces, starting with a letter, digit or "_"';
export const EntityName = z.string().regex(NAME_RE, { error: NAME_MSG });

/** Queue names and factory keys appear in URLs (`/api/queues/{queue}`) and table keys: no spaces. */
export const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,139}$/;
export const KEY_MSG = 'must be 1-140 characters of letters, digits, "_" or "-", starting with a letter, digit or "_"';
export const Key = z.string().regex(KEY_RE, { error: KEY_MSG });

// ---- Limits ----------------------------------------------------------------------------

/** A worker's or a job's timeout, in seconds. */
export const TimeoutSeconds = intIn(1, NAME_LIMITS.maxTimeoutSeconds);
