/**
 * The Callbacks port on node:http(s): one POST of JSON, no redirects followed, a 10 s limit. The URI is a
 * bearer secret: it is never logged, and errors never carry it (only a status or a network error name).
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Unavailable } from '../core/errors';
import type { Callbacks } from '../core/ports';

export interface HttpCallbacksOptions {
  /** Extra CA (PEM) to trust besides the system's: the local emulator's self-signed one. */
  ca?: string;
  timeoutMs?: number;
}

export class HttpCallbacks implements Callbacks {
  private readonly ca: string[] | undefined;
  constructor(private readonly options: HttpCallbacksOptions = {}) {
    this.ca = options.ca ? [...tls.rootCertificates, options.ca] : undefined;
  }

  post(uri: string, body: unknown): Promise<number> {
    const url = new URL(uri);
    const payload = Buffer.from(JSON.stringify(body));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<number>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(payload.length) },
          timeout: this.options.timeoutMs ?? 10_000,
          ...(url.protocol === 'https:' && this.ca ? { ca: this.ca } : {}),
        },
        (res) => {
          res.resume(); // the answer's body is not ours to read
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => reject(new Unavailable(`callback receiver unreachable (${e.message === 'timeout' ? 'timeout' : (e.code ?? 'network')})`)));
      req.end(payload);
    });
  }
}
