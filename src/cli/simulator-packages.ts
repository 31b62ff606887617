/**
 * The packages only `floorgate demo` and `floorgate sim` load: the demo's MQTT broker and the
 * simulated PLCs. They are devDependencies, so a production install (`npm ci --omit=dev`, the
 * .deb) leaves them out and the gateway's commands never load them (README, Install).
 */
import { EXIT } from './exit.js';

const SIMULATOR_PACKAGES = ['aedes', 'modbus-serial', 'node-opcua-server'] as const;

/** The simulator packages that cannot be resolved here; resolving loads nothing. */
function missingSimulatorPackages(): string[] {
  return SIMULATOR_PACKAGES.filter((name) => {
    try {
      import.meta.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Refuses `command` where the simulators are not installed (exit 69, EX_UNAVAILABLE), saying
 * what to do instead; undefined where they are.
 */
export function refuseWithoutSimulators(command: string, err: (line: string) => void): number | undefined {
  const missing = missingSimulatorPackages();
  if (missing.length === 0) return undefined;
  err(`floorgate ${command}: the simulators are not part of a production install (missing: ${missing.join(', ')}).\n` +
    `Run them from a checkout of floorgate, where npm ci installs them: npm ci && npx floorgate ${command}`);
  return EXIT.unavailable;
}
