import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { DomainError } from '../core/errors';
import type { Deps } from '../core/deps';
import { createPause } from '../core/pauses/create';
import { decidePause, openPause } from '../core/pauses/decide';
import { PauseError, tokenNotFound } from '../core/pauses/errors';
import { PAUSE_LIMITS, type Pause } from '../core/pauses/model';
import { getPause } from '../core/pauses/store';
import { json, parseBody, parseJsonText, readText, respond, validate, wantsJson } from '../http/respond';
import { htmlPage, respondPage, type PageErrors, type PageOptions } from '../http/pages';
import type { Problem } from '../http/problem';
import { CallbackFields, ParameterName, Parameters, PipelineRefShape } from '../http/schemas';
import { baseUrl } from '../http/urls';
import { pageView, pastedToken, toPauseView } from '../http/views/pauses';
import { callbackField, checkCallbackRequest } from '../core/outbox/outbox';
import { httpFunction } from './define';

const NoLineBreaks = /^[^\r\n]*$/;
const Emails = z.array(z.email('must be an email address')).max(50, 'at most 50 addresses');

export const pauseRequest = (deps: Deps) =>
  z
    .strictObject({
    ...CallbackFields,
    continuation: z
      .strictObject({
        ...PipelineRefShape,
        parameters: Parameters.optional(),
        pauseIdParameter: z.union([z.literal(false), z.string().regex(ParameterName, 'must be a parameter name or false')]).optional(),
      })
      .optional(),
    data: z.unknown().optional(),
    expiresInSeconds: z
      .number({ error: 'must be a number of seconds' })
      .int('must be an integer')
      .min(1, 'must be at least 1')
      .max(deps.settings.pauseMaxTtlSeconds, `must be at most ${deps.settings.pauseMaxTtlSeconds}`)
      .optional(),
    notify: z
      .strictObject({
        to: Emails.min(1, 'at least one recipient'),
        cc: Emails.optional(),
        subject: z.string().min(1).max(PAUSE_LIMITS.subjectChars).regex(NoLineBreaks, 'must be one line').optional(),
        message: z.string().max(PAUSE_LIMITS.messageChars).optional(),
        template: z.string().min(1).max(64).optional(),
      })
      .optional(),
    onReject: z.strictObject({ ...PipelineRefShape, parameters: Parameters.optional() }).optional(),
  })
    .superRefine((b, ctx) => {
      if (!b.continuation && !b.callBackUri) ctx.addIssue({ code: 'custom', path: ['continuation'], message: 'is required unless a callBackUri is given (a Webhook activity waiting in place)' });
    });

export const PausePipeline = httpFunction({
  name: 'PausePipeline',
  route: 'pauses',
  methods: ['POST'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const input = await parseBody(req, pauseRequest(d));
      checkCallbackRequest(d, input);
      const { pause, token, restartUrl, notified } = await createPause(d, input, baseUrl(d, req));
      const pauseUrl = `${baseUrl(d, req)}/api/pauses/${pause.pauseId}`;
      const body = { pauseId: pause.pauseId, token, restartUrl, expiresAt: pause.expiresAt, status: 'Waiting', pauseUrl, ...(notified === undefined ? {} : { notified }) };
      return json(201, body, { location: pauseUrl });
    }),
});

export const GetPause = httpFunction({
  name: 'GetPause',
  route: 'pauses/{pauseId}',
  methods: ['GET'],
  authLevel: 'function',
  make: (deps) => (req, ctx) =>
    respond(ctx, async () => {
      const d = deps(ctx);
      const pause = await getPause(d, req.params.pauseId ?? '');
      return json(200, { ...toPauseView(pause), ...(await callbackField(d, { area: 'pause', id: pause.pauseId })) });
    }),
});

/** `view` decides nothing: it answers what the legacy `GET ?token=` did (the confirmation page, or the pause as JSON). */
export const DecisionRequest = z.object({
  token: z.string('must be a string').max(1000),
  decision: z.enum(['approve', 'reject', 'view'], 'must be approve, reject or view'),
});

/**
 * Every page of the approval flow carries this one script, allowed by its hash: it reads the token from
 * the link's fragment and POSTs it. Any of them may be the page showing when a new link is opened in the
 * same tab, and only the fragment changes then, so no page loads.
 */
const PAGE: PageOptions = { script: 'open-link.js' };

