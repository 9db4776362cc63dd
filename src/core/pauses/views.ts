/**
 * What the email and the pages show about a pause. Values go to templates that escape every `{{value}}`;
 * nothing here builds markup.
 */
import { continuationParameters, publicStatus, type Pause } from './model';

const PREVIEW_CHARS = 20_000;
const EMAIL_PREVIEW_CHARS = 2_000;

/** `2026-03-01 14:05 UTC`: readable and unambiguous for an approver anywhere. */
export function readableTime(isoTime: string): string {
  return isoTime ? `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC` : '';
}

function pretty(value: unknown, max: number): string {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters; GET /api/pauses/{pauseId} returns all of it)` : text;
}

export const titleOf = (p: Pause) => p.subject ?? `Approval needed: ${p.continuation.target.pipeline}`;

/** The view of `templates/email/approval.*.mustache`. */
export function emailView(p: Pause, restartUrl: string) {
  return {
    title: titleOf(p),
    message: p.message ?? '',
    pipeline: p.continuation.target.pipeline,
    factory: p.continuation.target.factory,
    expiresAt: readableTime(p.expiresAt),
    pauseId: p.pauseId,
    restartUrl,
    dataPreview: p.data === undefined ? '' : pretty(p.data, EMAIL_PREVIEW_CHARS),
  };
}

/** The view shared by every page about one pause. */
export function pageView(p: Pause) {
  const params = continuationParameters(p);
  return {
    title: titleOf(p),
    message: p.message ?? '',
    pauseId: p.pauseId,
    status: publicStatus(p),
    pipeline: p.continuation.target.pipeline,
    factory: p.continuation.target.factory,
    resourceGroup: p.continuation.target.resourceGroup,
    subscriptionId: p.continuation.target.subscriptionId,
    parameters: Object.keys(params).length ? pretty(params, PREVIEW_CHARS) : '',
    data: p.data === undefined ? '' : pretty(p.data, PREVIEW_CHARS),
    onRejectPipeline: p.onReject?.target.pipeline ?? '',
    createdAt: readableTime(p.createdAt),
    expiresAt: readableTime(p.expiresAt),
    expiresAtIso: p.expiresAt,
    decision: p.decision ?? '',
    decidedAt: readableTime(p.decidedAt ?? ''),
    runId: p.runId ?? '',
    runStatus: p.runStatus ?? '',
    approved: p.status === 'Approved',
    rejected: p.status === 'Rejected',
    expired: p.status === 'Expired',
    /** A decision whose start Data Factory did not confirm: the page offers to retry it. */
    pendingApprove: p.status === 'Deciding' && p.decision === 'approve',
    pendingReject: p.status === 'Deciding' && p.decision === 'reject',
  };
}
