import { refuseConfig } from './config-refused.js';
import { loadFloorgateConfig } from '../assembly.js';
import { readBufferStats, formatBufferStats } from '../buffer/stats.js';
import { bufferPath } from '../data-dir.js';
import { EXIT } from './exit.js';

/** `floorgate buffer stats`: read from the SQLite file itself, so it works while the daemon runs. */
export async function runBufferStats(sub: string | undefined, file: string, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  if (sub !== 'stats') {
    err('usage: floorgate buffer stats [-c FILE]');
    return EXIT.usage;
  }
  const loaded = loadFloorgateConfig(file);
  if (!loaded.ok) return refuseConfig(loaded, err);
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
