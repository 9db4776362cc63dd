/**
 * Orchestration metadata: the YAML/JSON document that says which worker pipelines run, in which
 * stages, batches and factories, and how failures are handled (procfwk v1.8 semantics).
 *
 * `validateMetadata` checks the schema and every integrity rule in one pass and reports every
 * problem with a JSON path, so a user fixes a document in one round trip, not one error at a time.
 * The reference for users is docs/orchestration.md; keep the two in step.
 */
import { z } from 'zod';
import { parseDocument } from 'yaml';
import type { FieldProblem } from '../errors';

// ---- Public types ----------------------------------------------------------------------

export type FailureHandling = 'None' | 'Simple' | 'DependencyChain';
export type RestartMode = 'resume' | 'new';
export type AlertOutcome = 'Succeeded' | 'Failed' | 'Stopped' | 'Cancelled';

export interface FactoryDef {
  subscriptionId?: string;
  resourceGroup?: string;
  factory?: string;
  tenantId?: string;
}
export interface WorkerDef {
  /** Worker id, unique across all stages. */
  name: string;
  /** ADF pipeline name; defaults to `name`. */
  pipeline: string;
  /** Key into `factories`; defaults to 'default'. */
  factory: string;
  parameters: Record<string, unknown>;
  enabled: boolean;
  /** Names of predecessor workers, each in a strictly earlier stage. */
  dependsOn: string[];
  timeoutSeconds?: number;
}
export interface StageDef {
  name: string;
  enabled: boolean;
  pipelines: WorkerDef[];
}
export interface BatchDef {
  name: string;
  stages: string[];
  enabled: boolean;
}
export interface QueueDef {
  name: string;
  capacity: number;
}
export interface RecipientDef {
  email: string;
  /** Execution outcomes that trigger a mail. */
  on: string[];
  /** Batch names, or '*' for every execution. */
  batches: string[];
}
export interface MetadataProperties {
  failureHandling: FailureHandling;
  cancelledWorkerBlocks: boolean;
  unknownWorkerBlocks: boolean;
  restart: RestartMode;
  maxConcurrentWorkers: number;
  executionRetentionDays: number;
}
export interface Metadata {
  properties: MetadataProperties;
  factories: Record<string, FactoryDef>;
  stages: StageDef[];
  batches: BatchDef[];
  queues: QueueDef[];
  recipients: RecipientDef[];
}
export type MetadataResult = { ok: true; metadata: Metadata } | { ok: false; errors: FieldProblem[] };

// ---- Limits and rules (documented in docs/orchestration.md) ----------------------------

export const METADATA_LIMITS = {
  nameMaxLength: 140,
  /** ADF allows 50 parameters per pipeline. */
  maxParametersPerWorker: 50,
  /** Our payload limit for one worker's parameters, as UTF-8 JSON bytes (createRun body headroom). */
  maxParameterBytes: 80_000,
  maxTimeoutSeconds: 604_800,
  maxQueueCapacity: 50,
  maxConcurrentWorkers: 1000,
  maxExecutionRetentionDays: 3650,
} as const;

export const FAILURE_HANDLING_VALUES = ['None', 'Simple', 'DependencyChain'] as const;
export const RESTART_VALUES = ['resume', 'new'] as const;
export const ALERT_OUTCOMES = ['Succeeded', 'Failed', 'Stopped', 'Cancelled'] as const;
/** The factory key every worker may use without declaring it; missing parts come from settings. */
export const DEFAULT_FACTORY = 'default';
/** In a recipient's `batches`, matches every execution (with or without a batch). */
export const ALL_BATCHES = '*';

/**
 * Stage, worker and batch names: 1-140 characters; letters, digits, `_`, `-` and inner spaces;
 * first character a letter, digit or `_`. Every such name is also a valid ADF pipeline name,
 * which is why a worker's `pipeline` can default to its `name`.
 */
const NAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_\- ]{0,138}[A-Za-z0-9_-])?$/;
const NAME_MSG =
  'must be 1-140 characters of letters, digits, "_", "-" or inner spaces, starting with a letter, digit or "_"';
/** Queue and factory keys appear in URLs (`/api/queues/{queue}`) and table keys: no spaces. */
const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,139}$/;
const KEY_MSG = 'must be 1-140 characters of letters, digits, "_" or "-", starting with a letter, digit or "_"';
/** ADF pipeline naming rules: 1-140 chars, starts with letter/digit/_, none of . + ? / < > * % & : \ */
const PIPELINE_RE = /^[A-Za-z0-9_][^.+?/<>*%&:\\\u0000-\u001f]{0,139}$/;
const PIPELINE_MSG =
  'must be an ADF pipeline name: 1-140 characters, starting with a letter, digit or "_", without . + ? / < > * % & : \\';
const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GUID_MSG = 'must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)';
/** Azure resource group: 1-90 of letters, digits, _ - . ( ); must not end with a period. */
const RESOURCE_GROUP_RE = /^[-\p{L}\p{N}_.()]{0,89}[-\p{L}\p{N}_()]$/u;
const RESOURCE_GROUP_MSG =
  'must be an Azure resource group name: 1-90 letters, digits, "_", "-", ".", "(" or ")", not ending with "."';
/** ADF factory: 3-63 letters, digits and single hyphens; starts and ends with a letter or digit. */
const FACTORY_RE = /^(?=.{3,63}$)[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$/;
const FACTORY_MSG =
  'must be a data factory name: 3-63 letters, digits or single hyphens, starting and ending with a letter or digit';
const PARAMETER_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---- Schema ----------------------------------------------------------------------------

const intIn = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const name = z.string().regex(NAME_RE, { error: NAME_MSG });
const key = z.string().regex(KEY_RE, { error: KEY_MSG });

const PropertiesSchema = z.strictObject({
  failureHandling: z.enum(FAILURE_HANDLING_VALUES).default('Simple'),
  cancelledWorkerBlocks: z.boolean().default(true),
  unknownWorkerBlocks: z.boolean().default(true),
  restart: z.enum(RESTART_VALUES).default('resume'),
  maxConcurrentWorkers: intIn(1, METADATA_LIMITS.maxConcurrentWorkers).default(50),
  executionRetentionDays: intIn(1, METADATA_LIMITS.maxExecutionRetentionDays).default(90),
});

const FactorySchema = z.strictObject({
  subscriptionId: z.string().regex(GUID_RE, { error: GUID_MSG }).optional(),
  resourceGroup: z.string().regex(RESOURCE_GROUP_RE, { error: RESOURCE_GROUP_MSG }).optional(),
  factory: z.string().regex(FACTORY_RE, { error: FACTORY_MSG }).optional(),
  tenantId: z.string().regex(GUID_RE, { error: GUID_MSG }).optional(),
});

const ParametersSchema = z.record(z.string(), z.unknown()).superRefine((params, ctx) => {
  const names = Object.keys(params);
  if (names.length > METADATA_LIMITS.maxParametersPerWorker) {
    ctx.addIssue({
      code: 'custom',
      message: `has ${names.length} parameters; ADF allows at most ${METADATA_LIMITS.maxParametersPerWorker} per pipeline`,
    });
  }
  for (const n of names) {
    if (!PARAMETER_NAME_RE.test(n)) {
      ctx.addIssue({
        code: 'custom',
        path: [n],
        message: 'parameter name must start with a letter or "_" and contain only letters, digits and "_"',
      });
    }
  }
  const bytes = jsonBytes(params);
  if (bytes > METADATA_LIMITS.maxParameterBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `parameters are ${bytes} bytes as JSON; the limit is ${METADATA_LIMITS.maxParameterBytes} bytes per worker`,
    });
  }
});

