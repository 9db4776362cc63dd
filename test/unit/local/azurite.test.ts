import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { startAzurite, type RunningAzurite } from '../../../local/azurite';
import { canBind } from '../../../local/ports';

const table = (a: RunningAzurite) => TableClient.fromConnectionString(a.connectionString, 'flush', { allowInsecureConnection: true });

async function count(a: RunningAzurite): Promise<number> {
  let n = 0;
  for await (const _ of table(a).listEntities()) n++;
  return n;
}

describe('startAzurite on disk', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-flush-'));
  const running: RunningAzurite[] = [];
  afterAll(async () => {
    for (const a of running) await a.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when it is stopped right after a burst of acknowledged writes, then all of them are there after a restart on the same folder', async () => {
    // Azurite autosaves every 5 s; these writes all land after the save its start made, and the stop comes at once.
    const first = await startAzurite({ inMemory: false, location: dir });
    running.push(first);
    const client = table(first);
    await client.createTable();
    const rows = 400;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < rows) await client.createEntity({ partitionKey: 'p', rowKey: String(next++).padStart(5, '0') });
      }),
    );
    await first.stop();
    expect(await canBind(first.port)).toBe(true);

    const second = await startAzurite({ inMemory: false, location: dir, port: first.port });
    running.push(second);
    expect(await count(second)).toBe(rows);
  });
});
