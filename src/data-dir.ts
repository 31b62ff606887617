import path from 'node:path';
import type { FloorgateConfig } from './config/types.js';

/** Where the buffer lives: one SQLite file (plus its WAL) in gateway.data_dir. */
export function bufferPath(config: FloorgateConfig): string {
  return path.join(config.gateway.data_dir, 'buffer.db');
}