const WorkerSchema = z.strictObject({
  name,
  pipeline: z.string().regex(PIPELINE_RE, { error: PIPELINE_MSG }).optional(),
  factory: z.string().min(1, { error: 'must name a factory' }).default(DEFAULT_FACTORY),
  parameters: ParametersSchema.default({}),
  enabled: z.boolean().default(true),
  dependsOn: z.array(z.string().min(1, { error: 'must name a worker' })).default([]),
  timeoutSeconds: intIn(1, METADATA_LIMITS.maxTimeoutSeconds).optional(),
});

const StageSchema = z.strictObject({
  name,
  enabled: z.boolean().default(true),
  pipelines: z.array(WorkerSchema).min(1, { error: 'a stage needs at least one pipeline' }),
});

const BatchSchema = z.strictObject({
  name,
  stages: z.array(z.string().min(1, { error: 'must name a stage' })).min(1, { error: 'a batch needs at least one stage' }),
  enabled: z.boolean().default(true),
});

const QueueSchema = z.strictObject({
  name: key,
  capacity: intIn(1, METADATA_LIMITS.maxQueueCapacity).default(1),
});

const RecipientSchema = z.strictObject({
  email: z.email({ error: 'must be an email address' }),
  on: z
    .array(z.enum(ALERT_OUTCOMES))
    .min(1, { error: 'list at least one outcome' })
    .default(['Failed', 'Stopped', 'Cancelled']),
  batches: z.array(z.string().min(1, { error: 'must name a batch or be "*"' })).default([ALL_BATCHES]),
});

const MetadataSchema = z.strictObject({
  properties: PropertiesSchema.prefault({}),
  factories: z.record(z.string(), FactorySchema).default({}),
  stages: z.array(StageSchema).min(1, { error: 'at least one stage is required' }),
  batches: z.array(BatchSchema).default([]),
  queues: z.array(QueueSchema).default([]),
  recipients: z.array(RecipientSchema).default([]),
});

type ParsedMetadata = z.output<typeof MetadataSchema>;

const shapeKeys = (s: { shape: object }) => Object.keys(s.shape);
const ALLOWED_KEYS = {
  root: shapeKeys(MetadataSchema),
  properties: shapeKeys(PropertiesSchema),
  factory: shapeKeys(FactorySchema),
  stage: shapeKeys(StageSchema),
  worker: shapeKeys(WorkerSchema),
  batch: shapeKeys(BatchSchema),
  queue: shapeKeys(QueueSchema),
  recipient: shapeKeys(RecipientSchema),
};

// ---- Entry points ----------------------------------------------------------------------

