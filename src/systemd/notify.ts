/**
 * sd_notify(3) for a `Type=notify` service: READY=1, WATCHDOG=1 and STOPPING=1 as datagrams to
 * $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace).
 *
 * Node has no AF_UNIX datagram sockets, and spawning `systemd-notify` would send from a child
 * pid that systemd rejects under the default NotifyAccess=main (and races its exit). So the
 * datagram is sent from this process through libc (src/libc.ts), which lets us pass the exact
 * address length that the abstract namespace needs, which the unix-dgram style addons get wrong.
 * libc is loaded only the first time a notification is actually sent, so processes outside
 * systemd never pay for it.
 *
 * A failed notification never throws: it must not take the daemon down, least of all while it
 * is stopping. It is reported as a process warning (stderr, kept by journald) instead.
 */
import os from 'node:os';
import { libc } from '../libc.js';

// Linux ABI values (x86, ARM, RISC-V); systemd exists only on Linux.
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) */
const SUN_PATH_MAX = 108;

interface SocketCalls {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
  lastError(): string;
}

let calls: SocketCalls | undefined;

function loadSocketCalls(): SocketCalls {
  const c = libc();
  const socket = c.func('int socket(int domain, int type, int protocol)');
  const sendto = c.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
  const close = c.func('int close(int fd)');
  return {
    socket: (domain, type, protocol) => socket(domain, type, protocol) as number,
    sendto: (fd, buf, len, flags, addr, addrlen) => Number(sendto(fd, buf, len, flags, addr, addrlen)),
    close: (fd) => close(fd) as number,
    lastError: c.lastError,
  };
}

/** struct sockaddr_un with the length the kernel must be given: abstract names have no NUL. */
function socketAddress(target: string): Buffer {
  const abstract = target.startsWith('@');
  if (!abstract && !target.startsWith('/')) throw new Error('NOTIFY_SOCKET must be an absolute path or @name');
  const name = Buffer.from(abstract ? target.slice(1) : target);
  if (name.length + 1 > SUN_PATH_MAX) throw new Error('NOTIFY_SOCKET is longer than a unix socket address allows');
  const addr = Buffer.alloc(2 + 1 + name.length);
  // sun_family is a host-order short; an abstract name starts with a NUL byte, a path ends with one.
  if (os.endianness() === 'LE') addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0);
  name.copy(addr, abstract ? 3 : 2);
  return addr;
}

function send(target: string, state: string): void {
  const addr = socketAddress(target);
  calls ??= loadSocketCalls();
  const fd = calls.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket: ${calls.lastError()}`);
  try {
    const payload = Buffer.from(state);
    // Never block the event loop on a full notify queue: a skipped ping beats a stalled gateway.
    if (calls.sendto(fd, payload, payload.length, MSG_DONTWAIT | MSG_NOSIGNAL, addr, addr.length) < 0) {
      throw new Error(`sendto: ${calls.lastError()}`);
    }
  } finally {
    calls.close(fd);
  }
}

/**
 * Sends one notification (e.g. "READY=1", or several "KEY=value" lines). Returns true when it
 * was delivered, false when not running under systemd (no NOTIFY_SOCKET) or when sending failed.
 */
export function notify(state: string): boolean {
  const target = process.env.NOTIFY_SOCKET;
  if (!target) return false;
  try {
    send(target, state);
    return true;
  } catch (err) {
    process.emitWarning(`sd_notify ${JSON.stringify(state)} to ${target} failed: ${(err as Error).message}`, 'FloorgateNotifyWarning');
    return false;
  }
}

/** Config loaded and buffer open: systemd considers the unit started. */
export function ready(status?: string): boolean {
  return notify(status ? `READY=1\nSTATUS=${status}` : 'READY=1');
}

export function stopping(): boolean {
  return notify('STOPPING=1');
}

export function watchdog(): boolean {
  return notify('WATCHDOG=1');
}

/** Half of WATCHDOG_USEC in ms, as sd_watchdog_enabled(3) advises; null when no watchdog is armed for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/**
 * Pings the watchdog every half WATCHDOG_USEC while isHealthy() holds, so a wedged main loop (or
 * an unhealthy one) lets systemd restart the service. Returns the function that stops the pings.
 */
export function startWatchdog(isHealthy: () => boolean): () => void {
  const interval = watchdogIntervalMs();
  if (interval === null || !process.env.NOTIFY_SOCKET) return () => {};
  const timer = setInterval(() => {
    let healthy: boolean;
    try {
      healthy = isHealthy();
    } catch {
      healthy = false;
    }
    if (healthy) watchdog();
  }, interval);
  // The pings must never be what keeps a stopping process alive.
  timer.unref();
  return () => clearInterval(timer);
}
