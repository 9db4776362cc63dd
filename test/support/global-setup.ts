import { startAzurite } from '../../local/azurite';

/** Starts one in-memory Azurite Table service for the whole run; tests isolate by table prefix. */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_STORAGE_CONNECTION) return; // an Azurite started by .ci/run or by hand
  const azurite = await startAzurite({ inMemory: true });
  process.env.TEST_STORAGE_CONNECTION = azurite.connectionString;
  (globalThis as Record<string, unknown>).__AZURITE__ = azurite;
}
