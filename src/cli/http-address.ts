/**
 * Where the running daemon's HTTP listener is, for `floorgate status` (reference §1): a small
 * file the daemon writes once it listens and removes on a clean stop. It lets `status` ask the
 * daemon without reading the configuration, which holds secrets (so /etc/floorgate is not for
 * every operator) and takes seconds to validate on a small gateway; it also names the port
 * actually bound when http.listen asks for port 0.
 *
 * The file lives in systemd's RuntimeDirectory= ($RUNTIME_DIRECTORY, /run/floorgate), readable
 * by everyone (an address is no secret); without systemd, in gateway.data_dir.
 */
import fs from 'node:fs';
import path from 'node:path';

const FILE_NAME = 'http.json';
/** Where the unit's RuntimeDirectory=floorgate puts it; an operator's shell has no $RUNTIME_DIRECTORY. */
const SYSTEM_RUNTIME_DIR = '/run/floorgate';

export interface HttpAddress {
  /** The listener's base URL, e.g. http://127.0.0.1:9102. */
  readonly url: string;
  readonly gateway: string;
  /** The config file the daemon runs (absolute): `status -c FILE` trusts only a file naming its FILE. */
  readonly config: string;
  readonly pid: number;
}

/** systemd's runtime directory of this process ($RUNTIME_DIRECTORY may list several, colon-separated). */
function runtimeDir(): string | undefined {
  return process.env.RUNTIME_DIRECTORY?.split(':')[0] || undefined;
}

/** Where this process, with gateway.data_dir, keeps the file. */
export function httpAddressFile(dataDir: string): string {
  return path.join(runtimeDir() ?? dataDir, FILE_NAME);
}

/** Writes the file atomically, mode 0644. */
export function writeHttpAddress(file: string, address: HttpAddress): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(address) + '\n');
  // The unit's UMask=0077 would leave it to the floorgate user alone.
  fs.chmodSync(tmp, 0o644);
  fs.renameSync(tmp, file);
}

/** On a clean stop, and at a start without a listener: a stale file must not mislead status. */
export function removeHttpAddress(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Where `status` looks first: the runtime directory, its own or the unit's. */
export function runtimeHttpAddressFile(): string {
  return path.join(runtimeDir() ?? SYSTEM_RUNTIME_DIR, FILE_NAME);
}

/** The address in `file` when the daemon that wrote it runs `configFile`. */
export function readHttpAddress(file: string, configFile: string): HttpAddress | null {
  let address: Partial<HttpAddress>;
  try {
    address = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<HttpAddress>;
  } catch {
    return null;
  }
  const valid = typeof address?.url === 'string' && typeof address.gateway === 'string' && address.config === path.resolve(configFile);
  return valid ? (address as HttpAddress) : null;
}
