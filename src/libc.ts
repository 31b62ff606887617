/**
 * The C library, called through koffi (prebuilt for x64, arm and arm64: no compiler on the
 * gateway) for the few calls Node does not offer: sd_notify's datagram, flock and prctl. Loaded on
 * first use only, so a process that needs neither never pays for it.
 */
import { createRequire } from 'node:module';

export interface Libc {
  /** A C function by its prototype, e.g. 'int flock(int fd, int operation)'. */
  func(prototype: string): (...args: unknown[]) => unknown;
  /** errno of the last call, as a name such as ECONNREFUSED. */
  lastError(): string;
}

let loaded: Libc | undefined;

export function libc(): Libc {
  if (loaded) return loaded;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  // The running process already has libc mapped; load(null) finds it under glibc and musl alike.
  const lib = koffi.load(null);
  const names = new Map(Object.entries(koffi.os.errno).map(([name, code]) => [code, name]));
  loaded = {
    func: (prototype) => lib.func(prototype) as (...args: unknown[]) => unknown,
    lastError: () => {
      const code = koffi.errno();
      return names.get(code) ?? `errno ${code}`;
    },
  };
  return loaded;
}

const PR_SET_DUMPABLE = 4;

/**
 * No core dump and no ptrace by other processes of the same user: either would hand over the
 * secrets in memory (MQTT password, TLS key). Returns why it failed, or null.
 */
export function makeNonDumpable(): string | null {
  try {
    const c = libc();
    const prctl = c.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)');
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0 ? null : c.lastError();
  } catch (err) {
    return (err as Error).message;
  }
}