/** Parse YAML or JSON text (JSON is YAML); syntax errors become one FieldProblem with path '$' and line info. */
export function parseMetadataText(text: string): MetadataResult {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const doc = parseDocument(source, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const headline = (first.message.split('\n')[0] ?? first.message).replace(/:\s*$/, '');
    return { ok: false, errors: [{ path: '$', message: `YAML syntax error: ${headline}` }] };
  }
  let value: unknown;
  try {
    // The alias cap stops "billion laughs" documents from expanding without bound.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, errors: [{ path: '$', message: `YAML error: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  return validateMetadata(value);
}

/** Validate an already-parsed document: schema + ALL integrity checks, every problem at once. */
export function validateMetadata(doc: unknown): MetadataResult {
  if (!isRecord(doc)) {
    return { ok: false, errors: [{ path: '$', message: 'the document must be a mapping (an object) with at least `stages`' }] };
  }
  const parsed = MetadataSchema.safeParse(doc, { reportInput: true });
  const problems: FieldProblem[] = parsed.success ? [] : parsed.error.issues.flatMap(issueToProblems);
  problems.push(...integrityProblems(doc));
  const errors = sortInDocumentOrder(dedupe(problems));
  if (errors.length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, metadata: toMetadata(parsed.data) };
}

/**
 * Where each runnable worker sits: enabled workers of enabled stages only. A name absent from the
 * map is disabled (or unknown), and as a predecessor it counts as satisfied.
 * Pass `{ includeDisabled: true }` to index every worker.
 */
export function workerIndex(
  m: Metadata,
  options: { includeDisabled?: boolean } = {},
): Map<string, { stage: StageDef; stageIndex: number; worker: WorkerDef }> {
  const index = new Map<string, { stage: StageDef; stageIndex: number; worker: WorkerDef }>();
  m.stages.forEach((stage, stageIndex) => {
    for (const worker of stage.pipelines) {
      if (options.includeDisabled || (stage.enabled && worker.enabled)) {
        index.set(worker.name, { stage, stageIndex, worker });
      }
    }
  });
  return index;
}

/**
 * Stages of a batch in the order of `stages` (not the batch's own list order), disabled ones
 * included; no batch means all stages. Undefined when the batch does not exist.
 */
export function stagesOfBatch(m: Metadata, batch?: string): StageDef[] | undefined {
  if (batch === undefined) return [...m.stages];
  const def = m.batches.find((b) => b.name === batch);
  if (!def) return undefined;
  const wanted = new Set(def.stages);
  return m.stages.filter((s) => wanted.has(s.name));
}

/** True when the worker would run: it and its stage are enabled. */
export const isRunnable = (stage: StageDef, worker: WorkerDef): boolean => stage.enabled && worker.enabled;

/** JSON path of a zod-style path: `stages[1].pipelines[0].dependsOn[0]`; `$` for the root. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s)) out += out === '' ? s : `.${s}`;
      else out += `[${JSON.stringify(s)}]`;
    }
  }
  return out === '' ? '$' : out;
}

// ---- Schema issues → problems ----------------------------------------------------------

type Issue = z.core.$ZodIssue;

function issueToProblems(issue: Issue): FieldProblem[] {
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(issue.path);
    return issue.keys.map((k) => ({
      path: formatPath([...issue.path, k]),
      message: unknownKeyMessage(k, allowed),
    }));
  }
  return [{ path: formatPath(issue.path), message: issueMessage(issue) }];
}

function issueMessage(issue: Issue): string {
  const hasInput = 'input' in issue && issue.input !== undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (!hasInput) return 'is required';
      if (issue.message && !issue.message.startsWith('Invalid input')) return issue.message;
      return `must be ${describeExpected(String(issue.expected))}, not ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'record':
    case 'object':
      return 'a mapping (object)';
    case 'array':
      return 'a list';
    case 'int':
      return 'an integer';
    default:
      return `a ${expected}`;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}

function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  const p = path.map((s) => (typeof s === 'number' ? '#' : String(s)));
  const sig = p.join('/');
  if (sig === '') return ALLOWED_KEYS.root;
  if (sig === 'properties') return ALLOWED_KEYS.properties;
  if (p.length === 2 && p[0] === 'factories') return ALLOWED_KEYS.factory;
  if (sig === 'stages/#') return ALLOWED_KEYS.stage;
  if (sig === 'stages/#/pipelines/#') return ALLOWED_KEYS.worker;
  if (sig === 'batches/#') return ALLOWED_KEYS.batch;
  if (sig === 'queues/#') return ALLOWED_KEYS.queue;
  if (sig === 'recipients/#') return ALLOWED_KEYS.recipient;
  return [];
}

function unknownKeyMessage(k: string, allowed: string[]): string {
  const near = allowed.find((a) => a.toLowerCase() === k.toLowerCase()) ?? allowed.find((a) => editDistance(a, k) <= Math.max(2, Math.floor(a.length / 3)));
  if (near) return `unknown key "${k}"; did you mean "${near}"?`;
  return allowed.length > 0 ? `unknown key "${k}"; allowed keys: ${allowed.join(', ')}` : `unknown key "${k}"`;
}

function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[y.length] ?? Math.max(x.length, y.length);
}

// ---- Integrity checks ------------------------------------------------------------------
//
// These run on the raw document, whatever its schema problems, and look only at the parts that
// have the right shape. Schema problems and integrity problems are thus reported together.

interface RawRef {
  name: string;
  path: string;
}
interface RawWorker {
  name?: string;
  path: string;
  stageIndex: number;
  enabled: boolean;
  factory?: RawRef;
  dependsOn: RawRef[];
}
interface RawStage {
  name?: string;
  path: string;
  enabled: boolean;
  workers: RawWorker[];
}
interface RawBatch {
  name?: string;
  path: string;
  stages: RawRef[];
}

function integrityProblems(doc: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const report = (path: string, message: string) => problems.push({ path, message });

  const stages: RawStage[] = items(doc.stages).map(({ value, index }) => {
    const path = `stages[${index}]`;
    const s = isRecord(value) ? value : {};
    return {
      name: str(s.name),
      path,
      enabled: bool(s.enabled),
      workers: items(s.pipelines).map(({ value: w, index: k }) => {
        const wp = `${path}.pipelines[${k}]`;
        const wr = isRecord(w) ? w : {};
        const f = str(wr.factory);
        return {
          name: str(wr.name),
          path: wp,
          stageIndex: index,
          enabled: bool(wr.enabled),
          factory: f === undefined ? undefined : { name: f, path: `${wp}.factory` },
          dependsOn: refs(wr.dependsOn, `${wp}.dependsOn`),
        };
      }),
    };
  });
  const workers = stages.flatMap((s) => s.workers);
  const batches: RawBatch[] = items(doc.batches).map(({ value, index }) => {
    const b = isRecord(value) ? value : {};
    return { name: str(b.name), path: `batches[${index}]`, stages: refs(b.stages, `batches[${index}].stages`) };
  });

  // Unique names. Case-insensitively: ADF names are case-insensitive, and "Sales" beside "sales" is a trap.
  const stageByName = uniqueNames('stage', stages, report);
  const workerByName = uniqueNames('worker', workers, report);
  const batchByName = uniqueNames('batch', batches, report);
  uniqueNames(
    'queue',
    items(doc.queues).map(({ value, index }) => ({
      name: isRecord(value) ? str(value.name) : undefined,
      path: `queues[${index}]`,
    })),
    report,
  );

  // Factories: keys are names; named factories must say which factory they are.
  const factories = isRecord(doc.factories) ? doc.factories : undefined;
  if (factories) {
    for (const [k, v] of Object.entries(factories)) {
      const path = formatPath(['factories', k]);
      if (!KEY_RE.test(k)) report(path, `factory key ${KEY_MSG}`);
      if (k !== DEFAULT_FACTORY && isRecord(v) && v.factory === undefined) {
        report(`${path}.factory`, `is required for a named factory (only "${DEFAULT_FACTORY}" may take it from settings)`);
      }
    }
  }
  const factoryKeys = factories ? Object.keys(factories) : [];
  for (const w of workers) {
    if (!w.factory || w.factory.name === DEFAULT_FACTORY || factoryKeys.includes(w.factory.name)) continue;
    if (!factories && doc.factories !== undefined) continue; // `factories` itself is malformed: reported by the schema
    report(
      w.factory.path,
      `unknown factory "${w.factory.name}"; declare it under factories` +
        (factoryKeys.length > 0 ? ` (declared: ${factoryKeys.join(', ')})` : ''),
    );
  }

  // Batches: stages resolve, no repeats, and something would actually run.
  for (const b of batches) {
    const seen = new Set<string>();
    let runnable = false;
    for (const ref of b.stages) {
      if (seen.has(ref.name)) report(ref.path, `stage "${ref.name}" is listed more than once in this batch`);
      seen.add(ref.name);
      const stage = stageByName.get(ref.name);
      if (!stage) {
        report(ref.path, unknownRef('stage', ref.name, stageByName));
        continue;
      }
      if (stage.enabled && stage.workers.some((w) => w.enabled)) runnable = true;
    }
    if (b.stages.length > 0 && !runnable) {
      report(`${b.path}.stages`, `batch${b.name ? ` "${b.name}"` : ''} has no enabled stage with an enabled pipeline`);
    }
  }
  if (stages.length > 0 && !stages.some((s) => s.enabled && s.workers.some((w) => w.enabled))) {
    report('stages', 'no enabled stage has an enabled pipeline: nothing would run');
  }

  // Recipients: batch names resolve (or '*').
  for (const { value, index } of items(doc.recipients)) {
    if (!isRecord(value)) continue;
    for (const ref of refs(value.batches, `recipients[${index}].batches`)) {
      if (ref.name !== ALL_BATCHES && !batchByName.has(ref.name)) {
        report(ref.path, `${unknownRef('batch', ref.name, batchByName)}; use "${ALL_BATCHES}" for every execution`);
      }
    }
  }

  // Dependencies: resolve, not self, strictly later stage, no repeats; then cycles.
  const edges = new Map<RawWorker, { to: RawWorker; path: string }[]>();
  for (const w of workers) {
    const out: { to: RawWorker; path: string }[] = [];
    edges.set(w, out);
    const seen = new Set<string>();
    for (const ref of w.dependsOn) {
      if (seen.has(ref.name)) {
        report(ref.path, `"${ref.name}" is listed more than once in dependsOn`);
        continue;
      }
      seen.add(ref.name);
      if (ref.name === w.name) {
        report(ref.path, `worker "${ref.name}" depends on itself`);
        continue;
      }
      const pred = workerByName.get(ref.name);
      if (!pred) {
        report(ref.path, unknownRef('worker', ref.name, workerByName));
        continue;
      }
      if (pred.stageIndex >= w.stageIndex) {
        const predStage = stages[pred.stageIndex];
        const ownStage = stages[w.stageIndex];
        report(
          ref.path,
          `predecessor "${ref.name}" is in stage "${predStage?.name ?? '?'}" (stages[${pred.stageIndex}]), ` +
            `not earlier than this worker's stage "${ownStage?.name ?? '?'}" (stages[${w.stageIndex}]); ` +
            'a dependant must sit in a strictly later stage than every predecessor',
        );
      }
      out.push({ to: pred, path: ref.path });
    }
  }
  for (const c of findCycles(workers, edges)) {
    report(c.path, `dependency cycle: ${c.names.join(' → ')}`);
  }
  return problems;
}

/** One cycle per DFS back edge: each reported once, at the dependsOn entry that closes it. */
function findCycles(
  nodes: RawWorker[],
  edges: Map<RawWorker, { to: RawWorker; path: string }[]>,
): { path: string; names: string[] }[] {
  const cycles: { path: string; names: string[] }[] = [];
  const state = new Map<RawWorker, 'active' | 'done'>();
  for (const root of nodes) {
    if (state.has(root)) continue;
    const stack: { node: RawWorker; next: number }[] = [{ node: root, next: 0 }];
    state.set(root, 'active');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const out = edges.get(top.node) ?? [];
      const edge = out[top.next++];
      if (!edge) {
        state.set(top.node, 'done');
        stack.pop();
        continue;
      }
      const s = state.get(edge.to);
      if (s === undefined) {
        state.set(edge.to, 'active');
        stack.push({ node: edge.to, next: 0 });
      } else if (s === 'active') {
        const from = stack.findIndex((f) => f.node === edge.to);
        const names = stack.slice(from).map((f) => f.node.name ?? '?');
        cycles.push({ path: edge.path, names: [...names, edge.to.name ?? '?'] });
      }
    }
  }
  return cycles;
}

