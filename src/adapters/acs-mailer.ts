/**
 * AcsMailer: the Mailer port on Azure Communication Services Email (`@azure/communication-email`).
 *
 * `send` returns as soon as ACS has ACCEPTED the message (the 202 of `POST /emails:send`); it never
 * waits for delivery (`pollUntilDone`), because an HTTP request must not block on a mail server.
 * Each send carries a fresh client-chosen `Operation-Id`, so the SDK's automatic retries of the POST
 * (5xx, 429, network) are idempotent on the service side and the id is known even if a response is lost.
 *
 * Errors: 429 → Throttled, 5xx / network → Unavailable (the message may or may not be queued),
 * any other 4xx (401 bad key, 400 bad message…) → Rejected. Recipients and bodies are never logged.
 */
import { randomUUID } from 'node:crypto';
import type { KeyCredential, TokenCredential } from '@azure/core-auth';
import { EmailClient, type EmailClientOptions, type EmailMessage } from '@azure/communication-email';
import { Rejected, Throttled, Unavailable } from '../core/errors';
import type { Logger, MailMessage, Mailer, SendOptions } from '../core/ports';
import { retryAfterOf, statusCodeOf } from './http-errors';

export interface AcsMailerOptions {
  /** `endpoint=https://…;accesskey=…` */
  connectionString?: string;
  /** `https://<resource>.communication.azure.com`, used with `credential` (managed identity). */
  endpoint?: string;
  credential?: TokenCredential | KeyCredential;
  /** A verified sender address, e.g. `DoNotReply@<domain>`. */
  sender: string;
  /** Extra CA certificate (PEM) to trust: the local fake's self-signed one. */
  tlsCa?: string;
  /** Pipeline retry settings (the SDK retries 429/5xx/network by default, 3 times). */
  retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  logger?: Logger;
}

/** ACS's status of an email operation. */
export type EmailDeliveryStatus = 'NotStarted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

const API_VERSION = '2025-09-01';

export class AcsMailer implements Mailer {
  private readonly client: EmailClient;
  private readonly endpoint: string;
  private readonly sender: string;
  private readonly logger: Logger | undefined;

  constructor(options: AcsMailerOptions) {
    const clientOptions: EmailClientOptions = {
      ...(options.tlsCa !== undefined ? { tlsOptions: { ca: options.tlsCa } } : {}),
      ...(options.retryOptions !== undefined ? { retryOptions: options.retryOptions } : {}),
    };
    if (options.connectionString !== undefined && options.connectionString !== '') {
      this.client = new EmailClient(options.connectionString, clientOptions);
      this.endpoint = endpointOf(options.connectionString);
    } else if (options.endpoint !== undefined && options.credential !== undefined) {
      this.client = new EmailClient(options.endpoint, options.credential, clientOptions);
      this.endpoint = options.endpoint.replace(/\/+$/, '');
    } else {
      throw new Error('AcsMailer needs a connectionString, or an endpoint and a credential');
    }
    this.sender = options.sender;
    this.logger = options.logger;
  }

  async send(message: MailMessage, options?: SendOptions): Promise<{ id: string }> {
    // The durable outbox's key makes every resend of one message the same ACS operation.
    const operationId = options?.idempotencyKey ?? randomUUID();
    const repeatability = {
      'Repeatability-Request-Id': operationId,
      'Repeatability-First-Sent': (options?.firstAttemptAt ?? new Date()).toUTCString(),
    };
    const email: EmailMessage = {
      senderAddress: this.sender,
      content: { subject: message.subject, plainText: message.text, html: message.html },
      ...(message.inline?.length ? { attachments: message.inline.map((i) => ({ name: i.name, contentType: i.contentType, contentInBase64: i.contentBase64, contentId: i.contentId })) } : {}),
      recipients: {
        to: message.to.map((address) => ({ address })),
        ...(message.cc !== undefined && message.cc.length > 0 ? { cc: message.cc.map((address) => ({ address })) } : {}),
      },
    };
    // beginSend sends the POST and then polls once; only the POST's verdict matters here.
    let acceptedId: string | undefined;
    try {
      const poller = await this.client.beginSend(email, {
        operationId,
        requestOptions: { customHeaders: repeatability },
        onResponse: (raw) => {
          if (raw.request.method === 'POST' && raw.status >= 200 && raw.status < 300) {
            acceptedId = idOf(raw.parsedBody) ?? raw.headers.get('operation-id') ?? operationId;
          }
        },
      });
      const id = acceptedId ?? poller.getOperationState().result?.id ?? operationId;
      this.logger?.info('email accepted', { operationId: id });
      return { id };
    } catch (e) {
      if (acceptedId !== undefined) {
        // Accepted; only the first status poll failed (or reported an early failure). Delivery is not our wait.
        this.logger?.warn('email accepted, first status poll failed', { operationId: acceptedId, error: describe(e) });
        return { id: acceptedId };
      }
      const mapped = mapError(e);
      this.logger?.warn('email not accepted', { operationId, error: mapped.name, code: errorCode(e) });
      // An inline image the service refuses (its type, its size) must not cost the email: every fact is in the text too.
      if (mapped instanceof Rejected && message.inline?.length) {
        this.logger?.warn('email refused with its inline images; sending it without them', { operationId });
        return this.send({ ...message, inline: [] }, options);
      }
      throw mapped;
    }
  }

