import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ModbusArea, ModbusTag } from '../schema.js';
import { tagWidth } from '../codec.js';
import { planRequests, type PlanLimits, type ReadRequest } from '../planner.js';
import { mtag } from './helpers.js';

const limits = (max: number, gap: number, forbidden?: number[]): PlanLimits => ({
  max_registers_per_read: max,
  max_bits_per_read: max,
  max_gap: gap,
  forbidden: forbidden ? { holding: new Set(forbidden) } : undefined,
});

const summary = (rs: readonly ReadRequest[]) => rs.map((r) => `${r.area} ${r.start}+${r.count}: ${r.tags.map((t) => t.name).join(',')}`);

const DEMO: ModbusTag[] = [
  mtag({ name: 'temperature', area: 'holding', address: 0, type: 'float32' }),
  mtag({ name: 'counter', area: 'holding', address: 2, type: 'uint32' }),
  mtag({ name: 'pressure', area: 'holding', address: 4, type: 'int16' }),
  mtag({ name: 'alarm', area: 'holding', address: 5, type: 'bool', bit: 3 }),
  mtag({ name: 'recipe', area: 'holding', address: 10, type: 'string', length: 8 }),
  mtag({ name: 'energy', area: 'holding', address: 20, type: 'float64' }),
  mtag({ name: 'position', area: 'holding', address: 24, type: 'int32', byte_order: 'CDAB' }),
  mtag({ name: 'running', area: 'coil', address: 0 }),
  mtag({ name: 'speed', area: 'input', address: 0, type: 'uint16' }),
];

describe('planRequests: examples', () => {
  it('merges a whole device map across small gaps, one request per area', () => {
    expect(summary(planRequests(DEMO, limits(125, 16)))).toEqual([
      'holding 0+26: temperature,counter,pressure,alarm,recipe,energy,position',
      'input 0+1: speed',
      'coil 0+1: running',
    ]);
  });

  it('does not read over a gap longer than max_gap', () => {
    expect(summary(planRequests(DEMO.filter((t) => t.area === 'holding'), limits(125, 3)))).toEqual([
      'holding 0+6: temperature,counter,pressure,alarm',
      'holding 10+16: recipe,energy,position',
    ]);
  });

  it('never exceeds max_registers_per_read', () => {
    expect(summary(planRequests(DEMO.filter((t) => t.area === 'holding'), limits(10, 16)))).toEqual([
      'holding 0+6: temperature,counter,pressure,alarm',
      'holding 10+8: recipe',
      'holding 20+6: energy,position',
    ]);
  });

  it('lets overlapping tags share one read', () => {
    const tags = [
      mtag({ name: 'f64', area: 'holding', address: 20, type: 'float64' }),
      mtag({ name: 'word', area: 'holding', address: 21 }),
      mtag({ name: 'b0', area: 'holding', address: 22, type: 'bool', bit: 0 }),
      mtag({ name: 'b9', area: 'holding', address: 22, type: 'bool', bit: 9 }),
    ];
    expect(summary(planRequests(tags, limits(4, 0)))).toEqual(['holding 20+4: f64,word,b0,b9']);
  });

  it('never reads over a forbidden gap address', () => {
    const tags = [mtag({ area: 'holding', address: 0 }), mtag({ area: 'holding', address: 5 })];
    expect(planRequests(tags, limits(125, 16))).toHaveLength(1);
    expect(summary(planRequests(tags, limits(125, 16, [3])))).toEqual(['holding 0+1: holding_0', 'holding 5+1: holding_5']);
  });

  it('reads a tag wider than the maximum alone, over exactly its registers', () => {
    const tags = [
      mtag({ name: 's', area: 'holding', address: 10, type: 'string', length: 10 }),
      mtag({ name: 'head', area: 'holding', address: 10 }),
      mtag({ name: 'inside', area: 'holding', address: 12 }),
      mtag({ name: 'after', area: 'holding', address: 20 }),
    ];
    expect(summary(planRequests(tags, limits(4, 16)))).toEqual(['holding 10+10: s,head,inside', 'holding 20+1: after']);
  });

  it('plans coils and discrete inputs in bits with max_bits_per_read', () => {
    const tags = [0, 100, 2000].map((a) => mtag({ area: 'coil', address: a }));
    const plan = planRequests(tags, { max_registers_per_read: 125, max_bits_per_read: 2000, max_gap: 100 });
    expect(summary(plan)).toEqual(['coil 0+101: coil_0,coil_100', 'coil 2000+1: coil_2000']);
  });
});

// ——— properties ———

interface Layout {
  tags: ModbusTag[];
  max: number;
  gap: number;
  forbidden: number[];
}

const layout = (opts: { maxTags: number; space: number; overlap: boolean }): fc.Arbitrary<Layout> =>
  fc.record({
    max: fc.integer({ min: 1, max: 24 }),
    gap: fc.integer({ min: 0, max: 8 }),
    raw: fc.array(fc.record({ address: fc.integer({ min: 0, max: opts.space }), width: fc.constantFrom(1, 1, 1, 2, 2, 4, 3) }), {
      minLength: 1, maxLength: opts.maxTags,
    }),
    forbidden: fc.array(fc.integer({ min: 0, max: opts.space + 4 }), { maxLength: 4 }),
  }).map(({ max, gap, raw, forbidden }) => {
    let items = raw.map((r) => ({ address: r.address, width: Math.min(r.width, max) }));
    if (!opts.overlap) {
      // Lay the tags end to end with the drawn addresses as gaps: no two overlap.
      let at = 0;
      items = items.map((r) => {
        const placed = { address: at + (r.address % 12), width: r.width };
        at = placed.address + placed.width;
        return placed;
      });
    }
    const tags = items.map((r, i) => mtag({
      name: `t${i}`, area: 'holding', address: r.address,
      ...(r.width === 1 ? { type: 'uint16' as const } : { type: 'string' as const, length: r.width }),
    }));
    return { tags, max, gap, forbidden };
  });

