/**
 * Tests that need a tool from the machine (mosquitto, pymodbus, mbpoll, shellcheck, chromium,
 * root for mounts…). Under CI=true a missing tool fails the run with its name, because .ci/run
 * installs every one of them and a quiet skip would hide a guarantee that was never checked.
 * Elsewhere the test is skipped and says why on stderr.
 */
import { spawnSync } from 'node:child_process';

const inCi = process.env.CI === 'true';

/**
 * True when the tool is here. Missing: throws under CI=true (the test file fails, naming the
 * tool), else prints why the tests that need it are skipped and returns false.
 */
export function needTool(name: string, present: boolean, what: string): boolean {
  if (present) return true;
  if (inCi) throw new Error(`${name} is missing, and CI=true requires it: ${what}. .ci/run should have installed it.`);
  process.stderr.write(`skipping ${what}: ${name} is not available on this machine\n`);
  return false;
}

/** Whether a command is on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