/**
 * GET/HEAD: the page the approval link (`/api/restart#token=…`) opens. It shows nothing about any pause: the
 * browser keeps the fragment to itself, and the page's script (or the person, pasting) POSTs the token.
 * A legacy link (`?token=…`, sent before the token moved to the fragment) still shows its confirmation page
 * until it expires. GET and HEAD never change anything: mail scanners prefetch links.
 * POST (form or JSON): `view` shows the confirmation page; `approve` or `reject` decides.
 * JSON instead of HTML when the client sends `Accept: application/json`.
 */
export const RestartPipeline = httpFunction({
  name: 'RestartPipeline',
  route: 'restart',
  methods: ['GET', 'HEAD', 'POST'],
  authLevel: 'anonymous',
  make: (deps) => (req, ctx) => {
    const asJson = wantsJson(req);
    return respondPage(ctx, asJson, restartErrors, async () => {
      const d = deps(ctx);
      const action = new URL(req.url).pathname;
      if (req.method === 'POST') {
        const { token, decision } = await readDecision(req);
        if (decision === 'view') return confirmation(d, token, asJson, action);
        const pause = await decidePause(d, token, decision);
        if (asJson) return json(200, toPauseView(pause));
        return htmlPage(200, pause.status === 'Approved' ? 'approved' : 'rejected', { ...pageView(pause), pageTitle: pause.status }, {}, PAGE);
      }
      const legacyToken = req.query.get('token');
      if (legacyToken) return confirmation(d, legacyToken, asJson, action, true);
      if (asJson) throw tokenNotFound();
      return htmlPage(200, 'open', { pageTitle: 'Review a paused pipeline', action }, {}, PAGE);
    });
  },
});

/** The confirmation page (or the pause as JSON): read-only, whatever it finds. */
async function confirmation(d: Deps, token: string, asJson: boolean, action: string, legacy = false): Promise<HttpResponseInit> {
  const pause = await openPause(d, token);
  // Tells operators when the last query-string link has gone, so that branch can be deleted.
  if (legacy) d.log.info('legacy approval link (token in the query) opened', { pauseId: pause.pauseId });
  if (asJson) return json(200, toPauseView(pause));
  // A legacy page's URL has a query, so a new link opened from it loads a page of its own: no script needed.
  return htmlPage(200, 'confirm', { ...pageView(pause), pageTitle: 'Approve or reject', token, action }, {}, legacy ? {} : PAGE);
}

async function readDecision(req: HttpRequest): Promise<z.infer<typeof DecisionRequest>> {
  const type = (req.headers.get('content-type') ?? '').toLowerCase();
  const text = await readText(req);
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const form = validate(DecisionRequest, Object.fromEntries(new URLSearchParams(text)));
    return { ...form, token: pastedToken(form.token) };
  }
  if (type === '' || /^application\/([\w.+-]+\+)?json\b/.test(type)) return validate(DecisionRequest, parseJsonText(text));
  throw new DomainError('UnsupportedMediaType', 415, 'Send application/x-www-form-urlencoded or application/json.');
}

const PAGE_OF: Record<string, string> = {
  TokenNotFound: 'not-found',
  TokenExpired: 'expired',
  AlreadyDecided: 'decided',
  StartNotConfirmed: 'start-failed',
  UpstreamUnavailable: 'start-failed',
  ContinuationNotFound: 'start-failed',
  ContinuationRejected: 'start-failed',
};
/** Start failures after which nothing runs and the pause is Waiting again (the others keep the decision). */
const REOPENED = new Set(['UpstreamUnavailable', 'ContinuationNotFound', 'ContinuationRejected']);
const HEADINGS: Record<number, string> = { 400: 'The request is not valid', 415: 'Unsupported request', 500: 'Something went wrong', 503: 'Try again in a moment' };

const restartErrors: PageErrors = {
  page(problem: Problem, e: unknown) {
    const pause: Pause | undefined = e instanceof PauseError ? e.pause : undefined;
    const template = (pause || problem.code === 'TokenNotFound') && PAGE_OF[problem.code];
    const common = { pageTitle: problem.title, detail: problem.detail, retryAfter: e instanceof DomainError ? (e.retryAfter ?? '') : '' };
    if (template) return { template, view: { ...(pause ? pageView(pause) : {}), ...common, reopened: REOPENED.has(problem.code) } };
    return { template: 'error', view: { ...common, status: problem.status, heading: HEADINGS[problem.status] ?? problem.title, errors: problem.errors ?? [] } };
  },
  extensions: (e) => (e instanceof PauseError ? e.extensions : {}),
  options: PAGE,
};
