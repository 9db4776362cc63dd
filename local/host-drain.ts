/**
 * Lets the stack stop its local host gently: stop accepting, then wait for the requests in flight.
 *
 * Why here: the local host's own close() waits for the running sweep pass but cuts open connections, so a
 * request in flight would lose its response while its handler still writes to storage. The stack sees the
 * host's server through Node's HTTP diagnostics channel (no change to the host needed), picks it by port,
 * closes it to new connections, and waits until every request it had started has answered.
 */
import diagnostics from 'node:diagnostics_channel';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostDrain {
  /** Requests received and not yet answered. */
  inFlight(): number;
  /**
   * Stops accepting connections on the port and waits (at most `timeoutMs`) for the requests in flight to
   * answer. Resolves with how many were still unanswered at the deadline (0 when all answered).
   */
  drain(timeoutMs: number): Promise<number>;
  dispose(): void;
}

interface RequestStart {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  server: http.Server;
}

/** Starts watching the HTTP server that listens on `port`; call before the server starts. */
export function watchHostRequests(port: number): HostDrain {
  const servers = new Set<http.Server>();
  const open = new Set<http.ServerResponse>();
  let changed: (() => void) | undefined;
  const onStart = (message: unknown) => {
    const { response, server } = message as RequestStart;
    if ((server.address() as AddressInfo | null)?.port !== port) return;
    servers.add(server);
    open.add(response);
    // 'close' follows 'finish', and also comes when the connection dies first.
    response.once('close', () => {
      open.delete(response);
      changed?.();
    });
  };
  diagnostics.subscribe('http.server.request.start', onStart);

  return {
    inFlight: () => open.size,
    drain: async (timeoutMs) => {
      for (const server of servers) {
        // Stops accepting and, since Node 19, ends idle keep-alive connections.
        server.close();
        server.closeIdleConnections();
      }
      if (open.size === 0) return 0;
      const deadline = Date.now() + timeoutMs;
      while (open.size > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          changed = resolve;
          setTimeout(resolve, Math.min(200, Math.max(1, deadline - Date.now())));
        });
        changed = undefined;
        for (const server of servers) server.closeIdleConnections();
      }
      return open.size;
    },
    dispose: () => diagnostics.unsubscribe('http.server.request.start', onStart),
  };
}
