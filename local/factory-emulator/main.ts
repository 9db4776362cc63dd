/**
 * CLI entry of the factory emulator (`npm run emulator`).
 *   FACTORY_EMULATOR_SCENARIO  path of a scenario JSON file (default: local/scenarios/default.json, as npm start uses)
 *   FACTORY_EMULATOR_PORT      default 7443 (0 = a free port)
 *   FACTORY_EMULATOR_HOST      default 127.0.0.1
 *   FACTORY_EMULATOR_CA_FILE   where the certificate PEM is written, default .local/emulator-ca.pem in the project
 * It prints the endpoint, the certificate file and the lines that attach `npm start` to it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { projectRoot } from '../azurite';
import { ensurePortFree, PortInUse } from '../ports';
import { startFactoryEmulator } from './emulator';
import { loadScenario, ScenarioInvalid } from './scenario';

async function main(): Promise<void> {
  const root = projectRoot();
  const scenarioPath = process.env.FACTORY_EMULATOR_SCENARIO || join(root, 'local', 'scenarios', 'default.json');
  const portText = process.env.FACTORY_EMULATOR_PORT || '7443';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`FACTORY_EMULATOR_PORT must be a port number, got '${portText}'`);
  }
  const host = process.env.FACTORY_EMULATOR_HOST || '127.0.0.1';
  const caFile = resolve(process.env.FACTORY_EMULATOR_CA_FILE || join(root, '.local', 'emulator-ca.pem'));

  const scenario = loadScenario(scenarioPath);
  await ensurePortFree(
    port,
    'factory emulator',
    'If that is an emulator already, attach to it instead; otherwise stop that process, or choose another port with FACTORY_EMULATOR_PORT.',
    host,
  );
  const emulator = await startFactoryEmulator({ port, host, scenario });
  mkdirSync(dirname(caFile), { recursive: true });
  writeFileSync(caFile, emulator.ca);
  console.log(`factory emulator listening on ${emulator.url}`);
  console.log(`certificate (its own CA) in ${caFile}; scenario ${scenarioPath}`);
  console.log('attach npm start to it (in another terminal):');
  console.log(`  export ADF_ENDPOINT=${emulator.url}`);
  console.log(`  export ADF_CA_CERT=${caFile}`);

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
  if (err instanceof ScenarioInvalid || err instanceof PortInUse) {
    console.error(`factory emulator: ${err.message}`);
  } else {
    console.error('factory emulator failed to start:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
