import type { Deps } from '../deps';
import { conflict, Conflict, payloadTooLarge } from '../errors';
import { HOT_ROW_ATTEMPTS, ignore, retryOnConflict } from '../retry';
import { iso, joinChunks, splitChunks } from '../util';
import type { Metadata } from './metadata';

const PK = 'metadata';
const CURRENT = 'current';
const versionKey = (v: number) => `v${String(v).padStart(10, '0')}`;
/** 28 × 30,000 characters stays well under the 1 MiB entity limit. */
const MAX_CHUNKS = 28;

export interface StoredMetadata {
  version: number;
  metadata: Metadata;
  /** The document as submitted (YAML or JSON text). */
  source: string;
  updatedAt: string;
}

/** Stores a validated document as a new version, and points `current` at it (conditional writes). */
export async function saveMetadata(deps: Deps, metadata: Metadata, source: string): Promise<StoredMetadata> {
  const t = deps.tables.table('Metadata');
  const doc = splitChunks('doc', JSON.stringify(metadata), MAX_CHUNKS);
  const src = splitChunks('src', source, MAX_CHUNKS);
  if (!doc || !src) throw payloadTooLarge('The metadata document is too large to store (limit about 800 KB).');
  return retryOnConflict(
    deps,
    () => t.get(PK, CURRENT),
    async (current) => {
      const version = Number(current?.props.version ?? 0) + 1;
      const updatedAt = iso(deps.clock.now());
      // Conflict: another writer took this version number first.
      await t.insert(PK, versionKey(version), { version, updatedAt, ...doc });
      await t.insert(`${PK}-src`, versionKey(version), src).catch(ignore(Conflict));
      const pointer = { version, updatedAt };
      if (current) await t.update(PK, CURRENT, pointer, current.etag);
      else await t.insert(PK, CURRENT, pointer);
      return { version, metadata, source, updatedAt };
    },
    HOT_ROW_ATTEMPTS,
  ).catch((e: unknown) => {
    if (e instanceof Conflict) throw conflict('MetadataChanged', 'The metadata was being replaced by other requests at the same time; retry.');
    throw e;
  });
}

/** What `PUT /metadata` answers: the new version and what it holds. */
export interface MetadataSummary {
  version: number;
  updatedAt: string;
  stages: number;
  workers: number;
  batches: string[];
  queues: string[];
}

/** Applies a validated document: stores it as the next version and sums it up. */
export async function applyMetadata(deps: Deps, metadata: Metadata, source: string): Promise<MetadataSummary> {
  const stored = await saveMetadata(deps, metadata, source);
  const m = stored.metadata;
  return {
    version: stored.version,
    updatedAt: stored.updatedAt,
    stages: m.stages.length,
    workers: m.stages.reduce((n, s) => n + s.pipelines.length, 0),
    batches: m.batches.map((b) => b.name),
    queues: m.queues.map((q) => q.name),
  };
}

export async function loadMetadataVersion(deps: Deps, version: number): Promise<StoredMetadata | undefined> {
  const t = deps.tables.table('Metadata');
  const row = await t.get(PK, versionKey(version));
  if (!row) return undefined;
  const src = await t.get(`${PK}-src`, versionKey(version));
  return {
    version,
    metadata: JSON.parse(joinChunks('doc', row.props) ?? '{}') as Metadata,
    source: (src && joinChunks('src', src.props)) ?? '',
    updatedAt: String(row.props.updatedAt),
  };
}

const cache = new WeakMap<object, StoredMetadata>();

/** The current document, or undefined if none was ever stored. Versions are immutable, so they cache. */
export async function currentMetadata(deps: Deps): Promise<StoredMetadata | undefined> {
  const pointer = await deps.tables.table('Metadata').get(PK, CURRENT);
  if (!pointer) return undefined;
  const version = Number(pointer.props.version);
  const cached = cache.get(deps.tables);
  if (cached?.version === version) return cached;
  const loaded = await loadMetadataVersion(deps, version);
  if (loaded) cache.set(deps.tables, loaded);
  return loaded;
}
