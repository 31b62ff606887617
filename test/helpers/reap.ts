import type { ChildProcess } from 'node:child_process';

/**
 * Children a test started, killed when the test process exits however it ends (a timed-out
 * worker never reaches afterEach): no broker or gateway outlives the run that made it.
 */
const children = new Set<ChildProcess>();
let hooked = false;

export function reapOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}
