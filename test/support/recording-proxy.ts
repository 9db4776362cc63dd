/**
 * A reverse proxy that records every request as a server in front of the app would log it (an access log,
 * Application Insights' request telemetry): method, request target (path and query), headers and body.
 * It forwards the Host header unchanged, so links the app builds from the request's origin point at it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** The request target exactly as received: path and query. A fragment never reaches a server. */
  target: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RecordingProxy {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(upstream: string): Promise<RecordingProxy> {
  const up = new URL(upstream);
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? 'GET', target: req.url ?? '/', headers: req.headers, body: body.toString('utf8') });
      const forward = http.request(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
