/**
 * Runs one catcher (a test file, maybe narrowed by test name) with vitest in a copy and reads
 * the outcome from vitest's JSON report, not from its exit code alone: a name filter that
 * matches nothing, or tests that skip themselves, must not pass for a catch or a miss.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Far above any catcher's run; a hang beyond it is an error, not a catch. */
const RUN_TIMEOUT_MS = 5 * 60_000;

/**
 * @typedef {object} CatcherRun
 * @property {'passed' | 'failed' | 'skipped' | 'no-match' | 'error'} outcome
 *   failed: a selected test (or the file) failed; skipped: the selected tests exist but all
 *   skipped themselves; no-match: no test matches the name; error: no report (crash, timeout)
 * @property {{ test: string, message: string }[]} failures
 * @property {string} detail
 */

/** The vitest process group running now, for interrupt(). */
let running = null;

export function catcherLabel(c) {
  return c.test ? `${c.file} › ${c.test}` : c.file;
}

/**
 * @param {string} dir  the copy
 * @param {import('./list.mjs').Catcher} catcher
 * @param {string} logFile  vitest's own output goes here
 * @returns {Promise<CatcherRun>}
 */
export async function runCatcher(dir, catcher, logFile) {
  const report = `${logFile}.json`;
  // The default reporter too, so the log reads like any test run when a catch needs a look.
  const args = [path.join(dir, 'node_modules/vitest/vitest.mjs'), 'run', catcher.file, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
  if (catcher.test) args.push('-t', escapeRegExp(catcher.test));
  const log = fs.openSync(logFile, 'w');
  // Plain text in the log file; figures a mutant made are not results of the product.
  const env = { ...process.env, NO_COLOR: '1', FLOORGATE_RESULTS: `${logFile}.figures.jsonl` };
  delete env.FORCE_COLOR;
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env,
    stdio: ['ignore', log, log],
    // Its own process group, so a timeout ends vitest's workers and what they started too.
    detached: true,
  });
  running = child;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, RUN_TIMEOUT_MS);
  const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? signal)));
  clearTimeout(timer);
  running = null;
  fs.closeSync(log);
  if (timedOut) return { outcome: 'error', failures: [], detail: `no result after ${RUN_TIMEOUT_MS / 1000} s, see ${logFile}` };
  if (!fs.existsSync(report)) return { outcome: 'error', failures: [], detail: `vitest exited with ${code} and no report, see ${logFile}` };
  return judge(JSON.parse(fs.readFileSync(report, 'utf8')), catcher, dir);
}

/** Ends the vitest run in progress, if any (Ctrl-C of the runner). */
export function interrupt() {
  if (running) killGroup(running);
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
}

/** @returns {CatcherRun} */
function judge(report, catcher, dir) {
  const selects = catcher.test ? (name) => name.includes(catcher.test) : () => true;
  const failures = [];
  let selected = 0;
  let passed = 0;
  for (const file of report.testResults) {
    const where = path.relative(dir, file.name);
    let testFailed = false;
    for (const t of file.assertionResults) {
      if (!selects(t.fullName)) continue;
      selected++;
      if (t.status === 'passed') passed++;
      if (t.status === 'failed') {
        testFailed = true;
        failures.push({ test: `${where} › ${t.fullName}`, message: firstLine(t.failureMessages?.[0]) });
      }
    }
    // A file that failed outside any test: it would not load, or a hook failed.
    if (file.status === 'failed' && !testFailed) failures.push({ test: where, message: firstLine(file.message) });
  }
  if (failures.length === 0 && report.success === false) failures.push({ test: catcher.file, message: 'vitest reported errors outside the tests (unhandled rejection or the like)' });
  if (failures.length > 0) return { outcome: 'failed', failures, detail: failures.map((f) => `${f.test}: ${f.message}`).join('; ') };
  if (selected === 0) {
    const which = catcher.test ? `has a name containing ${JSON.stringify(catcher.test)}` : 'ran';
    return { outcome: 'no-match', failures, detail: `no test in ${catcher.file} ${which}` };
  }
  if (passed === 0) return { outcome: 'skipped', failures, detail: `the ${selected} selected tests skipped themselves` };
  return { outcome: 'passed', failures, detail: `${passed} passed` };
}

function firstLine(text) {
  const line = String(text ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line.trim();
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
