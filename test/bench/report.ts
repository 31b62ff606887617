/**
 * What every bench produces: figures measured against a baseline taken in the same run, printed
 * one line each (`name: value (baseline …, ratio …)`). Machines here are shared and noisy, so a
 * ratio from one run is what counts, never an absolute number compared across runs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Figure {
  /** The row name of BENCH.md's table. */
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** What the value is measured against, and its measured value. */
  readonly baseline: { readonly what: string; readonly value: number; readonly unit: string };
  /** value ÷ baseline, or the figure BENCH.md defines as the ratio. */
  readonly ratio: number;
  /** BENCH.md's target, in words (`≥ 0.8`, `≤ 1 s`). */
  readonly target: string;
  /** Whether the target is met; null where BENCH.md sets none. */
  readonly met: boolean | null;
  /** What bound the run (CPU, broker, SQLite, simulator) and anything else worth knowing. */
  readonly note?: string;
}

export interface BenchOptions {
  /** 1,000,000-reading backlogs and 10,000-tag runs instead of the quick sizes. */
  readonly full: boolean;
  /** Run `floorgate run` under `node --cpu-prof` and print its top costs (end-to-end only). */
  readonly profile: boolean;
}

export type Bench = (opts: BenchOptions) => Promise<Figure[]>;

export function parseOptions(argv: readonly string[]): BenchOptions & { write: boolean; only: string[] } {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  for (const f of flags) {
    if (!['--full', '--write', '--profile'].includes(f)) throw new Error(`unknown option ${f} (known: --full, --write, --profile)`);
  }
  return {
    full: flags.has('--full'),
    write: flags.has('--write'),
    profile: flags.has('--profile'),
    only: argv.filter((a) => !a.startsWith('--')),
  };
}

/** `1,234,567`, or 3 significant digits below 100. */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(3)).toString();
}

export function formatFigure(f: Figure): string {
  const verdict = f.met === null ? '' : f.met ? ', met' : ', NOT met';
  const note = f.note ? ` — ${f.note}` : '';
  return `${f.name}: ${num(f.value)} ${f.unit} (baseline ${f.baseline.what} ${num(f.baseline.value)} ${f.baseline.unit}, ` +
    `ratio ${num(f.ratio)}; target ${f.target}${verdict})${note}`;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the module at this URL is the script node was started with. */
export function isEntry(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}

/** Runs a bench on its own when its file is the entry point (`node dist/test/bench/x.js [--full]`). */
export function runIfMain(moduleUrl: string, bench: Bench): void {
  if (!isEntry(moduleUrl)) return;
  const opts = parseOptions(process.argv.slice(2));
  bench(opts).then(
    (figures) => {
      for (const f of figures) console.log(formatFigure(f));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
