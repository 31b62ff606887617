/**
 * What the running daemon reports about itself: the body of GET /healthz and the input of
 * `floorgate status`. A superset of reference §5's shape; the runtime builds it, the HTTP layer only
 * serialises it. Timestamps are epoch milliseconds.
 */
import type { ClockStatus } from '../clock/clock.js';
import type { Reading } from '../driver/contract.js';

export interface DeviceHealth {
  up: boolean;
  last_ok_ts: number | null;
  /** null while the device is fine. */
  error: string | null;
  last_poll_ms: number | null;
}

export interface Health {
  /** failing: the buffer cannot be written (readings are being lost); degraded: anything else amiss. */
  status: 'ok' | 'degraded' | 'failing';
  mqtt: { connected: boolean; since: number | null; last_error: string | null };
  buffer: {
    writable: boolean;
    messages: number;
    bytes: number;
    /** null when the buffer is empty. */
    oldest_ts: number | null;
    /** Readings dropped since the buffer was created, by reason. */
    dropped: Record<string, number>;
  };
  devices: Record<string, DeviceHealth>;
  /**
   * Serial lines shared by devices, by port, when any: the fraction of the line's time the
   * configured polls need (above 1 they cannot all be kept), and the fraction it was busy over
   * the last few seconds (null until first measured).
   */
  lines?: Record<string, { planned_load: number; busy_ratio: number | null }>;
  /** Whether readings are stamped by a trusted clock (reference §4.12); absent from a daemon older than the check. */
  clock?: ClockStatus;
  process: { rss_bytes: number; event_loop_lag_ms: number; buffer_write_ms: number | null; uptime_s: number };
}

export interface HealthSource {
  health(): Health;
}

/** reference §5: 503 exactly when readings cannot be committed; a broker or device outage is still 200. */
export function healthHttpStatus(h: Health): 200 | 503 {
  return h.status === 'failing' || !h.buffer.writable ? 503 : 200;
}

/** The last reading of one tag and the version the status page diffs by. */
export interface TagState {
  /** Rises each time the tag's value, quality or error changes; one counter for every tag. */
  readonly version: number;
  /** Epoch ms of the first reading with the current value, quality and error. */
  readonly changedTs: number;
  reading(tag: string): Reading;
}

/** One device's tags as the status page reads them: names in config order, each one's last reading. */
export interface DeviceTags {
  readonly name: string;
  readonly tags: readonly string[];
  /** undefined before the tag's first reading. */
  latestOf(tag: string): TagState | undefined;
}

/** The last reading of every tag, per device, with the versions the status page asks for changes by. */
export interface TagTable {
  /** Every version up to this one was given out before the devices and tags took their present order (a start or a reload). */
  readonly layoutVersion: number;
  /** The highest version given out so far: a page holding it has seen every change. */
  readonly version: number;
  readonly devices: readonly DeviceTags[];
}

/** What the status page (GET / and /api/…) reads: the health report plus the tag table. */
export interface StatusSource extends HealthSource {
  tagTable(): TagTable;
}