  /** Whether ACS knows an operation with this id (it accepted that message), past the repeatability window. */
  async accepted(idempotencyKey: string): Promise<boolean> {
    try {
      return (await this.deliveryStatus(idempotencyKey)) !== 'Failed';
    } catch (e) {
      if (statusCodeOf(e) === 404 || (e instanceof Rejected && /404|NotFound/i.test(`${e.upstreamCode} ${e.message}`))) return false;
      throw e;
    }
  }

  /** The delivery status of an operation id returned by `send` (one GET, no waiting). */
  async deliveryStatus(id: string): Promise<EmailDeliveryStatus> {
    const resumeFrom = JSON.stringify({
      state: {
        status: 'running',
        config: {
          operationLocation: `${this.endpoint}/emails/operations/${encodeURIComponent(id)}?api-version=${API_VERSION}`,
          metadata: { mode: 'OperationLocation' },
        },
      },
    });
    let status: string | undefined;
    try {
      // The message is ignored when resuming: only the status GET is sent.
      await this.client.beginSend(
        { senderAddress: this.sender, content: { subject: '', plainText: '' }, recipients: { to: [] } },
        {
          resumeFrom,
          onResponse: (raw) => {
            if (raw.status === 200) status = statusOf(raw.parsedBody);
          },
        },
      );
    } catch (e) {
      // A Failed/Canceled operation makes the poller throw; the body already told us.
      if (status === undefined) throw mapError(e);
    }
    return (status ?? 'Running') as EmailDeliveryStatus;
  }
}

/** Maps an SDK/pipeline error to the port's errors. */
export function mapError(e: unknown): Error {
  const status = statusCodeOf(e);
  if (status === 429) return new Throttled(retryAfterOf(e) ?? 5, 'the email service is throttling');
  if (status !== undefined && (status >= 500 || status === 408)) {
    return new Unavailable(`the email service failed (${status})`, retryAfterOf(e) ?? 5);
  }
  if (status !== undefined && status >= 400) {
    return new Rejected(errorCode(e) ?? `Http${status}`, `the email service refused the message (${status})`);
  }
  if (isNetworkError(e)) return new Unavailable('the email service is unreachable');
  return e instanceof Error ? e : new Error(String(e));
}

// ---- helpers ---------------------------------------------------------------------------

interface RestErrorLike {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  response?: { headers?: { get(name: string): string | undefined } };
}

function errorCode(e: unknown): string | undefined {
  const c = (e as RestErrorLike | undefined)?.code;
  return typeof c === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(c) ? c : undefined;
}

function isNetworkError(e: unknown): boolean {
  const err = e as RestErrorLike | undefined;
  if (!err || typeof err !== 'object') return false;
  const code = typeof err.code === 'string' ? err.code : '';
  return (
    code === 'REQUEST_SEND_ERROR' ||
    /^E[A-Z]+$/.test(code) ||
    err.name === 'AbortError' ||
    (err.name === 'RestError' && err.statusCode === undefined)
  );
}

function idOf(body: unknown): string | undefined {
  const id = (body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function statusOf(body: unknown): string | undefined {
  const s = (body as { status?: unknown } | undefined)?.status;
  return typeof s === 'string' ? s : undefined;
}

function describe(e: unknown): string {
  const status = statusCodeOf(e);
  return status !== undefined ? `http ${status}` : e instanceof Error ? e.name : 'error';
}

function endpointOf(connectionString: string): string {
  const m = /(?:^|;)\s*endpoint=([^;]+)/i.exec(connectionString);
  if (!m?.[1]) throw new Error('the email connection string has no endpoint');
  return m[1].trim().replace(/\/+$/, '');
}
