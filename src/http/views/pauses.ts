/**
 * What the API and the approval pages show about a pause. Page values go to templates that escape
 * every `{{value}}`; nothing here builds markup.
 */
import type { PipelineTarget } from '../../core/ports';
import { continuationParameters, publicStatus, type Pause } from '../../core/pauses/model';
import { pretty, readableTime, titleOf } from '../../core/pauses/views';

const PREVIEW_CHARS = 20_000;

const refView = (t: PipelineTarget) => ({
  pipeline: t.pipeline,
  factory: t.factory,
  resourceGroup: t.resourceGroup,
  subscriptionId: t.subscriptionId,
});

/** What pages and emails name as the pipeline of a pause a Webhook activity waits on. */
const IN_PLACE = 'the waiting pipeline';

/** The Pause view of the HTTP contract (plus onReject, runStatus and pendingDecision when there are any). */
export function toPauseView(p: Pause) {
  const final = p.status === 'Approved' || p.status === 'Rejected';
  return {
    pauseId: p.pauseId,
    status: publicStatus(p),
    ...(p.continuation ? { continuation: { ...refView(p.continuation.target), parameters: p.continuation.parameters, pauseIdParameter: p.continuation.pauseIdParameter } } : {}),
    data: p.data === undefined ? null : p.data,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    ...(final && p.decidedAt ? { decidedAt: p.decidedAt } : {}),
    ...(final && p.decision ? { decision: p.decision } : {}),
    ...(final && p.runId ? { runId: p.runId } : {}),
    ...(final && p.runStatus ? { runStatus: p.runStatus } : {}),
    ...(p.status === 'Deciding' && p.decision ? { pendingDecision: p.decision } : {}),
    ...(p.onReject ? { onReject: { ...refView(p.onReject.target), parameters: p.onReject.parameters } } : {}),
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
    inPlace: !p.continuation,
    pipeline: p.continuation?.target.pipeline ?? IN_PLACE,
    factory: p.continuation?.target.factory ?? '',
    resourceGroup: p.continuation?.target.resourceGroup ?? '',
    subscriptionId: p.continuation?.target.subscriptionId ?? '',
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

/**
 * What a person pastes into the open page's form: the token, the whole link (`…#token=…`, or a legacy
 * `?token=…`), or the link as a mail gateway rewrote it (percent-encoded inside its own URL).
 */
export function pastedToken(value: string): string {
  let text = value.trim();
  try {
    text = decodeURIComponent(text);
  } catch {
    // Not percent-encoding: take it as it is.
  }
  return /[#?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? text;
}
