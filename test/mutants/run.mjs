/**
 * `npm run test:mutants [--only NAME] [--json FILE]`: planted bugs the suite must catch.
 *
 * The checkout is copied once, at the start: others edit it meanwhile, and the baseline and
 * every mutant must see the same sources. Each mutant (list.mjs) breaks one promise of the
 * reference (a guarantee of §4, or what §2–§3 say a driver reads or the wire carries) in a
 * throw-away copy of that snapshot (exact-text edits of src/ or drivers/, node_modules linked,
 * built only when a catcher needs the compiled CLI); then its catchers run there with vitest, and the
 * mutant is killed when one of them fails. Every catcher first runs once on an unmutated copy:
 * one that fails, skips itself or matches no test there could not tell a mutant from the
 * product, so it is reported and not counted.
 *
 * Prints a table (mutant, result, the catchers that caught and missed it, seconds) and exits 1
 * unless every mutant was killed: a survivor, a stale edit or a failed build all fail the run.
 * One mutant and one test file at a time: the machine is shared.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MUTANTS } from './list.mjs';
import { catcherLabel, interrupt, runCatcher } from './vitest.mjs';
import { applyEdits, build, BuildFailed, copyCheckout, removeCopy, StaleMutant } from './workspace.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EX_USAGE = 64;

/**
 * @typedef {object} Row
 * @property {string} mutant
 * @property {string} breaks
 * @property {'killed' | 'survived' | 'unchecked' | 'error'} result
 *   unchecked: none of its catchers could run (see the baseline); error: stale edit, failed
 *   build, or a catcher that ended without a result
 * @property {{ catcher: string, failures: { test: string, message: string }[] }[]} caught_by
 * @property {{ catcher: string, outcome: string, detail: string }[]} missed_by
 * @property {number} seconds
 * @property {string} [error]
 */

let args;
try {
  args = parseArgs({ options: { only: { type: 'string', multiple: true }, json: { type: 'string' } } }).values;
} catch (err) {
  usage(err.message);
}
const known = new Set(MUTANTS.map((m) => m.name));
if (known.size !== MUTANTS.length) throw new Error('two mutants share a name in list.mjs');
for (const name of args.only ?? []) if (!known.has(name)) usage(`no mutant named ${name}; the mutants are: ${[...known].join(', ')}`);
const selected = args.only ? MUTANTS.filter((m) => args.only.includes(m.name)) : MUTANTS;

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-mutants-'));
/** Copies that exist right now, removed on Ctrl-C too. */
const copies = new Set();
process.on('SIGINT', () => {
  interrupt();
  for (const dir of copies) removeCopy(dir);
  process.exit(130);
});

const started = performance.now();
console.log(`${selected.length} mutants; vitest output in ${logDir}\n`);
const snapshot = newCopy(ROOT, 'snapshot');
/** @type {Row[]} */
const rows = [];
let baseline;
try {
  baseline = await runBaseline(selected);
  console.log('');
  for (const mutant of selected) rows.push(await runMutant(mutant, baseline));
} finally {
  dropCopy(snapshot);
}
const seconds = Number(elapsed(started));

console.log(`\n${table(rows)}\n`);
// Why each catcher missed, for every mutant: a catcher missing a killed mutant is news too.
for (const row of rows.filter((r) => r.result !== 'killed' || r.missed_by.length > 0)) {
  console.log(`${row.result.toUpperCase()}: ${row.mutant} (${row.breaks})`);
  if (row.error) console.log(`  ${row.error}`);
  for (const m of row.missed_by) console.log(`  not caught by ${m.catcher}: ${m.outcome}, ${m.detail}`);
}
const killed = rows.filter((r) => r.result === 'killed').length;
console.log(`${killed} of ${rows.length} mutants killed in ${seconds} s`);
if (!args.only) recordRun(rows, killed, seconds);
if (args.json) {
  const unusable = [...baseline].filter(([, run]) => run.outcome !== 'passed').map(([catcher, run]) => ({ catcher, outcome: run.outcome, detail: run.detail }));
  fs.writeFileSync(args.json, `${JSON.stringify({ seconds, killed, mutants: rows, unusable_catchers: unusable }, null, 2)}\n`);
}
process.exit(killed === rows.length ? 0 : 1);

/**
 * Every catcher of the selected mutants, once, on an unmutated copy: those that use the build
 * before it exists and those that do after, exactly as they will run against a mutant.
 * @returns {Promise<Map<string, import('./vitest.mjs').CatcherRun>>}
 */
