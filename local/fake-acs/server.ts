/**
 * A local fake of the Azure Communication Services Email data plane, over HTTPS with a
 * self-signed certificate, so the real `@azure/communication-email` client (and its HMAC
 * access-key policy from `@azure/communication-common`) runs unchanged against it.
 *
 * It speaks the real shapes (api-version 2025-09-01 and earlier):
 * - `POST /emails:send?api-version=…` with the EmailMessage JSON → 202, `Operation-Location`,
 *   `operation-id`, body `{id, status: "Running"}`;
 * - `GET /emails/operations/{id}?api-version=…` → 200 `{id, status}`;
 * - every request must carry a valid ACS HMAC-SHA256 signature:
 *   `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<b64>`
 *   over `${METHOD}\n${pathAndQuery}\n${date};${host};${contentHash}` keyed by the base64-decoded
 *   access key, plus `x-ms-content-sha256` = base64 SHA-256 of the body. Otherwise 401.
 * A client-chosen `Operation-Id` (or `Repeatability-Request-ID`) makes a resend idempotent:
 * the same operation is answered again and no second email is queued.
 *
 * Development tool only; never deployed. `node dist/local/fake-acs/server.js [port]` runs it alone.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificate } from '../tls';

export interface FakeAcsOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** base64; a random 64-byte key by default. */
  accessKey?: string;
  /** How long an accepted email stays `Running` before `Succeeded`; `null` = forever. Default 0. */
  deliveryDelayMs?: number | null;
  /** Reject requests whose x-ms-date is further than this from now (ACS allows 15 minutes). */
  maxClockSkewMs?: number;
  /** Attachment content types refused with 400 (ACS allows only a listed set of types). */
  refusedAttachmentTypes?: string[];
}

export interface FakeAcsEmailBody {
  senderAddress?: string;
  recipients?: {
    to?: Array<{ address: string; displayName?: string }>;
    cc?: Array<{ address: string; displayName?: string }>;
    bcc?: Array<{ address: string; displayName?: string }>;
  };
  content?: { subject?: string; plainText?: string; html?: string };
  [key: string]: unknown;
}

export interface FakeAcsRequest {
  method: string;
  /** Path without the query, e.g. `/emails:send`. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON body (undefined when there is none or it is not JSON). */
  body: FakeAcsEmailBody | undefined;
  contentHashValid: boolean;
  signatureValid: boolean;
  /** The status the fake answered. */
  status: number;
  operationId?: string;
  /** True when the request repeated an earlier operation (same Operation-Id / Repeatability-Request-ID). */
  duplicate?: boolean;
  repeatabilityRequestId?: string;
  repeatabilityFirstSent?: string;
  receivedAt: string;
}

export type FakeAcsStatus = 'NotStarted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

export interface FakeAcsOperation {
  id: string;
  status: FakeAcsStatus;
  message: FakeAcsEmailBody;
  acceptedAt: number;
}

export interface FakeAcsFault {
  status: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  code?: string;
  /** How many `emails:send` requests to fail (default 1). */
  count?: number;
  /** Accept and queue the email, but answer with the fault anyway: a lost response. */
  afterAccept?: boolean;
}

export interface FakeAcs {
  /** `https://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  /** PEM of the self-signed certificate; trust it with `tlsOptions: {ca}`. */
  ca: string;
  /** base64 */
  accessKey: string;
  /** `endpoint=https://127.0.0.1:PORT/;accesskey=…` */
  connectionString: string;
  /** Every request received, in order, including refused ones. */
  requests: FakeAcsRequest[];
  /** Accepted operations by id. */
  operations: Map<string, FakeAcsOperation>;
  /** Fail the next `emails:send` request(s) after authentication. */
  failNext(fault: FakeAcsFault): void;
  /** Sets an operation's status by hand (e.g. `Failed`). */
  setStatus(id: string, status: FakeAcsStatus): void;
  close(): Promise<void>;
}

const SIGNED_HEADERS_REQUIRED = ['host', 'x-ms-content-sha256'];

