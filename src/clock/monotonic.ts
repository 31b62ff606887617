/** CLOCK_MONOTONIC in ms: system-wide, so comparable across restarts of the daemon within one boot. */
export const monoMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);
