/**
 * Runs inside the arm64 root, with the arm64 node: loads each native addon floorgate ships and
 * makes it do real work, so a binary built for the wrong CPU, or against the wrong Node headers,
 * fails here with its own name rather than somewhere inside `floorgate run`.
 * Prints one JSON line; exits non-zero on the first failure.
 */
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

const require = createRequire(import.meta.url);

const db = new Database(':memory:');
db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)');
db.prepare('INSERT INTO t (body) VALUES (?)').run('x');
const sqlite = db.prepare('SELECT sqlite_version() AS v, count(*) AS n FROM t').get() as { v: string; n: number };
db.close();
if (sqlite.n !== 1) throw new Error('better-sqlite3: the row written is not there');

// Loading the module loads the addon. Opening /dev/null then runs its native open(): the file
// opens and the serial-line ioctl is refused, an answer only the addon's C++ code gives.
// (list() would spawn udevadm, which a minimal root lacks.)
const { autoDetect } = require('@serialport/bindings-cpp') as typeof import('@serialport/bindings-cpp');
const serial = await autoDetect().open({ path: '/dev/null', baudRate: 9600 }).then(
  () => { throw new Error('@serialport/bindings-cpp: /dev/null opened as a serial port'); },
  (err: Error) => err.message,
);
if (!serial.includes('Inappropriate ioctl')) throw new Error(`@serialport/bindings-cpp: unexpected answer: ${serial}`);

// The same calls src/systemd/notify.ts makes: libc found through the process itself.
const koffi = require('koffi') as typeof import('koffi');
const getpid = koffi.load(null).func('int getpid()');
const pid = getpid() as number;
if (pid !== process.pid) throw new Error(`koffi: getpid() returned ${pid}, expected ${process.pid}`);

process.stdout.write(JSON.stringify({
  arch: process.arch,
  node: process.version,
  modules: process.versions.modules,
  'better-sqlite3': `sqlite ${sqlite.v}`,
  '@serialport/bindings-cpp': `open(/dev/null): ${serial}`,
  koffi: `getpid() = ${pid}`,
}) + '\n');
