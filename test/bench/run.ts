/**
 * `npm run bench [-- --full] [-- --write] [-- --profile] [-- NAME …]`: every bench in turn,
 * one line per figure; --write puts the table into the README. NAMEs pick benches (e.g.
 * `steady throughput`). Each bench also runs on its own: `node dist/test/bench/<name>.js`.
 */
import path from 'node:path';
import { backlogDrain } from './backlog-drain.js';
import { bufferAppend } from './buffer-append.js';
import { ROOT } from './gateway.js';
import { idle } from './idle.js';
import { memory } from './memory.js';
import { modbusRequests } from './modbus-requests.js';
import { machine } from './procfs.js';
import { renderTable, writeReadme } from './readme-table.js';
import { formatFigure, parseOptions, type Bench, type Figure } from './report.js';
import { startup } from './startup.js';
import { steady } from './steady.js';
import { throughput } from './throughput.js';
import { bytesPerReading, diskPerReading } from './wire-disk.js';

/** In BENCH.md's order. */
const BENCHES: Readonly<Record<string, Bench>> = {
  'buffer-append': bufferAppend,
  'backlog-drain': backlogDrain,
  throughput,
  'modbus-requests': modbusRequests,
  memory,
  steady,
  startup,
  idle,
  'bytes-per-reading': bytesPerReading,
  'disk-per-reading': diskPerReading,
};

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const unknown = opts.only.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    return 64;
  }
  const names = opts.only.length > 0 ? opts.only : Object.keys(BENCHES);
  const started = performance.now();
  console.log(`floorgate bench (${opts.full ? 'full' : 'quick'}) on ${machine()}`);
  const figures: Figure[] = [];
  let failed = false;
  for (const name of names) {
    const t0 = performance.now();
    try {
      for (const f of await BENCHES[name](opts)) {
        figures.push(f);
        console.log(formatFigure(f));
      }
    } catch (err) {
      failed = true;
      console.error(`${name} failed:`, err);
    }
    console.log(`  (${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const seconds = (performance.now() - started) / 1000;
  if (opts.write) {
    if (failed || opts.only.length > 0) {
      console.error('README not written: --write needs a complete run of every bench');
      return 1;
    }
    const command = `npm run bench -- --write${opts.full ? ' --full' : ''}`;
    writeReadme(path.join(ROOT, 'README.md'), renderTable(figures, { date: new Date().toISOString().slice(0, 10), machine: machine(), command, seconds }));
    console.log('README.md performance table updated');
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
