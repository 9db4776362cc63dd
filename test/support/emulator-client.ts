import { DataFactoryManagementClient } from '@azure/arm-datafactory';
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryEmulator } from '../../local/factory-emulator/emulator';

const credential: TokenCredential = {
  getToken: async () => ({ token: 'emulator', expiresOnTimestamp: Date.now() + 3600_000 }),
};

/** The real ARM SDK against the factory emulator: its URL, trusting its CA, with no retries. */
export function emulatorClient(emulator: FactoryEmulator, subscriptionId: string): DataFactoryManagementClient {
  return new DataFactoryManagementClient(credential, subscriptionId, {
    endpoint: emulator.url,
    tlsOptions: { ca: emulator.ca },
    retryOptions: { maxRetries: 0 },
  });
}
