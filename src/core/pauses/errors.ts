import { DomainError } from '../errors';
import { outcomeOf, type Pause } from './model';

/**
 * A pause error that carries the pause it is about, so a page can show the outcome and a
 * problem+json can list `extensions` (never the data, never the token).
 */
export class PauseError extends DomainError {
  constructor(
    code: string,
    status: number,
    message: string,
    readonly pause?: Pause,
    readonly extensions: Record<string, unknown> = {},
    retryAfter?: number,
  ) {
    super(code, status, message, undefined, retryAfter);
  }
}

/** 404 TokenNotFound: no pause has this token (malformed, mistyped, or never issued). */
export const tokenNotFound = () => new PauseError('TokenNotFound', 404, 'This approval link is not valid.');

/** 404 PauseNotFound: no pause has this pauseId. */
export const pauseNotFound = (pauseId: string) => new PauseError('PauseNotFound', 404, `No pause '${pauseId.slice(0, 100)}'.`);

/** 410 TokenExpired: the pause passed its `expiresAt` while still waiting; nothing can be decided any more. */
export const tokenExpired = (p: Pause) =>
  new PauseError('TokenExpired', 410, `This approval link expired at ${p.expiresAt}.`, p, { expiresAt: p.expiresAt });

/** 409 AlreadyDecided: the pause was approved or rejected already (or a decision is being carried out). */
export const alreadyDecided = (p: Pause) => {
  const o = outcomeOf(p);
  const what =
    p.status === 'Deciding'
      ? `A decision (${p.decision ?? 'unknown'}) is already being carried out.`
      : `This pause was already ${o.status.toLowerCase()}${o.decidedAt ? ` at ${o.decidedAt}` : ''}.`;
  return new PauseError('AlreadyDecided', 409, what, p, { outcome: o });
};

/** 503 StartNotConfirmed: the decision stands, but Data Factory did not confirm the start yet; retry, or the sweep finishes it. */
export const startNotConfirmed = (p: Pause, retryAfter = 5) =>
  new PauseError(
    'StartNotConfirmed',
    503,
    'Data Factory did not confirm the start of the pipeline. The decision is kept; retry in a moment (the sweep also finishes it).',
    p,
    {},
    retryAfter,
  );

/** 503 UpstreamUnavailable: Data Factory is throttling or down; nothing was started and the pause is still Waiting. */
export const factoryUnavailable = (p: Pause, retryAfter = 5) =>
  new PauseError('UpstreamUnavailable', 503, 'Data Factory is unavailable. Nothing was started and the link still works: try again in a moment.', p, {}, retryAfter);

/** 422 ContinuationNotFound: the pipeline to start no longer exists; nothing was started and the pause is still Waiting. */
export const continuationNotFound = (p: Pause, pipeline: string, factory: string) =>
  new PauseError('ContinuationNotFound', 422, `Pipeline '${pipeline}' no longer exists in factory '${factory}'. Nothing was started; the link still works.`, p);

/** 422 ContinuationRejected: Data Factory refused to start the pipeline (e.g. its parameters); nothing was started. */
export const continuationRejected = (p: Pause, pipeline: string, upstreamCode: string) =>
  new PauseError('ContinuationRejected', 422, `Data Factory refused to start '${pipeline}' (${upstreamCode}); check its parameters. Nothing was started.`, p);
