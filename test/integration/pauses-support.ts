import type { TableStorageTables } from '../../src/adapters/table-storage';
import type { TableName } from '../../src/core/ports';
import type { TestStack } from '../support/test-stack';

/** Every entity of every table with this stack's prefix, as JSON lines (keys, props and all). */
export async function everyEntity(stack: TestStack): Promise<string[]> {
  const tables = stack.deps.tables as TableStorageTables;
  const out: string[] = [];
  for (const full of await tables.tableNames()) {
    const rows = await tables.table(full.slice(stack.prefix.length) as TableName).scanAll();
    for (const r of rows) out.push(JSON.stringify({ table: full, pk: r.partitionKey, rk: r.rowKey, props: r.props }));
  }
  return out.sort();
}

/** Runs the emulator created for one pause (by the pauseId parameter). */
export const runsOf = (stack: TestStack, pauseId: string, param = 'pauseId') => stack.emulator.runs().filter((r) => r.parameters[param] === pauseId);

export const JSON_ACCEPT = { accept: 'application/json' };
export const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };

export const approveForm = (token: string, decision = 'approve') => `token=${encodeURIComponent(token)}&decision=${decision}`;

/** A pause on the stack: `POST /pauses`, asserting the 201. */
export async function newPause(stack: TestStack, body: Record<string, unknown>): Promise<{ pauseId: string; token: string; restartUrl: string; expiresAt: string }> {
  const res = await stack.call('POST', '/pauses', body);
  if (res.status !== 201) throw new Error(`POST /pauses answered ${res.status}: ${res.text}`);
  return res.json;
}

export const pauseStatus = async (stack: TestStack, pauseId: string) => (await stack.call('GET', `/pauses/${pauseId}`)).json.status as string;
