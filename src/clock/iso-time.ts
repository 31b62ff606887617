/**
 * `Date#toISOString` without calling it: V8's first call maps ~640 KB of ICU's time-zone data
 * into the process (it touches no such page for the getUTC* methods), and a daemon that formats a
 * time once for a log line keeps them resident for good.
 */
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The same text as `new Date(ms).toISOString()`; it throws for an invalid time, as that does. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Years outside 0000–9999 take the extended ±YYYYYY form: rare enough to leave to V8.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}
