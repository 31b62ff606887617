/**
 * The C library, called through koffi (prebuilt for x64, arm and arm64: no compiler on the
 * gateway) for the few calls Node does not offer: sd_notify's datagram and flock. Loaded on
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
