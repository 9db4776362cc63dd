import fs from 'node:fs';
import path from 'node:path';

/** One measured scenario of the fault suite: the rows of docs/reliability.md. */
export interface ScenarioResult {
  scenario: string;
  load: string;
  faults: string;
  items: number;
  duplicates: number;
  losses: number;
  stuck: number;
  emails?: number;
  fiveHundreds?: number;
}

/** Appends a measured scenario to `FAULTS_OUT` (default .faults/results.jsonl), for docs/reliability.md. */
export function record(r: ScenarioResult): void {
  const file = process.env.FAULTS_OUT ?? path.join(__dirname, '..', '..', '.faults', 'results.jsonl');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, `${JSON.stringify({ ...r, at: new Date().toISOString() })}\n`);
}
