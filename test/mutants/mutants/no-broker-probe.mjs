/**
 * While the broker is unreachable, only the backoff decides the next attempt: after a long
 * outage (or a restart during one) live data waits up to reconnect_max after the broker's return.
 */
export default {
  name: 'no-broker-probe',
  breaks: 'live data resumes within 2 s of the broker accepting connections again',
  edits: [{
    file: 'src/forward/forwarder.ts',
    find: 'if (this.unreached && address && delay > PROBE_INTERVAL_MS) {',
    replace: 'if (this.unreached && address && delay > Infinity) {',
  }],
  catchers: [{ file: 'test/faults/reconnect.test.ts', dist: true }],
};