async function runBaseline(mutants) {
  const catchers = new Map();
  for (const c of mutants.flatMap((m) => m.catchers)) catchers.set(catcherLabel(c), c);
  const ordered = [...catchers.values()].sort((a, b) => Number(Boolean(a.dist)) - Number(Boolean(b.dist)));
  const runs = new Map();
  const copy = newCopy(snapshot, 'baseline');
  try {
    let built = false;
    for (const [i, c] of ordered.entries()) {
      if (c.dist && !built) {
        build(copy, path.join(logDir, 'baseline.build.log'));
        built = true;
      }
      const t0 = performance.now();
      const run = await runCatcher(copy, c, path.join(logDir, `baseline.${i}.log`));
      runs.set(catcherLabel(c), run);
      const note = run.outcome === 'passed' ? '' : `  NOT USABLE: ${run.detail}`;
      console.log(`baseline ${run.outcome.padEnd(8)} ${elapsed(t0).padStart(6)} s  ${catcherLabel(c)}${note}`);
    }
  } finally {
    dropCopy(copy);
  }
  return runs;
}

/** @returns {Promise<Row>} */
async function runMutant(mutant, baseline) {
  const t0 = performance.now();
  /** @type {Row} */
  const row = { mutant: mutant.name, breaks: mutant.breaks, result: 'unchecked', caught_by: [], missed_by: [], seconds: 0 };
  const usable = [];
  for (const c of mutant.catchers) {
    const base = baseline.get(catcherLabel(c));
    if (base.outcome === 'passed') usable.push(c);
    else row.missed_by.push({ catcher: catcherLabel(c), outcome: `unusable (${base.outcome} unmutated)`, detail: base.detail });
  }
  if (usable.length > 0) {
    const copy = newCopy(snapshot, mutant.name);
    try {
      applyEdits(copy, mutant.edits);
      if (usable.some((c) => c.dist)) build(copy, path.join(logDir, `${mutant.name}.build.log`));
      for (const [i, c] of usable.entries()) {
        const run = await runCatcher(copy, c, path.join(logDir, `${mutant.name}.${i}.log`));
        if (run.outcome === 'failed') row.caught_by.push({ catcher: catcherLabel(c), failures: run.failures });
        else row.missed_by.push({ catcher: catcherLabel(c), outcome: run.outcome, detail: run.detail });
      }
      // A catcher that could not finish proves neither a catch nor a survival.
      const undecided = row.missed_by.some((m) => m.outcome === 'error');
      row.result = row.caught_by.length > 0 ? 'killed' : undecided ? 'error' : 'survived';
    } catch (err) {
      if (!(err instanceof StaleMutant) && !(err instanceof BuildFailed)) throw err;
      row.result = 'error';
      row.error = err instanceof StaleMutant ? `stale mutant, update its edit: ${err.message}` : err.message;
    } finally {
      dropCopy(copy);
    }
  }
  row.seconds = Number(elapsed(t0));
  console.log(`${row.result.padEnd(9)} ${String(row.seconds).padStart(6)} s  ${mutant.name}`);
  // The first failure of each catch, so a reader can tell a catch for the right reason from a crash.
  for (const c of row.caught_by) console.log(`    ${c.catcher}: ${c.failures[0].message}`);
  return row;
}

function newCopy(from, label) {
  const dir = copyCheckout(from, label);
  copies.add(dir);
  return dir;
}

function dropCopy(dir) {
  removeCopy(dir);
  copies.delete(dir);
}

function table(rows) {
  const lines = [['mutant', 'result', 'caught by', 'missed by', 's']];
  for (const r of rows) {
    lines.push([r.mutant, r.result, r.caught_by.map((c) => c.catcher).join(', ') || '-', r.missed_by.map((m) => m.catcher).join(', ') || '-', String(r.seconds)]);
  }
  const widths = lines[0].map((_, col) => Math.max(...lines.map((l) => l[col].length)));
  const format = (l) => l.map((cell, col) => (col === l.length - 1 ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))).join('  ').trimEnd();
  return [format(lines[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(format)].join('\n');
}

/**
 * The run's outcome as figures records (test/helpers/results.ts's format), one per mutant and
 * one in all, so the README's table is what a run printed (`npm run figures -- --write`).
 */
function recordRun(rows, killed, seconds) {
  const file = process.env.FLOORGATE_RESULTS ?? path.join(ROOT, '.results', 'figures.jsonl');
  const at = new Date().toISOString();
  const records = rows.map((r) => ({
    test: `mutant ${r.mutant}`,
    at,
    figures: { result: r.result, caught_by: r.caught_by.map((c) => c.catcher).join('; ') || '-', seconds: r.seconds },
  }));
  records.push({ test: 'planted bugs (npm run test:mutants)', at, figures: { mutants: rows.length, killed, seconds } });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

function elapsed(since) {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function usage(problem) {
  console.error(`${problem}\nusage: npm run test:mutants -- [--only NAME]… [--json FILE]`);
  process.exit(EX_USAGE);
}
