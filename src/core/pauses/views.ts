/**
 * What the approval email shows about a pause (the pages' view is in src/http/views/pauses.ts). Values
 * go to templates that escape every `{{value}}`; nothing here builds markup.
 */
import type { Pause } from './model';

const EMAIL_PREVIEW_CHARS = 2_000;

/** `2026-03-01 14:05 UTC`: readable and unambiguous for an approver anywhere. */
export function readableTime(isoTime: string): string {
  return isoTime ? `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC` : '';
}

/** Indented JSON, cut at `max` characters with a note saying where the rest is. */
export function pretty(value: unknown, max: number): string {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters; GET /api/pauses/{pauseId} returns all of it)` : text;
}

export const titleOf = (p: Pause) => p.subject ?? (p.continuation ? `Approval needed: ${p.continuation.target.pipeline}` : 'Approval needed');

/** The view of `templates/email/approval.*.mustache`. */
export function emailView(p: Pause, restartUrl: string) {
  return {
    title: titleOf(p),
    message: p.message ?? '',
    inPlace: !p.continuation,
    pipeline: p.continuation?.target.pipeline ?? 'the waiting pipeline',
    factory: p.continuation?.target.factory ?? '',
    expiresAt: readableTime(p.expiresAt),
    pauseId: p.pauseId,
    restartUrl,
    dataPreview: p.data === undefined ? '' : pretty(p.data, EMAIL_PREVIEW_CHARS),
  };
}
