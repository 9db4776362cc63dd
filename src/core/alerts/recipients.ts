/**
 * Who is told about an outcome. A recipient lists the outcomes it wants (`on`), and narrows them:
 * execution outcomes by `batches` and `workers`, queue-job outcomes by `queues`; `"*"` matches all.
 * Pause outcomes go to every recipient that lists them.
 */
import { ALL_BATCHES, type RecipientDef } from '../orchestration/metadata';

export type AlertSubject =
  | { kind: 'execution'; outcome: string; batch: string | null; workers: Array<{ name: string; status: string }> }
  | { kind: 'pause'; outcome: string }
  | { kind: 'job'; outcome: string; queue: string };

const matches = (list: string[], name: string | null) => list.includes(ALL_BATCHES) || (name !== null && list.includes(name));

function narrowedIn(r: RecipientDef, s: AlertSubject): boolean {
  // Metadata stored before `workers` and `queues` existed has neither: all.
  const workers = r.workers ?? [ALL_BATCHES];
  if (s.kind === 'pause') return true;
  if (s.kind === 'job') return matches(r.queues ?? [ALL_BATCHES], s.queue);
  if (!matches(r.batches ?? [ALL_BATCHES], s.batch)) return false;
  if (workers.includes(ALL_BATCHES)) return true;
  // Named workers: the execution ran one of them, and (unless it Succeeded) one of them did not succeed.
  const named = s.workers.filter((w) => workers.includes(w.name));
  return s.outcome === 'Succeeded' ? named.length > 0 : named.some((w) => w.status !== 'Succeeded');
}

/** The distinct addresses subscribed to this outcome. */
export function subscribers(recipients: RecipientDef[], subject: AlertSubject): string[] {
  return [...new Set(recipients.filter((r) => r.on.includes(subject.outcome) && narrowedIn(r, subject)).map((r) => r.email))];
}

/** Does anyone subscribe to one of these outcomes (for a job: on this queue)? Decides whether an owner is watched. */
export function anySubscriber(recipients: RecipientDef[], outcomes: readonly string[], queue?: string): boolean {
  return recipients.some((r) => r.on.some((o) => outcomes.includes(o)) && (queue === undefined || matches(r.queues ?? [ALL_BATCHES], queue)));
}
