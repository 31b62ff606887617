import { formatProblem, type LoadResult } from '../config/load.js';
import { EXIT } from './exit.js';

/**
 * Every problem of a config that did not load, one per line, and the exit code: 78 for a
 * configuration error, 77 when the file could not even be read for lack of permission.
 */
export function refuseConfig(loaded: LoadResult & { ok: false }, out: (line: string) => void): number {
  for (const p of loaded.problems) out(formatProblem(p));
  return loaded.denied ? EXIT.permission : EXIT.config;
}
