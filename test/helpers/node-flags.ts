import fs from 'node:fs';

/**
 * The Node flags on a CLI's shebang line (`#!/usr/bin/env -S node FLAGS`): how floorgate is
 * run when installed (install.sh copies them into ExecStart), so tests and benchmarks that
 * spawn it to measure it use them too.
 */
export function shebangNodeFlags(cliPath: string): string[] {
  const first = fs.readFileSync(cliPath, 'utf8').split('\n', 1)[0];
  return first.replace(/^#!.* -S node/, '').split(' ').filter(Boolean);
}
