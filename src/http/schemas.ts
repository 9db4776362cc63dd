import { z } from 'zod';

/** ADF pipeline names: 1–140 chars, start with a letter, digit or _, none of . + ? / < > * % & : \ */
export const PipelineName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(140, 'must be at most 140 characters')
  .regex(/^[A-Za-z0-9_]/, 'must start with a letter, digit or underscore')
  .regex(/^[^.+?/<>*%&:\\]*$/, 'must not contain . + ? / < > * % & : \\');
export const FactoryName = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{1,61})[A-Za-z0-9]$/, 'must be 3–63 letters, digits or hyphens, starting and ending with a letter or digit');
export const ResourceGroupName = z
  .string()
  .regex(/^[-\w._()]{1,90}$/, 'must be 1–90 letters, digits, _ - . ( )')
  .refine((s) => !s.endsWith('.'), 'must not end with a period');
export const SubscriptionId = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID');
export const ParameterName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** ADF accepts at most 50 parameters; names must be identifiers. */
export const Parameters = z
  .record(z.string(), z.unknown(), { error: 'must be an object' })
  .superRefine((p, ctx) => {
    const keys = Object.keys(p);
    if (keys.length > 50) ctx.addIssue({ code: 'custom', message: `at most 50 parameters (got ${keys.length})` });
    for (const k of keys) if (!ParameterName.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'parameter names must be identifiers ([A-Za-z_][A-Za-z0-9_]*)' });
  });

export const PipelineRefShape = {
  pipeline: PipelineName,
  factory: FactoryName.optional(),
  resourceGroup: ResourceGroupName.optional(),
  subscriptionId: SubscriptionId.optional(),
};
export const PipelineRef = z.object(PipelineRefShape);
export type PipelineRefInput = z.infer<typeof PipelineRef>;