const span = (t: ModbusTag) => [t.address, t.address + tagWidth(t) - 1] as const;

/** Is [s, e] one valid read? The rule, written independently of the planner. */
function validWindow(s: number, e: number, l: Layout): boolean {
  if (e - s + 1 > l.max) return false;
  const covered = (a: number) => l.tags.some((t) => span(t)[0] <= a && a <= span(t)[1]);
  let run = 0;
  for (let a = s; a <= e; a++) {
    if (covered(a)) { run = 0; continue; }
    if (l.forbidden.includes(a)) return false;
    if (++run > l.gap) return false;
  }
  return true;
}

/** The optimum by exhaustive set cover over every candidate window (small layouts only). */
function bruteForceOptimum(l: Layout): number {
  const n = l.tags.length;
  const starts = [...new Set(l.tags.map((t) => span(t)[0]))];
  const ends = [...new Set(l.tags.map((t) => span(t)[1]))];
  const windows: number[] = [];
  for (const s of starts) {
    for (const e of ends) {
      if (e < s || !validWindow(s, e, l)) continue;
      let mask = 0;
      l.tags.forEach((t, i) => { if (span(t)[0] >= s && span(t)[1] <= e) mask |= 1 << i; });
      windows.push(mask);
    }
  }
  const full = (1 << n) - 1;
  const dist = new Map<number, number>([[0, 0]]);
  let frontier = [0];
  for (let d = 1; frontier.length > 0; d++) {
    const nextFrontier: number[] = [];
    for (const m of frontier) {
      for (const w of windows) {
        const m2 = m | w;
        if (dist.has(m2)) continue;
        if (m2 === full) return d;
        dist.set(m2, d);
        nextFrontier.push(m2);
      }
    }
    frontier = nextFrontier;
  }
  throw new Error('no cover: some tag fits no window');
}

/** The optimum for non-overlapping tags by dynamic programming over prefixes in address order. */
function dpOptimum(l: Layout): number {
  const t = [...l.tags].sort((a, b) => a.address - b.address);
  const best = [0];
  for (let j = 1; j <= t.length; j++) {
    best[j] = Infinity;
    for (let i = j - 1; i >= 0; i--) {
      if (validWindow(span(t[i])[0], span(t[j - 1])[1], l)) best[j] = Math.min(best[j], best[i] + 1);
    }
  }
  return best[t.length];
}

function checkValid(plan: readonly ReadRequest[], l: Layout): void {
  const seen = new Map<string, number>();
  for (const r of plan) {
    expect(r.area).toBe<ModbusArea>('holding');
    expect(r.tags.length).toBeGreaterThan(0);
    const first = Math.min(...r.tags.map((t) => span(t)[0]));
    const last = Math.max(...r.tags.map((t) => span(t)[1]));
    // Tight around its tags, and each tag wholly inside.
    expect([r.start, r.start + r.count - 1]).toEqual([first, last]);
    const oversize = r.count > l.max && r.tags.some((t) => tagWidth(t) === r.count);
    expect(oversize || validWindow(r.start, r.start + r.count - 1, l)).toBe(true);
    for (const t of r.tags) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  }
  for (const t of l.tags) expect(seen.get(t.name)).toBe(1);
}

describe('planRequests: properties', () => {
  it('is optimal: matches an exhaustive set cover on thousands of random overlapping layouts', () => {
    fc.assert(fc.property(layout({ maxTags: 8, space: 40, overlap: true }), (l) => {
      const plan = planRequests(l.tags, limits(l.max, l.gap, l.forbidden));
      checkValid(plan, l);
      expect(plan.length).toBe(bruteForceOptimum(l));
    }), { numRuns: 3000 });
  });

  it('is optimal: matches a prefix DP on larger layouts without overlap', () => {
    fc.assert(fc.property(layout({ maxTags: 60, space: 11, overlap: false }), (l) => {
      const plan = planRequests(l.tags, limits(l.max, l.gap, l.forbidden));
      checkValid(plan, l);
      expect(plan.length).toBe(dpOptimum(l));
    }), { numRuns: 1500 });
  });

  it('plans 10,000 tags quickly', () => {
    const tags = Array.from({ length: 10_000 }, (_, i) => mtag({ area: 'holding', address: i * 3, type: 'float32' }));
    const t0 = performance.now();
    const plan = planRequests(tags, limits(125, 16));
    const ms = performance.now() - t0;
    // A float32 every 3 registers: 42 tags fill 125 registers exactly (41 × 3 + 2).
    expect(plan).toHaveLength(Math.ceil(10_000 / 42));
    expect(Math.max(...plan.map((r) => r.count))).toBe(125);
    expect(ms).toBeLessThan(2000);
  });
});
