/**
 * Exit codes of reference §1 (64, 69, 77 and 78 are sysexits' EX_USAGE, EX_UNAVAILABLE,
 * EX_NOPERM and EX_CONFIG).
 */
export const EXIT = { ok: 0, failure: 1, usage: 64, unavailable: 69, permission: 77, config: 78 } as const;
