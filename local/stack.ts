import fs from 'node:fs';
import path from 'node:path';
import { buildDeps } from '../src/composition';
import { ConfigError, loadSettings } from '../src/config';
import { consoleLogger } from '../src/adapters/system';
import { projectRoot, startAzurite } from './azurite';
import { startFactoryEmulator } from './factory-emulator/emulator';
import { loadScenario } from './factory-emulator/scenario';
import { startLocalHost } from './host/host';

/** The local stack: Azurite + the factory emulator + the local host, on real parts, no Azure account. */
export async function main(argv: string[]): Promise<void> {
  const inMemory = argv.includes('--in-memory');
  const quiet = argv.includes('--quiet');
  const root = projectRoot();
  const env = process.env;
  const tablePort = Number(env.AZURITE_TABLE_PORT ?? 10002);
  const emulatorPort = Number(env.FACTORY_EMULATOR_PORT ?? 7443);
  const hostPort = Number(env.PORT ?? 7071);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: stopping`);
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  try {
    const azurite = await startAzurite({ port: tablePort, inMemory, location: path.join(root, '.azurite') });
    stops.push(() => azurite.stop());
    const scenarioPath = env.FACTORY_EMULATOR_SCENARIO ?? path.join(root, 'local', 'scenarios', 'default.json');
    const emulator = await startFactoryEmulator({ port: emulatorPort, scenario: loadScenario(scenarioPath) });
    stops.push(() => emulator.close());
    const caFile = path.join(root, '.local', 'emulator-ca.pem');
    fs.mkdirSync(path.dirname(caFile), { recursive: true });
    fs.writeFileSync(caFile, emulator.ca);

    const hostUrl = `http://127.0.0.1:${hostPort}`;
    const defaults: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      ADF_ENDPOINT: emulator.url,
      ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      ADF_RESOURCE_GROUP: 'rg-local',
      ADF_FACTORY_NAME: 'adf-local',
      ADF_CREDENTIAL: 'emulator',
      ADF_CA_CERT: caFile,
      EMAIL_OUTBOX_DIR: path.join(root, '.outbox'),
      PUBLIC_BASE_URL: hostUrl,
    };
    const settingsEnv = { ...defaults, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) } as Record<string, string>;
    // The stack owns these: the ones started above.
    settingsEnv.AzureWebJobsStorage = env.AzureWebJobsStorage ?? azurite.connectionString;
    const settings = loadSettings(settingsEnv);
    const deps = buildDeps(settings, consoleLogger(quiet));
    const host = await startLocalHost({ deps, port: hostPort, settings: settingsEnv, verbose: !quiet });
    stops.push(() => host.close());
    console.log(
      `ready api=${host.url}/api dashboard=${host.url}/api/dashboard emulator=${emulator.url} tables=http://127.0.0.1:${azurite.port} outbox=${settings.EMAIL_OUTBOX_DIR} sweep="${settings.SWEEP_SCHEDULE}"${inMemory ? ' (in memory)' : ''}`,
    );
    console.log(nextSteps(`${host.url}/api`));
  } catch (e) {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(`the local stack could not start: ${(e as Error).message}`);
    await stopAll();
    process.exit(1);
  }
}

/** What to try first, printed after the ready line: a run, the example metadata, and an execution of its daily batch. */
export function nextSteps(api: string): string {
  return [
    'try next (from the repository root):',
    `  curl -s -X POST ${api}/runs -H 'content-type: application/json' -d '{"pipeline":"wk_ok","parameters":{"n":1}}'`,
    `  curl -s -X PUT ${api}/metadata --data-binary @examples/conductor.yaml`,
    `  curl -s -X POST ${api}/executions -H 'content-type: application/json' -d '{"batch":"daily"}'`,
  ].join('\n');
}

if (require.main === module) void main(process.argv.slice(2));
