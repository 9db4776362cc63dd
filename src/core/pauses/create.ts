import { watchPause } from './alerts';
import type { Deps } from '../deps';
import { recordRequestCallback, type CallbackRequest } from '../outbox/outbox';
import { DomainError, notFound, payloadTooLarge, validationFailed, type FieldProblem } from '../errors';
import { NAME_LIMITS } from '../names';
import type { PipelineTarget } from '../ports';
import { resolveTarget, type RunReference } from '../runs/model';
import { addSeconds, iso } from '../util';
import { encodeJson, PAUSE_LIMITS, type Pause, type RunSpec } from './model';
import { hourOf, PauseStore } from './store';
import { issueToken } from './token';
import { emailView } from './views';

export interface PauseInput extends CallbackRequest {
  /** Optional when a Webhook activity waits (`callBackUri`): the pipeline then carries on in place. */
  continuation?: RunReference & { parameters?: Record<string, unknown>; pauseIdParameter?: string | false };
  onReject?: RunReference & { parameters?: Record<string, unknown> };
  /** Any JSON value. */
  data?: unknown;
  expiresInSeconds?: number;
  notify?: { to: string[]; cc?: string[]; subject?: string; message?: string; template?: string };
}

export interface CreatedPause {
  pause: Pause;
  /** The only copy of the token: it goes into the link and the 201, never into storage or logs. */
  token: string;
  restartUrl: string;
  /** Present when `notify` was given: whether the mail provider accepted the email. */
  notified?: boolean;
}

export { EXPIRY_CURSOR } from './store';
const MAX_PARAMETERS = NAME_LIMITS.maxParameters;

/**
 * PausePipeline: validates everything first (nothing is stored when anything is wrong), stores the pause
 * with the hash of a fresh token, and emails the approval link.
 */
export async function createPause(deps: Deps, input: PauseInput, baseUrl: string): Promise<CreatedPause> {
  const { continuation, onReject } = checkInput(deps, input);
  const dataText = input.data === undefined ? '' : encodeJson(input.data);
  if (dataText.length > PAUSE_LIMITS.dataChars)
    throw payloadTooLarge(`data is ${dataText.length} characters of JSON; a pause holds at most ${PAUSE_LIMITS.dataChars}.`);
  for (const [path, spec] of [['continuation', continuation], ['onReject', onReject]] as const) {
    const size = spec ? encodeJson(spec.parameters).length : 0;
    if (size > PAUSE_LIMITS.parametersChars)
      throw payloadTooLarge(`${path}.parameters is ${size} characters of JSON; at most ${PAUSE_LIMITS.parametersChars}.`);
  }
  await Promise.all([continuation && mustExist(deps, continuation.target, 'continuation'), onReject && mustExist(deps, onReject.target, 'onReject')]);

  const now = deps.clock.now();
  const { token, hash } = issueToken(deps.ids);
  const pauseId = deps.ids.newId();
  // Watched before it exists: its outcome's alert cannot be lost to a crash.
  await watchPause(deps, pauseId);
  const pause = await new PauseStore(deps.tables).create({
    pauseId,
    status: 'Waiting',
    tokenHash: hash,
    ...(continuation ? { continuation } : {}),
    ...(onReject ? { onReject } : {}),
    data: input.data,
    ...(input.notify?.subject ? { subject: input.notify.subject } : {}),
    ...(input.notify?.message ? { message: input.notify.message } : {}),
    createdAt: iso(now),
    expiresAt: iso(addSeconds(now, input.expiresInSeconds ?? deps.settings.pauseDefaultTtlSeconds)),
  });
  await ensureExpiryCursor(deps, iso(now));
  // A Webhook activity waits: the pause's outcome is called back, once (a retry of this request is the same callback).
  await recordRequestCallback(deps, { area: 'pause', id: pause.pauseId }, input);
  deps.log.info('pause created', { pauseId: pause.pauseId, pipeline: continuation?.target.pipeline ?? '(in place)', expiresAt: pause.expiresAt, webhook: !!input.callBackUri });

  // In the fragment, which browsers never send: no server, proxy or request log ever sees the token.
  const restartUrl = `${baseUrl}/api/restart#token=${token}`;
  if (!input.notify) return { pause, token, restartUrl };
  return { pause, token, restartUrl, notified: await notify(deps, pause, input.notify, restartUrl) };
}