function uniqueNames<T extends { name?: string; path: string }>(
  kind: string,
  list: T[],
  report: (path: string, message: string) => void,
): Map<string, T> {
  const byName = new Map<string, T>();
  const byFolded = new Map<string, T>();
  for (const item of list) {
    if (item.name === undefined) continue;
    const folded = item.name.toLowerCase();
    const first = byFolded.get(folded);
    if (first) {
      const how = first.name === item.name ? 'duplicate' : 'differs only in case from another';
      report(`${item.path}.name`, `${how} ${kind} name "${item.name}" (first at ${first.path}.name)`);
      continue;
    }
    byFolded.set(folded, item);
    byName.set(item.name, item);
  }
  return byName;
}

function unknownRef(kind: string, ref: string, known: Map<string, unknown>): string {
  const near = [...known.keys()].find((k) => k.toLowerCase() === ref.toLowerCase());
  return `unknown ${kind} "${ref}"${near ? `; did you mean "${near}"?` : ''}`;
}

// ---- Small helpers ---------------------------------------------------------------------

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
/** Absent or malformed `enabled` counts as true here; the schema reports malformed values. */
const bool = (x: unknown): boolean => (typeof x === 'boolean' ? x : true);
const items = (x: unknown): { value: unknown; index: number }[] =>
  Array.isArray(x) ? x.map((value: unknown, index) => ({ value, index })) : [];
