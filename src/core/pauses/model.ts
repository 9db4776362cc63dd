import type { PipelineTarget, Props, Row } from '../ports';
import { CHUNK_CHARS, joinChunks, parseJson, splitChunks } from '../util';

/** The statuses of the HTTP contract. */
export type PauseStatus = 'Waiting' | 'Approved' | 'Rejected' | 'Expired';
/**
 * What is stored. `Deciding`: a decision won the conditional write and its pipeline (continuation or
 * onReject) is being started. It is shown as `Waiting` until the start is confirmed.
 */
export type StoredPauseStatus = PauseStatus | 'Deciding';
export type Decision = 'approve' | 'reject';

export interface RunSpec {
  target: PipelineTarget;
  parameters: Record<string, unknown>;
}

export interface Pause {
  pauseId: string;
  status: StoredPauseStatus;
  /** sha256 hex of the token; the token itself is never stored. */
  tokenHash: string;
  /** `pauseIdParameter: false` sends no pauseId to the continuation. */
  /** Absent when a Webhook activity waits on the pause instead (the pipeline carries on in place). */
  continuation?: RunSpec & { pauseIdParameter: string | false };
  onReject?: RunSpec;
  /** Any JSON value, exactly as given; `undefined` when none was given. */
  data: unknown;
  subject?: string;
  message?: string;
  createdAt: string;
  expiresAt: string;
  decision?: Decision;
  decidedAt?: string;
  /** While `Deciding`: the lease of whoever is starting the pipeline; `''` when released (a retry may take over). */
  leaseUntil?: string;
  /** The tracked run of the decision: the continuation (approve) or onReject (reject). */
  trackId?: string;
  runId?: string;
  /** Last known status of that run (`NotStarted` when Data Factory refused it). */
  runStatus?: string;
  etag: string;
}

/** RowKey = PartitionKey: a constant RowKey makes point reads scan in stores that index RowKey first (Azurite). */
export const pauseRowKey = (partitionKey: string) => partitionKey;
/** Token lookup row: PK `tok_<sha256 hex>`. Holds the pauseId only: the hash is not the token. */
export const tokenKey = (tokenHash: string) => `tok_${tokenHash}`;

/** Deterministic: a retried decision (or the sweep) finds the same claim instead of starting twice. */
export const trackIdFor = (pauseId: string, decision: Decision) => (decision === 'approve' ? `p_${pauseId}` : `p_${pauseId}_reject`);
export const decisionOfTrackId = (trackId: string): Decision => (trackId.endsWith('_reject') ? 'reject' : 'approve');

/**
 * Data and parameters are stored as JSON text. Astral characters (surrogate pairs) are written as `\uXXXX`
 * escapes, so that cutting the text into properties never separates the two halves of a pair.
 */
export function encodeJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/[\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Limits that keep a pause inside Table Storage's 1 MiB entity (strings count 2 bytes per UTF-16 unit):
 * data up to 15 properties of 30,000 characters (450,000 characters of JSON), each parameters object up
 * to 16,000 characters of JSON, the message up to 4,000 and the subject up to 200.
 */
export const PAUSE_LIMITS = {
  dataChunks: 15,
  dataChars: 15 * CHUNK_CHARS,
  parametersChars: 16_000,
  messageChars: 4_000,
  subjectChars: 200,
} as const;

/** The data as properties `data0..n` + `dataChunks`; none when no data was given. */
function dataProps(data: unknown): Record<string, string | number> {
  if (data === undefined) return {};
  const props = splitChunks('data', encodeJson(data), PAUSE_LIMITS.dataChunks);
  if (!props) throw new Error('pause data exceeds PAUSE_LIMITS.dataChars (checked before any write)');
  return props;
}

export function pauseToProps(p: Omit<Pause, 'etag'>): Props {
  const props: Props = {
    status: p.status,
    tokenHash: p.tokenHash,
    /** Informational (readable in Storage Explorer); `continuation` is what is used. */
    pipeline: p.continuation?.target.pipeline ?? '',
    continuation: p.continuation ? encodeJson(p.continuation) : '',
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    ...dataProps(p.data),
  };
  const opt: Array<[string, string | undefined]> = [
    ['onReject', p.onReject ? encodeJson(p.onReject) : undefined],
    ['subject', p.subject],
    ['message', p.message],
    ['decision', p.decision],
    ['decidedAt', p.decidedAt],
    ['leaseUntil', p.leaseUntil],
    ['trackId', p.trackId],
    ['runId', p.runId],
    ['runStatus', p.runStatus],
  ];
  for (const [k, v] of opt) if (v !== undefined) props[k] = v;
  return props;
}

export function pauseFromRow(row: Row): Pause {
  const p = row.props;
  const s = (k: string) => (typeof p[k] === 'string' ? p[k] : undefined);
  const text = joinChunks('data', p);
  return {
    pauseId: row.partitionKey,
    status: (s('status') ?? 'Waiting') as StoredPauseStatus,
    tokenHash: s('tokenHash') ?? '',
    ...(s('continuation') ? { continuation: parseJson<Pause['continuation']>(p.continuation, undefined) } : {}),
    ...(s('onReject') ? { onReject: parseJson<RunSpec | undefined>(p.onReject, undefined) } : {}),
    data: text === undefined ? undefined : (JSON.parse(text) as unknown),
    subject: s('subject'),
    message: s('message'),
    createdAt: s('createdAt') ?? '',
    expiresAt: s('expiresAt') ?? '',
    decision: s('decision') as Decision | undefined,
    decidedAt: s('decidedAt'),
    leaseUntil: s('leaseUntil'),
    trackId: s('trackId'),
    runId: s('runId'),
    runStatus: s('runStatus'),
    etag: row.etag,
  };
}

/** The status a caller sees: a decision whose start is not confirmed yet is still `Waiting`. */
export const publicStatus = (p: Pause): PauseStatus => (p.status === 'Deciding' ? 'Waiting' : p.status);

/** The parameters the continuation is started with: its own, plus the pauseId (never the token). */
export function continuationParameters(p: Pause): Record<string, unknown> {
  if (!p.continuation) return {};
  const name = p.continuation.pauseIdParameter;
  return name === false ? { ...p.continuation.parameters } : { ...p.continuation.parameters, [name]: p.pauseId };
}

/** What a decided pause's problem (409) and page show: the outcome, never the data. */
export const outcomeOf = (p: Pause) => ({
  pauseId: p.pauseId,
  status: publicStatus(p),
  ...(p.decision ? { decision: p.decision } : {}),
  ...(p.decidedAt ? { decidedAt: p.decidedAt } : {}),
  ...(p.runId ? { runId: p.runId } : {}),
});