/** Every semantic problem at once (the HTTP schema already checked the shapes). */
function checkInput(deps: Deps, input: PauseInput): { continuation?: Pause['continuation']; onReject?: RunSpec } {
  const problems: FieldProblem[] = [];
  const resolve = (ref: RunReference, prefix: string): PipelineTarget | undefined => {
    try {
      return resolveTarget(ref, deps.settings.defaultFactory, prefix);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      problems.push(...(e.errors ?? []));
      return undefined;
    }
  };
  const c = input.continuation;
  if (!c && !input.callBackUri) problems.push({ path: 'continuation', message: 'is required unless a callBackUri is given' });
  const target = c && resolve(c, 'continuation.');
  const rejectTarget = input.onReject && resolve(input.onReject, 'onReject.');
  const pauseIdParameter = c?.pauseIdParameter ?? 'pauseId';
  const parameters = c?.parameters ?? {};
  if (pauseIdParameter !== false) {
    if (pauseIdParameter in parameters)
      problems.push({ path: `continuation.parameters.${pauseIdParameter}`, message: `is set by the pause (pauseIdParameter '${pauseIdParameter}'); remove it or choose another pauseIdParameter` });
    if (Object.keys(parameters).length + 1 > MAX_PARAMETERS)
      problems.push({ path: 'continuation.parameters', message: `at most ${MAX_PARAMETERS - 1} parameters, since the pauseId is added` });
  }
  const ttl = input.expiresInSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= deps.settings.pauseMaxTtlSeconds))
    problems.push({ path: 'expiresInSeconds', message: `must be an integer from 1 to ${deps.settings.pauseMaxTtlSeconds}` });
  const template = input.notify?.template ?? 'approval';
  if (input.notify && !deps.templates.has(template)) problems.push({ path: 'notify.template', message: `there is no email template named '${template.slice(0, 64)}'` });
  if (problems.length || (c && !target)) throw validationFailed(problems);
  return {
    ...(target ? { continuation: { target, parameters, pauseIdParameter } } : {}),
    ...(input.onReject && rejectTarget ? { onReject: { target: rejectTarget, parameters: input.onReject.parameters ?? {} } } : {}),
  };
}

async function mustExist(deps: Deps, target: PipelineTarget, path: string): Promise<void> {
  if (!(await deps.factory.pipelineExists(target)))
    throw notFound('PipelineNotFound', `${path}: pipeline '${target.pipeline}' was not found in factory '${target.factory}'.`);
}

/** The sweep reads expiry buckets from this cursor on; it must exist before the first pause can expire. */
async function ensureExpiryCursor(deps: Deps, nowIso: string): Promise<void> {
  await new PauseStore(deps.tables).ensureExpiryCursor(hourOf(nowIso));
}

/**
 * Sends the approval email. A mail failure does not undo the pause: the caller already holds the
 * restartUrl, and a 5xx would make the ADF Web activity retry and create a second pause. The 201 says
 * `notified: false` and the failure is logged (by pauseId; never the addresses or the link).
 */
async function notify(deps: Deps, pause: Pause, n: NonNullable<PauseInput['notify']>, restartUrl: string): Promise<boolean> {
  try {
    const view = emailView(pause, restartUrl);
    const { html, text } = deps.templates.render(n.template ?? 'approval', view);
    await deps.mailer.send({ to: n.to, ...(n.cc?.length ? { cc: n.cc } : {}), subject: view.title, html, text });
    deps.log.info('approval email sent', { pauseId: pause.pauseId, recipients: n.to.length + (n.cc?.length ?? 0) });
    return true;
  } catch (e) {
    deps.log.warn('approval email not sent; the pause stands', { pauseId: pause.pauseId, error: (e as Error).name });
    return false;
  }
}