export async function startFakeAcs(options: FakeAcsOptions = {}): Promise<FakeAcs> {
  const host = options.host ?? '127.0.0.1';
  const accessKey = options.accessKey ?? randomBytes(64).toString('base64');
  const key = Buffer.from(accessKey, 'base64');
  const deliveryDelayMs = options.deliveryDelayMs === undefined ? 0 : options.deliveryDelayMs;
  const maxClockSkewMs = options.maxClockSkewMs ?? 15 * 60_000;

  const pems = await generateCertificate(host);

  const requests: FakeAcsRequest[] = [];
  const operations = new Map<string, FakeAcsOperation>();
  const repeatability = new Map<string, string>();
  const faults: FakeAcsFault[] = [];
  let baseUrl = '';

  const server = createServer({ key: pems.key, cert: pems.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch {
        sendJson(res, 500, { error: { code: 'InternalServerError', message: 'fake-acs failed' } });
      }
    });
  });

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://fake-acs.invalid');
    const headers = lowerHeaders(req);
    const record: FakeAcsRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      headers,
      body: parseJson(raw),
      contentHashValid: false,
      signatureValid: false,
      status: 0,
      receivedAt: new Date().toISOString(),
    };
    if (headers['repeatability-request-id'] !== undefined) record.repeatabilityRequestId = headers['repeatability-request-id'];
    if (headers['repeatability-first-sent'] !== undefined) record.repeatabilityFirstSent = headers['repeatability-first-sent'];
    requests.push(record);
    const reply = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, body, extra);
    };

    // ---- authentication, exactly as ACS checks it
    const contentHash = createHash('sha256').update(raw).digest('base64');
    record.contentHashValid = safeEqual(headers['x-ms-content-sha256'] ?? '', contentHash);
    // The client signs the path and the query re-serialized by URLSearchParams.
    const query = url.searchParams.toString();
    const pathAndQuery = query ? `${url.pathname}?${query}` : url.pathname;
    record.signatureValid = verifySignature(method, pathAndQuery, headers, key);
    if (!record.contentHashValid || !record.signatureValid) {
      return reply(401, { error: { code: 'Denied', message: 'Denied by the resource provider.' } });
    }
    const date = Date.parse(headers['x-ms-date'] ?? headers['date'] ?? '');
    if (!Number.isFinite(date) || Math.abs(Date.now() - date) > maxClockSkewMs) {
      record.signatureValid = false;
      return reply(401, { error: { code: 'Denied', message: 'The request date is missing or outside the allowed skew.' } });
    }
    const apiVersion = url.searchParams.get('api-version');
    if (!apiVersion) {
      return reply(400, { error: { code: 'MissingApiVersionParameter', message: 'The api-version query parameter is required.' } });
    }

    // ---- routes
    if (method === 'POST' && url.pathname === '/emails:send') return send(record, apiVersion, reply);
    const op = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && op?.[1] !== undefined) {
      const found = operations.get(decodeURIComponent(op[1]));
      if (!found) return reply(404, { error: { code: 'NotFound', message: 'Operation not found.' } });
      advance(found);
      return reply(200, {
        id: found.id,
        status: found.status,
        ...(found.status === 'Failed' ? { error: { code: 'DeliveryFailed', message: 'The fake failed this email.' } } : {}),
      });
    }
    return reply(404, { error: { code: 'NotFound', message: 'No such route.' } });
  }

  function send(record: FakeAcsRequest, apiVersion: string, reply: (s: number, b: unknown, h?: Record<string, string>) => void): void {
    const fault = faults[0];
    if (fault && !fault.afterAccept) {
      takeFault();
      return reply(fault.status, { error: { code: fault.code ?? codeFor(fault.status), message: 'Injected fault.' } }, retryAfterHeader(fault));
    }
    const problem = validateEmail(record.body, options.refusedAttachmentTypes ?? []);
    if (problem) return reply(400, { error: { code: 'BadRequest', message: problem } });

    const repeatId = record.repeatabilityRequestId;
    const clientOpId = record.headers['operation-id'];
    const known = (clientOpId !== undefined && operations.has(clientOpId) ? clientOpId : undefined) ??
      (repeatId !== undefined ? repeatability.get(repeatId) : undefined);
    let id: string;
    if (known !== undefined) {
      id = known;
      record.duplicate = true;
    } else {
      id = clientOpId ?? randomUUID();
      operations.set(id, { id, status: 'Running', message: record.body as FakeAcsEmailBody, acceptedAt: Date.now() });
      if (repeatId !== undefined) repeatability.set(repeatId, id);
    }
    record.operationId = id;
    if (fault?.afterAccept) {
      takeFault();
      return reply(fault.status, { error: { code: fault.code ?? codeFor(fault.status), message: 'Injected fault.' } }, retryAfterHeader(fault));
    }
    reply(
      202,
      { id, status: 'Running' },
      {
        'Operation-Location': `${baseUrl}/emails/operations/${encodeURIComponent(id)}?api-version=${encodeURIComponent(apiVersion)}`,
        'operation-id': id,
        ...(repeatId !== undefined ? { 'Repeatability-Result': record.duplicate ? 'rejected' : 'accepted' } : {}),
      },
    );
  }

  function takeFault(): void {
    const f = faults[0];
    if (!f) return;
    f.count = (f.count ?? 1) - 1;
    if (f.count <= 0) faults.shift();
  }

  function advance(op: FakeAcsOperation): void {
    if (op.status === 'Running' && deliveryDelayMs !== null && Date.now() - op.acceptedAt >= deliveryDelayMs) {
      op.status = 'Succeeded';
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  baseUrl = `https://${urlHost}:${port}`;

  return {
    url: baseUrl,
    ca: pems.cert,
    accessKey,
    connectionString: `endpoint=${baseUrl}/;accesskey=${accessKey}`,
    requests,
    operations,
    failNext: (fault) => {
      faults.push({ ...fault });
    },
    setStatus: (id, status) => {
      const op = operations.get(id);
      if (!op) throw new Error(`fake-acs: no operation ${id}`);
      op.status = status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---- helpers ---------------------------------------------------------------------------

const AUTH = /^HMAC-SHA256\s+SignedHeaders=([^&]+)&Signature=(.+)$/;

function verifySignature(method: string, pathAndQuery: string, headers: Record<string, string>, key: Buffer): boolean {
  const m = AUTH.exec(headers['authorization'] ?? '');
  const signedHeaders = m?.[1];
  const signature = m?.[2];
  if (signedHeaders === undefined || signature === undefined) return false;
  const names = signedHeaders.split(';').map((n) => n.trim().toLowerCase());
  if (!SIGNED_HEADERS_REQUIRED.every((n) => names.includes(n))) return false;
  if (!names.includes('x-ms-date') && !names.includes('date')) return false;
  const values: string[] = [];
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) return false;
    values.push(value);
  }
  const expected = createHmac('sha256', key).update(`${method}\n${pathAndQuery}\n${values.join(';')}`).digest('base64');
  return safeEqual(signature, expected);
}

function validateEmail(body: FakeAcsEmailBody | undefined, refusedTypes: string[]): string | undefined {
  if (!body || typeof body !== 'object') return 'The body must be a JSON EmailMessage.';
  if (typeof body.senderAddress !== 'string' || body.senderAddress === '') return 'senderAddress is required.';
  const r = body.recipients;
  const all = [...(r?.to ?? []), ...(r?.cc ?? []), ...(r?.bcc ?? [])];
  if (all.length === 0) return 'At least one recipient is required.';
  if (all.some((a) => typeof a?.address !== 'string' || !a.address.includes('@'))) return 'Every recipient needs an address.';
  const c = body.content;
  if (!c || typeof c.subject !== 'string') return 'content.subject is required.';
  if (typeof c.plainText !== 'string' && typeof c.html !== 'string') return 'content.plainText or content.html is required.';
  const refused = ((body.attachments ?? []) as Array<{ contentType?: string }>).find((a) => refusedTypes.includes(String(a.contentType)));
  if (refused) return `Attachment type ${refused.contentType} is not allowed.`;
  return undefined;
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseJson(raw: Buffer): FakeAcsEmailBody | undefined {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8')) as FakeAcsEmailBody;
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'x-ms-request-id': randomUUID(),
    ...extra,
  });
  res.end(text);
}

function retryAfterHeader(fault: FakeAcsFault): Record<string, string> {
  return fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
}

function codeFor(status: number): string {
  if (status === 429) return 'TooManyRequests';
  if (status === 401) return 'Denied';
  if (status >= 500) return 'ServiceUnavailable';
  return 'BadRequest';
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? process.env.FAKE_ACS_PORT ?? 0);
  startFakeAcs({ port })
    .then((acs) => {
      // A throwaway key for a local fake: printing it is the point.
      const caFile = join(tmpdir(), `fake-acs-${process.pid}.pem`);
      writeFileSync(caFile, acs.ca);
      process.stdout.write(`ready fake-acs ${acs.url}\nEMAIL_CONNECTION_STRING=${acs.connectionString}\nCA=${caFile}\n`);
      const stop = () => void acs.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    })
    .catch((e: unknown) => {
      process.stderr.write(`fake-acs failed: ${String(e)}\n`);
      process.exit(1);
    });
}
