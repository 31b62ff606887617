/**
 * Figures that test runs measure (faults, power loss, soak, mutants), kept as data so the README
 * shows what a run printed, never numbers typed by hand. Each record is printed as one console
 * line and appended as a JSON line to FLOORGATE_RESULTS (default `.results/figures.jsonl` in the
 * checkout, which git ignores); `npm run figures -- --write` renders the newest record of each
 * test into the README.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Figures = Record<string, number | string>;

export interface FiguresRecord {
  readonly test: string;
  /** ISO time of the run. */
  readonly at: string;
  readonly figures: Figures;
}

/** The checkout, from test/helpers/ or, compiled, from dist/test/helpers/. */
const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

export function resultsFile(): string {
  return process.env.FLOORGATE_RESULTS ?? path.join(ROOT, '.results', 'figures.jsonl');
}

/** Prints `[faults] test: k=v …` and keeps the record. */
export function recordFigures(test: string, figures: Figures): void {
  console.log(`[faults] ${test}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const file = resultsFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // One short append per record: O_APPEND keeps lines from parallel test files whole.
  fs.appendFileSync(file, JSON.stringify({ test, at: new Date().toISOString(), figures } satisfies FiguresRecord) + '\n');
}

/** The newest record of each test, in the order the tests first appear. */
export function latestRecords(file = resultsFile()): FiguresRecord[] {
  if (!fs.existsSync(file)) return [];
  const latest = new Map<string, FiguresRecord>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as FiguresRecord;
    latest.set(record.test, record);
  }
  return [...latest.values()];
}
