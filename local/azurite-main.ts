/**
 * `npm run azurite`: Azurite's Table service alone, for `npm start` (or anything else) to attach to.
 *   AZURITE_TABLE_PORT   default 10002
 *   AZURITE_LOCATION     folder of the data, default .azurite in the project
 *   --in-memory          keep nothing on disk
 * Ctrl-C or SIGTERM stops it gracefully: it saves its data before it exits.
 */
import path from 'node:path';
import { projectRoot, startAzurite } from './azurite';
import { PortInUse } from './ports';

async function main(argv: string[]): Promise<void> {
  const portText = process.env.AZURITE_TABLE_PORT || '10002';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`AZURITE_TABLE_PORT must be a port number, got '${portText}'`);
  const inMemory = argv.includes('--in-memory');
  const location = path.resolve(process.env.AZURITE_LOCATION || path.join(projectRoot(), '.azurite'));

  const azurite = await startAzurite({
    port,
    inMemory,
    location,
    portHint: 'If that is an Azurite already, attach to it instead; otherwise stop that process, or choose another port with AZURITE_TABLE_PORT.',
  });
  console.log(`azurite (Table service) listening on http://127.0.0.1:${azurite.port}, ${inMemory ? 'in memory' : `data in ${location}`}`);
  console.log('attach npm start to it (in another terminal):');
  console.log(`  export AzureWebJobsStorage='${azurite.connectionString}'`);

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${sig}: saving and stopping`);
    azurite.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`azurite: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  void azurite.exited.then(({ code, signal }) => {
    if (stopping) return;
    console.error(`azurite exited on its own (${signal ?? `code ${code}`})`);
    process.exit(1);
  });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof PortInUse ? `azurite: ${err.message}` : `azurite failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