const refs = (x: unknown, base: string): RawRef[] =>
  items(x).flatMap(({ value, index }) => (typeof value === 'string' && value !== '' ? [{ name: value, path: `${base}[${index}]` }] : []));

function jsonBytes(v: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Problems read top-down like the document: schema keys in schema order, list items by index,
 * other keys (factory and parameter names, unknown keys) in the order they were first reported.
 */
function sortInDocumentOrder(problems: FieldProblem[]): FieldProblem[] {
  const entries = problems.map((p, i) => ({ p, i, segs: parsePath(p.path) }));
  const firstSeen = new Map<string, number>();
  for (const e of entries) {
    for (let d = 1; d <= e.segs.length; d++) {
      const k = JSON.stringify(e.segs.slice(0, d));
      if (!firstSeen.has(k)) firstSeen.set(k, e.i);
    }
  }
  // Each segment ranks as (class, value): list indexes, then schema keys in schema order, then
  // other keys by first appearance. Distinct segments never tie, so the order is total.
  const rank = (segs: (string | number)[], d: number): [number, number] => {
    const seg = segs[d]!;
    if (typeof seg === 'number') return [0, seg];
    const known = allowedKeysAt(segs.slice(0, d)).indexOf(seg);
    if (known >= 0) return [1, known];
    return [2, firstSeen.get(JSON.stringify(segs.slice(0, d + 1))) ?? 0];
  };
  const compare = (a: (string | number)[], b: (string | number)[]): number => {
    for (let d = 0; d < Math.min(a.length, b.length); d++) {
      if (a[d] === b[d]) continue;
      const [ca, va] = rank(a, d);
      const [cb, vb] = rank(b, d);
      return ca - cb || va - vb;
    }
    return a.length - b.length;
  };
  return entries.sort((a, b) => compare(a.segs, b.segs) || a.i - b.i).map(({ p }) => p);
}

/** Inverse of formatPath; `$` is the empty path. */
export function parsePath(path: string): (string | number)[] {
  const segs: (string | number)[] = [];
  const re = /\.?([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy;
  if (path === '$') return segs;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) segs.push(m[1]);
    else if (m[2] !== undefined) segs.push(Number(m[2]));
    else if (m[3] !== undefined) segs.push(JSON.parse(m[3]) as string);
    if (re.lastIndex >= path.length) break;
  }
  return segs;
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
        return worker;
      }),
    })),
    batches: p.batches.map((b) => ({ name: b.name, stages: [...b.stages], enabled: b.enabled })),
    queues: p.queues.map((q) => ({ name: q.name, capacity: q.capacity })),
    recipients: p.recipients.map((r) => ({ email: r.email, on: [...r.on], batches: [...r.batches] })),
  };
}
