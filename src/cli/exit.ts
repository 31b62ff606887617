/** Exit codes of reference §1 (64 and 78 are sysexits' EX_USAGE and EX_CONFIG). */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;
