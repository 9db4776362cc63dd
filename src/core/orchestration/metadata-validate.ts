/**
 * `validateMetadata`: the schema and every integrity rule in one pass over an already-parsed
 * document (YAML and JSON text are parsed outside the domain, by src/http/metadata-text.ts). Every
 * problem is reported with a JSON path, so a user fixes a document in one round trip, not one error at a time.
 */
import { integrityProblems, isRecord } from './metadata-integrity';
import { reportOrder, schemaProblems } from './metadata-problems';
import { MetadataSchema, type ParsedMetadata } from './metadata-schema';
import type { FactoryDef, Metadata, MetadataResult, WorkerDef } from './metadata';

/** Validate an already-parsed document: schema + ALL integrity checks, every problem at once. */
export function validateMetadata(doc: unknown): MetadataResult {
  if (!isRecord(doc)) {
    return { ok: false, errors: [{ path: '$', message: 'the document must be a mapping (an object) with at least `stages`' }] };
  }
  const parsed = MetadataSchema.safeParse(doc, { reportInput: true });
  const problems = parsed.success ? [] : schemaProblems(parsed.error.issues);
  problems.push(...integrityProblems(doc));
  const errors = reportOrder(problems);
  if (errors.length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, metadata: toMetadata(parsed.data) };
}

function toMetadata(p: ParsedMetadata): Metadata {
  const factories: Record<string, FactoryDef> = {};
  for (const [k, f] of Object.entries(p.factories)) {
    const def: FactoryDef = {};
    if (f.subscriptionId !== undefined) def.subscriptionId = f.subscriptionId;
    if (f.resourceGroup !== undefined) def.resourceGroup = f.resourceGroup;
    if (f.factory !== undefined) def.factory = f.factory;
    if (f.tenantId !== undefined) def.tenantId = f.tenantId;
    factories[k] = def;
  }
  return {
    properties: { ...p.properties },
    factories,
    stages: p.stages.map((s) => ({
      name: s.name,
      enabled: s.enabled,
      pipelines: s.pipelines.map((w) => {
        const worker: WorkerDef = {
          name: w.name,
          pipeline: w.pipeline ?? w.name,
          factory: w.factory,
          parameters: { ...w.parameters },
          enabled: w.enabled,
          dependsOn: [...w.dependsOn],
        };
        if (w.timeoutSeconds !== undefined) worker.timeoutSeconds = w.timeoutSeconds;
        if (w.queue !== undefined) worker.queue = w.queue;
        if (w.retry !== undefined) worker.retry = { ...w.retry };
        if (w.warnAfterSeconds !== undefined) worker.warnAfterSeconds = w.warnAfterSeconds;
        return worker;
      }),
      ...(s.maxConcurrentWorkers !== undefined ? { maxConcurrentWorkers: s.maxConcurrentWorkers } : {}),
      ...(s.warnAfterSeconds !== undefined ? { warnAfterSeconds: s.warnAfterSeconds } : {}),
    })),
    batches: p.batches.map((b) => ({ name: b.name, stages: [...b.stages], enabled: b.enabled, parameters: { ...b.parameters } })),
    queues: p.queues.map((q) => ({ name: q.name, capacity: q.capacity })),
    recipients: p.recipients.map((r) => ({ email: r.email, on: [...r.on], batches: [...r.batches], workers: [...r.workers], queues: [...r.queues] })),
  };
}
