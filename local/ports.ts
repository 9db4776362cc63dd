/**
 * Ports of the local stack: is a port free, who holds it, and is it OUR child that listens on it.
 *
 * Why: a stack that starts Azurite on a port something else already holds used to talk to the stranger
 * (its own Azurite failed to bind, but "something answers on 10002" looked like success). Every part the
 * stack starts now checks its port first, and waits for its own child, not for any listener.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** A port the stack meant to listen on is taken. The message names the port, the holder if known, and the way out. */
export class PortInUse extends Error {
  constructor(
    readonly port: number,
    readonly service: string,
    readonly holder: PortHolder | undefined,
    hint: string,
  ) {
    super(`port ${port} (${service}) is already in use${holder ? ` by ${describeHolder(holder)}` : ''}. ${hint}`);
    this.name = 'PortInUse';
  }
}

/** The process that listens on a port, as far as /proc shows it. */
export interface PortHolder {
  /** Undefined when the socket belongs to a process this user cannot inspect. */
  pid: number | undefined;
  command: string | undefined;
}

export const describeHolder = (h: PortHolder): string =>
  h.pid === undefined ? 'a process this user cannot inspect' : `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when we could bind the port on `host` ourselves (and did not keep it). */
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** True when a TCP connection to host:port is accepted. */
export function answers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Inodes of the sockets listening on `port` (any address), from /proc/net/tcp{,6}. Empty where /proc is absent. */
export function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // st 0A is TCP_LISTEN; the port is the hex after the colon.
      if (!local || cols[3] !== '0A' || parseInt(local.split(':')[1] ?? '', 16) !== port) continue;
      const inode = cols[9];
      if (inode && inode !== '0') inodes.add(inode);
    }
  }
  return inodes;
}

/** True when process `pid` holds one of these socket inodes; undefined when its fds cannot be read. */
export function holdsSocket(pid: number, inodes: Set<string>): boolean | undefined {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1] as string)) return true;
    } catch {
      /* the fd closed meanwhile */
    }
  }
  return false;
}

function commandOf(pid: number): string | undefined {
  try {
    // An inline script (node -e '...') is shown as '…': its arguments say more than its code.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const cmd = argv.map((a) => (a.includes('\n') ? '…' : a)).join(' ');
    return cmd.length > 200 ? `${cmd.slice(0, 197)}...` : cmd || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Best effort (Linux): the process listening on `port`, found by its socket inode in /proc/<pid>/fd.
 * Undefined when nothing listens or /proc cannot tell.
 */
export function portHolder(port: number): PortHolder | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let pids: number[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return undefined;
  }
  for (const pid of pids) if (holdsSocket(pid, inodes)) return { pid, command: commandOf(pid) };
  return { pid: undefined, command: undefined };
}

/**
 * Refuses (PortInUse) when something already listens on `port`: we could not bind it, or it accepts connections.
 * `hint` says what to do instead, e.g. how to attach to the service that runs there.
 */
export async function ensurePortFree(port: number, service: string, hint: string, host = '127.0.0.1'): Promise<void> {
  if (port === 0) return;
  if ((await canBind(port, host)) && !(await answers(port, host))) return;
  throw new PortInUse(port, service, portHolder(port), hint);
}

/**
 * Resolves once OUR child listens on `port`: the child is alive, the port accepts connections, and, where /proc
 * tells, the listening socket is the child's. Rejects as soon as the child exits, or when another process holds
 * the port, or after `timeoutMs`.
 */
export function waitForPort(port: number, timeoutMs: number, child: ChildProcess, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null) => settle(new Error(`the process exited (${signal ?? `code ${code}`}) before it listened on ${port}`));
    child.once('exit', onExit);
    if (!alive()) return onExit(child.exitCode, child.signalCode);
    const attempt = async () => {
      if (settled) return;
      if (await answers(port, host)) {
        if (!alive()) return onExit(child.exitCode, child.signalCode);
        const inodes = listeningInodes(port);
        const ours = child.pid === undefined || inodes.size === 0 ? undefined : holdsSocket(child.pid, inodes);
        if (ours === false) {
          const holder = portHolder(port);
          return settle(new Error(`port ${port} answers, but ${holder ? describeHolder(holder) : 'another process'} holds it, not the process we started (pid ${child.pid})`));
        }
        return settle();
      }
      if (Date.now() > deadline) return settle(new Error(`nothing listens on ${port} after ${timeoutMs} ms`));
      setTimeout(() => void attempt(), 100);
    };
    void attempt();
  });
}
