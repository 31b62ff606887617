/**
 * The last reading of one tag, kept for the status page, with a version that moves only when
 * what the page shows of it moves: its value, quality or error. A page that holds version V asks
 * for the rows whose version is above V and gets only those, so a tag that keeps reading the
 * same value is not sent again every second.
 *
 * Versions come from one counter for the whole process: a `since` is then comparable across
 * devices and across runners replaced by a reload. Keeping one costs a comparison and, on a
 * change, an increment per reading.
 */
import type { Reading, Value } from '../driver/contract.js';

/**
 * Starts from the wall clock in µs, so the versions of a restarted process begin above those of
 * the one before (it would have to change more than a tag per µs of its life to overtake them):
 * a page still holding a version from before the restart is sent its whole window again.
 */
let lastVersion = Date.now() * 1000;

/** A version above every one given out so far. */
export function nextVersion(): number {
  return ++lastVersion;
}

/** The highest version given out so far. */
export function currentVersion(): number {
  return lastVersion;
}

/**
 * Updated in place: a new object per tag and poll would live a whole poll interval, get
 * promoted to V8's old space and cost full GCs (and RSS) to reclaim.
 */
export class LatestReading {
  private value!: Value;
  private quality!: Reading['quality'];
  private ts!: number;
  private error: string | undefined;
  /** Raised (from nextVersion) each time the value, quality or error changes. */
  version = 0;
  /** Epoch ms of the first reading with the current value, quality and error. */
  changedTs = 0;

  constructor(r: Reading) {
    this.update(r);
  }

  update(r: Reading): void {
    if (this.version === 0 || r.quality !== this.quality || r.error !== this.error || !sameValue(r.value, this.value)) {
      this.version = nextVersion();
      this.changedTs = r.ts;
    }
    this.value = r.value;
    this.quality = r.quality;
    this.ts = r.ts;
    this.error = r.error;
  }

  reading(tag: string): Reading {
    const r: Reading = { tag, value: this.value, quality: this.quality, ts: this.ts };
    return this.error === undefined ? r : { ...r, error: this.error };
  }
}

/** Object.is per element: NaN equals NaN (it stays bad), and an array read anew with the same elements is the same value. */
function sameValue(a: Value, b: Value): boolean {
  if (Object.is(a, b)) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** What readers of a LatestReading (the status page) see of it. */
export type LatestView = Pick<Readonly<LatestReading>, 'version' | 'changedTs' | 'reading'>;
