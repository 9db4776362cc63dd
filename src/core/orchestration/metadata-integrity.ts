/**
 * Integrity rules across an orchestration metadata document: unique names, references that resolve
 * (factories, stages, batches, predecessors), predecessors in strictly earlier stages, no cycles.
 *
 * These run on the raw document, whatever its schema problems, and look only at the parts that
 * have the right shape. Schema problems and integrity problems are thus reported together.
 */
import type { FieldProblem } from '../errors';
import { formatPath } from '../field-problems';
import { KEY_MSG, KEY_RE } from '../names';
import { ALL_BATCHES, DEFAULT_FACTORY } from './metadata';
import { placeholderProblems } from './placeholders';

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
  queue?: RawRef;
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

/** Every integrity problem of a parsed (but not yet schema-checked) document. */
export function integrityProblems(doc: Record<string, unknown>): FieldProblem[] {
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
        const q = str(wr.queue);
        problems.push(...placeholderProblems(wr.parameters, ['stages', index, 'pipelines', k, 'parameters']));
        return {
          queue: q === undefined ? undefined : { name: q, path: `${wp}.queue` },
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
  const queueByName = uniqueNames(
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

  // Shared limits: a worker's queue is declared.
  for (const w of workers) if (w.queue && !queueByName.has(w.queue.name)) report(w.queue.path, `${unknownRef('queue', w.queue.name, queueByName)}; declare it under queues`);

  // Recipients: batch, worker and queue names resolve (or '*').
  const narrowing = [
    ['batches', 'batch', batchByName, 'every execution'],
    ['workers', 'worker', workerByName, 'every worker'],
    ['queues', 'queue', queueByName, 'every queue'],
  ] as const;
  for (const { value, index } of items(doc.recipients)) {
    if (!isRecord(value)) continue;
    for (const [field, kind, known, all] of narrowing) {
      for (const ref of refs(value[field], `recipients[${index}].${field}`)) {
        if (ref.name !== ALL_BATCHES && !known.has(ref.name)) report(ref.path, `${unknownRef(kind, ref.name, known)}; use "${ALL_BATCHES}" for ${all}`);
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

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
/** Absent or malformed `enabled` counts as true here; the schema reports malformed values. */
const bool = (x: unknown): boolean => (typeof x === 'boolean' ? x : true);
const items = (x: unknown): { value: unknown; index: number }[] =>
  Array.isArray(x) ? x.map((value: unknown, index) => ({ value, index })) : [];
const refs = (x: unknown, base: string): RawRef[] =>
  items(x).flatMap(({ value, index }) => (typeof value === 'string' && value !== '' ? [{ name: value, path: `${base}[${index}]` }] : []));
