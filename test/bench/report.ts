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
  /** Set when the bench ran more than once: the figure is the median run, by ratio. */
  readonly spread?: Spread;
}

/** How far apart repeated runs of one figure were. */
export interface Spread {
  readonly runs: number;
  readonly value: readonly [number, number];
  readonly ratio: readonly [number, number];
}

export interface BenchOptions {
  /** 1,000,000-reading backlogs and 10,000-tag runs instead of the quick sizes. */
  readonly full: boolean;
  /** Runs of each bench; every figure is then the median run with its min–max (3 under --full). */
  readonly repeat: number;
  /** Run `floorgate run` under `node --cpu-prof` and print its top costs (end-to-end only). */
  readonly profile: boolean;
}

export type Bench = (opts: BenchOptions) => Promise<Figure[]>;

export function parseOptions(argv: readonly string[]): BenchOptions & { write: boolean; only: string[] } {
  const repeatArg = argv.find((a) => a.startsWith('--repeat='));
  const flags = new Set(argv.filter((a) => a.startsWith('--') && a !== repeatArg));
  for (const f of flags) {
    if (!['--full', '--write', '--profile'].includes(f)) throw new Error(`unknown option ${f} (known: --full, --write, --profile, --repeat=N)`);
  }
  const repeat = repeatArg === undefined ? (flags.has('--full') ? 3 : 1) : Number(repeatArg.slice('--repeat='.length));
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a whole number ≥ 1, not ${repeatArg}`);
  return {
    full: flags.has('--full'),
    repeat,
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

/** `3 runs: 0.79–0.83`, the ratio's range; '' for a single run. */
export function spreadText(f: Figure): string {
  return f.spread ? `${f.spread.runs} runs: ${num(f.spread.ratio[0])}–${num(f.spread.ratio[1])}` : '';
}

export function formatFigure(f: Figure): string {
  const verdict = f.met === null ? '' : f.met ? ', met' : ', NOT met';
  const note = f.note ? ` — ${f.note}` : '';
  const spread = f.spread ? ` (${spreadText(f)})` : '';
  return `${f.name}: ${num(f.value)} ${f.unit} (baseline ${f.baseline.what} ${num(f.baseline.value)} ${f.baseline.unit}, ` +
    `ratio ${num(f.ratio)}${spread}; target ${f.target}${verdict})${note}`;
}

/**
 * Repeated runs of the same benches → one figure per name: the run whose ratio is the median
 * (value, baseline and verdict stay together, all from that one run), with every run's range.
 */
export function medianRuns(runs: readonly (readonly Figure[])[]): Figure[] {
  if (runs.length === 1) return [...runs[0]];
  const byName = new Map<string, Figure[]>();
  for (const run of runs) for (const f of run) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  return [...byName.values()].map((all) => {
    const sorted = [...all].sort((a, b) => a.ratio - b.ratio);
    const mid = sorted[(sorted.length - 1) >> 1];
    const range = (pick: (f: Figure) => number) => [Math.min(...all.map(pick)), Math.max(...all.map(pick))] as const;
    return { ...mid, spread: { runs: all.length, value: range((f) => f.value), ratio: range((f) => f.ratio) } };
  });
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
