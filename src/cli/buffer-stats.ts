import { formatProblem } from '../config/load.js';
import { loadFloorgateConfig } from '../assembly.js';
import { readBufferStats, formatBufferStats } from '../buffer/stats.js';
import { bufferPath } from '../data-dir.js';
import { EXIT } from './exit.js';

/** `floorgate buffer stats`: read from the SQLite file itself, so it works while the daemon runs. */
export async function runBufferStats(sub: string | undefined, file: string, out: (line: string) => void): Promise<number> {
  if (sub !== 'stats') {
    out('usage: floorgate buffer stats [-c FILE]');
    return EXIT.usage;
  }
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) {
    for (const p of loaded.problems) out(formatProblem(p));
    return EXIT.config;
  }
  const dbPath = bufferPath(loaded.config);
  try {
    out(`buffer: ${dbPath}`);
    out(formatBufferStats(readBufferStats(dbPath)));
    return EXIT.ok;
  } catch (err) {
    out(`cannot read the buffer at ${dbPath}: ${(err as Error).message}`);
    return EXIT.failure;
  }
}
