import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, coreSettings, loadSettings } from '../../src/config';

const good = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  ADF_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
  ADF_RESOURCE_GROUP: 'rg',
  ADF_FACTORY_NAME: 'adf',
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadSettings(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSettings', () => {
  it('when only the required keys are set, then every other setting takes its documented default', () => {
    const s = loadSettings(good);
    expect(s).toMatchObject({
      CONDUCTOR_TABLE_PREFIX: 'conductor',
      ADF_ENDPOINT: 'https://management.azure.com',
      ADF_CREDENTIAL: 'default',
      EMAIL_OUTBOX_DIR: '.outbox',
      SWEEP_SCHEDULE: '*/30 * * * * *',
      PAUSE_DEFAULT_TTL_SECONDS: 86_400,
      PAUSE_MAX_TTL_SECONDS: 2_592_000,
    });
    expect(coreSettings(s).defaultFactory).toEqual({ subscriptionId: good.ADF_SUBSCRIPTION_ID, resourceGroup: 'rg', factory: 'adf' });
  });

  it('when several keys are bad or missing, then every one is listed at once, by name and never by value', () => {
    const secret = 'AccountKey=s3cr3t-value';
    const problems = problemsOf({
      CONDUCTOR_STORAGE: undefined,
      ADF_SUBSCRIPTION_ID: 'not-a-guid',
      ADF_FACTORY_NAME: '',
      ADF_CREDENTIAL: secret,
      ADF_ENDPOINT: 'nope',
      PAUSE_DEFAULT_TTL_SECONDS: '0',
      EMAIL_CONNECTION_STRING: secret,
    });
    const keys = problems.map((p) => p.split(':')[0]);
    expect(keys.sort()).toEqual(
      ['ADF_CREDENTIAL', 'ADF_ENDPOINT', 'ADF_FACTORY_NAME', 'ADF_RESOURCE_GROUP', 'ADF_SUBSCRIPTION_ID', 'CONDUCTOR_STORAGE', 'EMAIL_SENDER', 'PAUSE_DEFAULT_TTL_SECONDS'].sort(),
    );
    const message = new ConfigError(problems).message;
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('not-a-guid');
  });

  it('when the default TTL exceeds the maximum, then that is a problem', () => {
    expect(problemsOf({ ...good, PAUSE_DEFAULT_TTL_SECONDS: '100', PAUSE_MAX_TTL_SECONDS: '10' })).toEqual([
      expect.stringMatching(/^PAUSE_DEFAULT_TTL_SECONDS:/),
    ]);
  });

  it('when numbers arrive as strings (app settings always are), then they are parsed', () => {
    expect(loadSettings({ ...good, RUN_STALE_SECONDS: '42', FEED_OVERLAP_SECONDS: '0' })).toMatchObject({ RUN_STALE_SECONDS: 42, FEED_OVERLAP_SECONDS: 0 });
  });

  it('when local.settings.sample.json is loaded, then it is valid and documents every setting the schema knows', () => {
    const sample = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'local.settings.sample.json'), 'utf8')) as { IsEncrypted: boolean; Values: Record<string, string> };
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    const values = Object.fromEntries(Object.entries(sample.Values).filter(([k]) => !k.startsWith('//')));
    expect(() => loadSettings(values)).not.toThrow();
    const configSource = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'config.ts'), 'utf8');
    const schemaSource = configSource.slice(configSource.indexOf('const Settings'), configSource.indexOf('.superRefine'));
    const schemaKeys = [...schemaSource.matchAll(/^\s{4}([A-Za-z_]+):\s/gm)].map((m) => m[1]!);
    expect(schemaKeys.length).toBeGreaterThan(15);
    for (const key of schemaKeys) {
      expect(Object.keys(sample.Values)).toContain(key);
      expect(sample.Values[`//${key}`]).toEqual(expect.any(String));
    }
  });
});
