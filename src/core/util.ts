import { createHash, timingSafeEqual } from 'node:crypto';

/** Runs `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const sha256Hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export function constantTimeEqualHex(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}

/** JSON with sorted object keys, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const iso = (d: Date) => d.toISOString();
export const addSeconds = (d: Date, s: number) => new Date(d.getTime() + s * 1000);

/** Parses a JSON string property defensively. */
export function parseJson<T>(s: unknown, fallback: T): T {
  if (typeof s !== 'string' || s === '') return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
}

/** Table Storage keeps at most 64 KiB (32K UTF-16 units) per string property; we use 30,000. */
export const CHUNK_CHARS = 30_000;

/** Splits a long string over properties `${name}0..n` plus `${name}Chunks`; `maxChunks` bounds the entity size. */
export function splitChunks(name: string, text: string, maxChunks: number): Record<string, string | number> | undefined {
  const count = Math.max(1, Math.ceil(text.length / CHUNK_CHARS));
  if (count > maxChunks) return undefined;
  const out: Record<string, string | number> = { [`${name}Chunks`]: count };
  for (let i = 0; i < count; i++) out[`${name}${i}`] = text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  return out;
}

export function joinChunks(name: string, props: Record<string, unknown>): string | undefined {
  const count = Number(props[`${name}Chunks`] ?? 0);
  if (!count) return undefined;
  let s = '';
  for (let i = 0; i < count; i++) {
    const part = props[`${name}${i}`];
    s += typeof part === 'string' ? part : '';
  }
  return s;
}
