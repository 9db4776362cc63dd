/**
 * Alert emails for pause outcomes (Approved, Rejected, Expired), once each, to the metadata's recipients that
 * subscribe to them. A pause someone subscribes to is watched from its creation (`watchAlert`), so a crash
 * between its outcome and the email delays the email, never loses it.
 */
import { anySubscriber, subscribers } from '../alerts/recipients';
import type { Deps } from '../deps';
import { currentMetadata } from '../orchestration/metadata-store';
import { PAUSE_OUTCOMES } from '../orchestration/metadata';
import { armAlert, watchAlert, type AlertResolver } from '../outbox/outbox';
import { PauseStore } from './store';

const owner = (pauseId: string) => ({ area: 'pause' as const, id: pauseId });

/** Before a pause exists: watch it when anyone subscribes to a pause outcome. */
export async function watchPause(deps: Deps, pauseId: string): Promise<void> {
  const recipients = (await currentMetadata(deps))?.metadata.recipients ?? [];
  if (anySubscriber(recipients, PAUSE_OUTCOMES)) await watchAlert(deps, owner(pauseId));
}

/** The email of a pause's outcome; null when nobody subscribes to it; undefined while it is open. */
export const pauseAlert: AlertResolver = async (deps, pauseId) => {
  const p = await new PauseStore(deps.tables).get(pauseId);
  if (!p) return null;
  if (p.status !== 'Approved' && p.status !== 'Rejected' && p.status !== 'Expired') return undefined;
  const to = subscribers((await currentMetadata(deps))?.metadata.recipients ?? [], { kind: 'pause', outcome: p.status });
  if (to.length === 0) return null;
  const base = deps.settings.publicBaseUrl;
  const view = {
    pauseId: p.pauseId,
    status: p.status,
    pipeline: p.continuation?.target.pipeline ?? '(in place: a Webhook activity waits)',
    factory: p.continuation?.target.factory ?? '',
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    decidedAt: p.decidedAt ?? '',
    runId: p.runId ?? '',
    subject: p.subject ?? '',
    pauseUrl: base ? `${base}/api/pauses/${p.pauseId}` : '',
    dashboardUrl: base ? `${base}/api/dashboard` : '',
  };
  const { html, text } = deps.templates.render('pause-alert', view);
  return { to, subject: `[adf-conductor] pause ${p.status}: ${view.pipeline}`, html, text };
};

/** A pause reached its outcome: its alert, if watched, goes now (the sweep retries what fails). */
export async function alertPause(deps: Deps, pauseId: string): Promise<void> {
  await armAlert(deps, owner(pauseId), pauseAlert).catch((e: unknown) => deps.log.warn('pause alert not sent yet; the sweep retries', { pauseId, error: (e as Error).name }));
}
