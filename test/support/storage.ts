import { randomBytes } from 'node:crypto';
import { TableStorageTables } from '../../src/adapters/table-storage';

export function storageConnection(): string {
  const cs = process.env.TEST_STORAGE_CONNECTION;
  if (!cs) throw new Error('TEST_STORAGE_CONNECTION is not set: jest globalSetup starts Azurite');
  return cs;
}

/** A fresh, isolated set of tables on the shared Azurite (unique prefix per call). */
export function azuriteTables(): { tables: TableStorageTables; prefix: string } {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  return { tables: new TableStorageTables({ connectionString: storageConnection() }, prefix), prefix };
}
