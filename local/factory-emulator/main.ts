/**
 * CLI entry of the factory emulator.
 *   FACTORY_EMULATOR_SCENARIO  path of a scenario JSON file (default: every pipeline succeeds)
 *   FACTORY_EMULATOR_PORT      default 7443
 *   FACTORY_EMULATOR_HOST      default 127.0.0.1
 *   FACTORY_EMULATOR_CA_FILE   where the certificate PEM is written, default .local/emulator-ca.pem
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { startFactoryEmulator } from './emulator';
import { loadScenario, ScenarioInvalid } from './scenario';

async function main(): Promise<void> {
  const scenarioPath = process.env.FACTORY_EMULATOR_SCENARIO;
  const portText = process.env.FACTORY_EMULATOR_PORT ?? '7443';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`FACTORY_EMULATOR_PORT must be a port number, got '${portText}'`);
  }
  const host = process.env.FACTORY_EMULATOR_HOST || '127.0.0.1';
  const caFile = resolve(process.env.FACTORY_EMULATOR_CA_FILE || '.local/emulator-ca.pem');

  const scenario = scenarioPath ? loadScenario(scenarioPath) : undefined;
  const emulator = await startFactoryEmulator({ port, host, scenario });
  mkdirSync(dirname(caFile), { recursive: true });
  writeFileSync(caFile, emulator.ca);
  console.log(`factory emulator listening on ${emulator.url}`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ScenarioInvalid) {
    console.error(`factory emulator: ${err.message}`);
  } else {
    console.error('factory emulator failed to start:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
