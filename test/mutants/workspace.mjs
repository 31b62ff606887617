/**
 * Throw-away copies of the checkout: the product is mutated and built there, never in place,
 * so the checkout (which others edit meanwhile) is only ever read.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Linked rather than copied (node_modules), or not needed (build output, history). */
const NOT_COPIED = new Set(['node_modules', 'dist', '.git']);

/** A mutant's edit no longer matches the source: the mutant is stale, not survived. */
export class StaleMutant extends Error {}

/** The copy does not compile: neither a catch nor a survival. */
export class BuildFailed extends Error {}

/** Copies a checkout (or a copy of one) into a new temp dir, node_modules linked; returns the dir. */
export function copyCheckout(from, label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `floorgate-mutant-${label}-`));
  for (const entry of fs.readdirSync(from)) {
    if (!NOT_COPIED.has(entry)) fs.cpSync(path.join(from, entry), path.join(dir, entry), { recursive: true, verbatimSymlinks: true });
  }
  fs.symlinkSync(fs.realpathSync(path.join(from, 'node_modules')), path.join(dir, 'node_modules'));
  return dir;
}

/** @param {import('./list.mjs').Edit[]} edits */
export function applyEdits(dir, edits) {
  for (const { file, find, replace } of edits) {
    const target = path.join(dir, file);
    if (!fs.existsSync(target)) throw new StaleMutant(`${file} does not exist`);
    const text = fs.readFileSync(target, 'utf8');
    const count = text.split(find).length - 1;
    if (count !== 1) throw new StaleMutant(`${file}: the text to replace occurs ${count} times, not once: ${JSON.stringify(find)}`);
    // A function, so `$&` and the like in the replacement stay literal.
    fs.writeFileSync(target, text.replace(find, () => replace));
  }
}

/** The package's own build (tsc, as `npm run build` does it), in the copy; output to `logFile`. */
export function build(dir, logFile) {
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: dir, encoding: 'utf8' });
  fs.writeFileSync(logFile, `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ?? ''}`);
  if (result.status !== 0) throw new BuildFailed(`the build failed, see ${logFile}`);
}

export function removeCopy(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}
