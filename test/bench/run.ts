/**
 * `npm run bench [-- --full] [-- --write] [-- --profile] [-- --repeat=N] [-- NAME …]`: every bench
 * in turn, one line per figure. Each bench runs N times (1, or 3 under --full) and keeps its
 * median run with the range of all runs; --write puts the table into the README. NAMEs pick
 * benches (e.g. `steady throughput`). Each bench also runs on its own: `node dist/test/bench/<name>.js`.
 */
import path from 'node:path';
import { backlogDrain } from './backlog-drain.js';
import { bufferAppend } from './buffer-append.js';
import { cpuPerReading } from './cpu-per-reading.js';
import { ROOT } from './gateway.js';
import { idle } from './idle.js';
import { largeConfig } from './large-config.js';
import { memory } from './memory.js';
import { modbusRequests } from './modbus-requests.js';
import { machine } from './procfs.js';
import { renderTable, writeReadme } from './readme-table.js';
import { formatFigure, medianRuns, parseOptions, type Bench, type Figure } from './report.js';
import { startup } from './startup.js';
import { statusPage } from './status-page.js';
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
  'cpu-per-reading': cpuPerReading,
  startup,
  idle,
  'large-config': largeConfig,
  'status-page': statusPage,
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
    const runs: Figure[][] = [];
    try {
      for (let i = 1; i <= opts.repeat; i++) {
        if (opts.repeat > 1) console.log(`  ${name}, run ${i} of ${opts.repeat}`);
        const run = await BENCHES[name](opts);
        for (const f of run) console.log(formatFigure(f));
        runs.push(run);
      }
      if (opts.repeat > 1) {
        const medians = medianRuns(runs);
        console.log(`  ${name}, median of ${opts.repeat} runs:`);
        for (const f of medians) console.log(formatFigure(f));
        figures.push(...medians);
      } else {
        figures.push(...runs[0]);
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
    const repeat = opts.repeat === (opts.full ? 3 : 1) ? '' : ` --repeat=${opts.repeat}`;
    const command = `npm run bench -- --write${opts.full ? ' --full' : ''}${repeat}`;
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
