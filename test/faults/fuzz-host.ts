/**
 * The fuzz target in a process of its own: startTestStack (Azurite from jest's global setup, the factory
 * emulator over HTTPS, the local host over HTTP), so that a request which kills the process (a V8 fatal
 * error cannot be caught) or blocks its event loop shows up as exactly that instead of taking the suite down.
 * Forked through fuzz-host-boot.js; it talks to the suite over the IPC channel.
 */
import type { Scenario } from '../../local/factory-emulator/scenario';
import { startTestStack } from '../support/test-stack';

export interface HostReady {
  type: 'ready';
  api: string;
  prefix: string;
  emulatorUrl: string;
  ca: string;
}
/** Error and warning lines of the app's log, as they are written. */
export interface HostLog {
  type: 'log';
  line: string;
}
export type HostMessage = HostReady | HostLog | { type: 'failed'; error: string };

const send = (m: HostMessage) => process.send?.(m);

async function main(): Promise<void> {
  const scenario = JSON.parse(process.env.FUZZ_SCENARIO ?? '{"pipelines":{}}') as Scenario;
  // The suite picks the prefix, so a restarted host finds the tables (and fixtures) of the one before.
  const prefix = process.env.FUZZ_TABLE_PREFIX ?? '';
  const stack = await startTestStack({ scenario, env: { CONDUCTOR_TABLE_PREFIX: prefix } });
  const keep = stack.logs.push.bind(stack.logs);
  stack.logs.push = (...lines: string[]) => {
    for (const line of lines) if (/^(error|critical|warn|warning)\b/i.test(line)) send({ type: 'log', line });
    return keep(...lines);
  };
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'close') void stack.close().finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', api: stack.api, prefix, emulatorUrl: stack.emulator.url, ca: stack.emulator.ca });
}

main().catch((e: unknown) => {
  send({ type: 'failed', error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
});
