import fs from 'node:fs';
import type { InvocationContext } from '@azure/functions';
import { DefaultAzureCredential } from '@azure/identity';
import { AcsMailer } from './adapters/acs-mailer';
import { ArmFactory } from './adapters/arm-factory';
import { HttpCallbacks } from './adapters/http-callbacks';
import { OutboxMailer } from './adapters/outbox-mailer';
import { consoleLogger, contextLogger, crashPoints, CryptoIds, SystemClock } from './adapters/system';
import { TableStorageTables, type StorageTarget } from './adapters/table-storage';
import { coreSettings, loadSettings, type AppSettings } from './config';
import type { Deps } from './core/deps';
import type { Logger } from './core/ports';
import { sleep } from './core/util';
import { MustacheMailTemplates } from './http/templates';

function storageTarget(s: AppSettings): StorageTarget {
  const value = (s.CONDUCTOR_STORAGE ?? s.AzureWebJobsStorage) as string;
  // A bare https URL means a table endpoint reached with managed identity.
  if (/^https?:\/\//i.test(value)) return { endpoint: value, credential: new DefaultAzureCredential() };
  return { connectionString: value };
}

/** Callbacks trust the system's CAs, plus CALLBACK_CA_CERT (or, against the local emulator, ADF_CA_CERT). */
function callbackCa(s: AppSettings): { ca?: string } {
  const file = s.CALLBACK_CA_CERT ?? (s.ADF_CREDENTIAL === 'emulator' ? s.ADF_CA_CERT : undefined);
  return file ? { ca: fs.readFileSync(file, 'utf8') } : {};
}

/** Builds the real adapters from validated settings. */
export function buildDeps(s: AppSettings, log: Logger = consoleLogger()): Deps {
  const emailCa = s.EMAIL_CA_CERT ? fs.readFileSync(s.EMAIL_CA_CERT, 'utf8') : undefined;
  const mailer =
    s.EMAIL_CONNECTION_STRING || s.EMAIL_ENDPOINT
      ? new AcsMailer({
          sender: s.EMAIL_SENDER as string,
          ...(s.EMAIL_CONNECTION_STRING ? { connectionString: s.EMAIL_CONNECTION_STRING } : { endpoint: s.EMAIL_ENDPOINT, credential: new DefaultAzureCredential() }),
          ...(emailCa ? { tlsCa: emailCa } : {}),
        })
      : new OutboxMailer(s.EMAIL_OUTBOX_DIR);
  return {
    tables: new TableStorageTables(storageTarget(s), s.CONDUCTOR_TABLE_PREFIX),
    factory: new ArmFactory({ endpoint: s.ADF_ENDPOINT, credential: s.ADF_CREDENTIAL, startTimeoutMs: s.ADF_START_TIMEOUT_SECONDS * 1000, ...(s.ADF_CA_CERT ? { caCertFile: s.ADF_CA_CERT } : {}) }),
    mailer,
    callbacks: new HttpCallbacks(callbackCa(s)),
    templates: new MustacheMailTemplates(),
    clock: new SystemClock(),
    log,
    ids: new CryptoIds(),
    sleep,
    settings: coreSettings(s),
    ...(s.CONDUCTOR_CRASH_AT ? { crash: crashPoints(s.CONDUCTOR_CRASH_AT) } : {}),
  };
}

let shared: Deps | undefined;

/** The process-wide dependencies, built lazily on first use (importing a function never needs secrets). */
export function appDeps(ctx?: InvocationContext): Deps {
  shared ??= buildDeps(loadSettings());
  return ctx ? { ...shared, log: contextLogger(ctx) } : shared;
}
