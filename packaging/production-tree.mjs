#!/usr/bin/env node
/**
 * Lays out floorgate as it runs on a gateway, with nothing else: the compiled gateway (dist/src,
 * dist/drivers), config/, package.json, and the production packages of package-lock.json
 * (devDependencies left out, so no simulator, no demo broker) for one CPU, with only the files
 * that run. Used by `npm run package` (the .deb's /usr/lib/floorgate) and by the test that runs
 * the gateway in a tree where the simulators cannot be resolved.
 *
 *   node packaging/production-tree.mjs --repo DIR --out DIR [--arch x64|arm64] [--node-modules DIR]
 *
 * --node-modules: where the installed packages are taken from (default REPO/node_modules); for
 * arm64 that is the cross-built tree of test/arm64. Works offline and without npm: the lock
 * file's own marks (dev, os, cpu) say what belongs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { repo: { type: 'string' }, out: { type: 'string' }, arch: { type: 'string', default: process.arch }, 'node-modules': { type: 'string' } },
});
if (!args.repo || !args.out) {
  process.stderr.write('usage: production-tree.mjs --repo DIR --out DIR [--arch x64|arm64] [--node-modules DIR]\n');
  process.exit(64);
}
const repo = path.resolve(args.repo);
const out = path.resolve(args.out);
const modules = path.resolve(args['node-modules'] ?? path.join(repo, 'node_modules'));

// Files a running gateway never reads: typings, source maps, docs, tests, build inputs.
const DROP_FILE = /(\.d\.[cm]?ts|\.[cm]?ts|\.map|\.md|\.markdown|\.html|^\.git\w*|\.gyp|\.gypi|\.tsbuildinfo|\.h|\.hpp|\.c|\.cc|\.cpp|^\.npmignore|^\.eslintrc.*|^\.prettierrc.*|^\.editorconfig|^tsconfig.*\.json|^Makefile)$/i;
// Folders only at a package's top: deeper, a name such as doc/ can be code (yaml's dist/doc/).
const DROP_DIR = /^(test|tests|__tests__|docs?|examples?|benchmarks?|\.github|coverage)$/i;
// Kept though they match: licences travel with the code (the .deb's copyright points at them).
const KEEP_FILE = /^(licen[cs]e|copying|notice)/i;

/**
 * Per package, what else goes: better-sqlite3 ships SQLite's sources and keeps the compiler's
 * objects next to the one addon it loads (~25 MB of ~27); the serialport bindings carry
 * prebuilt addons for every platform. (koffi's src/ is its JavaScript: it stays.)
 */
const PRUNE = {
  'better-sqlite3': (dir) => {
    for (const sub of ['deps', 'src']) rm(path.join(dir, sub));
    const release = path.join(dir, 'build', 'Release');
    const addon = path.join(release, 'better_sqlite3.node');
    if (!fs.existsSync(addon)) fail(`${addon} is missing: better-sqlite3 was not built`);
    const keep = fs.readFileSync(addon);
    rm(path.join(dir, 'build'));
    fs.mkdirSync(release, { recursive: true });
    fs.writeFileSync(addon, keep, { mode: 0o644 });
  },
  '@serialport/bindings-cpp': (dir) => {
    rm(path.join(dir, 'src'));
    for (const platform of fs.readdirSync(path.join(dir, 'prebuilds'))) {
      if (platform !== `linux-${args.arch}`) rm(path.join(dir, 'prebuilds', platform));
    }
  },
};

function fail(message) {
  process.stderr.write(`production-tree: ${message}\n`);
  process.exit(1);
}

function rm(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

/** Builds for musl (Alpine): floorgate's targets are glibc systems (Debian, Raspberry Pi OS). */
const MUSL = /musl/;

/** Copies a package's own files (nested node_modules are lock entries of their own), pruned. */
function copyPackage(from, to, top = true) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.name === 'node_modules' || MUSL.test(entry.name)) continue;
    if (entry.isDirectory()) {
      if (!(top && DROP_DIR.test(entry.name))) copyPackage(source, target, false);
    } else if (entry.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(source), target);
    } else if (KEEP_FILE.test(entry.name) || !DROP_FILE.test(entry.name)) {
      fs.copyFileSync(source, target);
      fs.chmodSync(target, executableMode(target));
    }
  }
}

/**
 * 0755 only for what runs as a program (a #! script); npm packages often mark data, JSON and
 * libraries executable, and a loaded addon (.node) needs no x bit.
 */
function executableMode(file) {
  if (file.endsWith('.node')) return 0o644;
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  return head.toString() === '#!' ? 0o755 : 0o644;
}

const wanted = (list, value) => !list || list.includes(value);
const lock = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8'));
rm(out);
fs.mkdirSync(path.join(out, 'dist'), { recursive: true });
let packages = 0;
for (const [where, entry] of Object.entries(lock.packages)) {
  if (!where || entry.dev || !wanted(entry.os, 'linux') || !wanted(entry.cpu, args.arch)) continue;
  const from = path.join(modules, where.replace(/^node_modules\//, ''));
  if (!fs.existsSync(from)) {
    if (entry.optional) continue;
    fail(`${where} is in package-lock.json but not in ${modules}: run npm ci`);
  }
  const to = path.join(out, where);
  copyPackage(from, to);
  PRUNE[where.replace(/^.*node_modules\//, '')]?.(to);
  packages++;
}
// Scope folders left empty by skipped optional packages.
for (const scope of fs.readdirSync(path.join(out, 'node_modules'))) {
  const dir = path.join(out, 'node_modules', scope);
  if (scope.startsWith('@') && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}

for (const part of ['src', 'drivers']) {
  fs.cpSync(path.join(repo, 'dist', part), path.join(out, 'dist', part), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.endsWith('.d.ts') });
}
// The shipped configs and schema only: a checkout's config/ may also hold the demo's data dir
// (config/.floorgate-demo, with its OPC UA private key), which must never reach a package.
fs.mkdirSync(path.join(out, 'config'), { recursive: true });
for (const entry of fs.readdirSync(path.join(repo, 'config'), { withFileTypes: true })) {
  if (entry.isFile() && !entry.name.startsWith('.')) fs.copyFileSync(path.join(repo, 'config', entry.name), path.join(out, 'config', entry.name));
}
// floorgate finds its root and version by its package.json.
fs.copyFileSync(path.join(repo, 'package.json'), path.join(out, 'package.json'));
process.stdout.write(`production-tree: ${packages} packages for linux-${args.arch} in ${out}\n`);
