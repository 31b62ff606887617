import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { Registry } from '../../src/metrics/registry.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Family {
  readonly help: string;
  readonly type: string;
  readonly samples: Sample[];
}

const HELP = /^# HELP ([a-zA-Z_:][\w:]*) (.*)$/;
const TYPE = /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram)$/;
const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;
const UNESCAPE: Record<string, string> = { '\\\\': '\\', '\\"': '"', '\\n': '\n' };

/**
 * A strict reader of the text format 0.0.4 as we emit it: HELP then TYPE for each family, samples
 * of that family only, a blank line between families, a final newline. Throws on anything else.
 */
function parse(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, Family>();
  for (const block of text.slice(0, -1).split('\n\n')) {
    const [help, type, ...samples] = block.split('\n');
    const h = HELP.exec(help);
    const t = TYPE.exec(type);
    if (!h || !t || h[1] !== t[1]) throw new Error(`bad family header:\n${block}`);
    const name = h[1];
    const family: Family = { help: h[2], type: t[2], samples: [] };
    const allowed = t[2] === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    for (const line of samples) {
      const m = SAMPLE.exec(line);
      if (!m || !allowed.includes(m[1])) throw new Error(`bad sample line in ${name}: ${JSON.stringify(line)}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(LABEL)].map(([, k, v]) => [k, v.replace(/\\[\\"n]/g, (e) => UNESCAPE[e])]));
      const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
      if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in ${JSON.stringify(line)}`);
      family.samples.push({ name: m[1], labels, value });
    }
    if (families.has(name)) throw new Error(`family ${name} twice`);
    families.set(name, family);
  }
  return families;
}

function valueOf(families: Map<string, Family>, name: string): number {
  const samples = families.get(name)?.samples ?? [];
  expect(samples, name).toHaveLength(1);
  return samples[0].value;
}

describe('exposition format', () => {
  it('renders counters, gauges and histograms exactly', () => {
    const r = new Registry();
    const requests = r.counter({ name: 'x_requests_total', help: 'Requests sent', labelNames: ['device', 'kind'] });
    const depth = r.gauge({ name: 'x_depth', help: 'Queue depth' });
    r.gauge({ name: 'x_untouched', help: 'Not set yet' });
    const seconds = r.histogram({ name: 'x_seconds', help: 'Durations', labelNames: ['device'], buckets: [0.1, 1] });
    r.counter({ name: 'x_idle_total', help: 'Never used', labelNames: ['device'] });
    const total = r.histogram({ name: 'x_all_seconds', help: 'Unlabelled', buckets: [1] });
    requests.inc({ device: 'a', kind: 'read' });
    // Label keys come out in labelNames order, whatever the caller's object order.
    requests.inc({ kind: 'write', device: 'a' }, 2);
    requests.inc({ device: 'a', kind: 'read' }, 3);
    depth.set(7.5);
    // A bound is inclusive: 1 counts in le="1".
    for (const v of [0.0625, 1, 3]) seconds.observe({ device: 'a' }, v);
    total.observe({}, 0.5);
    expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.render()).toBe(`# HELP x_requests_total Requests sent
# TYPE x_requests_total counter
x_requests_total{device="a",kind="read"} 4
x_requests_total{device="a",kind="write"} 2

# HELP x_depth Queue depth
# TYPE x_depth gauge
x_depth 7.5

# HELP x_untouched Not set yet
# TYPE x_untouched gauge
x_untouched 0

# HELP x_seconds Durations
# TYPE x_seconds histogram
x_seconds_bucket{le="0.1",device="a"} 1
x_seconds_bucket{le="1",device="a"} 2
x_seconds_bucket{le="+Inf",device="a"} 3
x_seconds_sum{device="a"} 4.0625
x_seconds_count{device="a"} 3

# HELP x_idle_total Never used
# TYPE x_idle_total counter

# HELP x_all_seconds Unlabelled
# TYPE x_all_seconds histogram
x_all_seconds_bucket{le="1"} 1
x_all_seconds_bucket{le="+Inf"} 1
x_all_seconds_sum 0.5
x_all_seconds_count 1
`);
  });

  it('escapes backslash, double quote and newline in label values, backslash and newline in help', () => {
    const r = new Registry();
    const g = r.gauge({ name: 'x_escaped', help: 'Back\\slash "quoted"\nnext line', labelNames: ['path'] });
    const tricky = 'C:\\dir "x"\nnext} 5';
    g.set({ path: tricky }, -2);
    g.set({ path: 'plain' }, NaN);
    const text = r.render();
    expect(text).toBe(`# HELP x_escaped Back\\\\slash "quoted"\\nnext line
# TYPE x_escaped gauge
x_escaped{path="C:\\\\dir \\"x\\"\\nnext} 5"} -2
x_escaped{path="plain"} NaN
`);
    const samples = parse(text).get('x_escaped')!.samples;
    expect(samples[0]).toEqual({ name: 'x_escaped', labels: { path: tricky }, value: -2 });
    expect(g.get({ path: tricky })).toBe(-2);
  });

  it('remove() forgets one series; a labelled metric without series keeps its HELP and TYPE', () => {
    const r = new Registry();
    const up = r.gauge({ name: 'x_up', help: 'Up', labelNames: ['device'] });
    up.set({ device: 'a' }, 1);
    up.set({ device: 'b' }, 0);
    up.remove({ device: 'a' });
    expect(up.get({ device: 'a' })).toBeUndefined();
    expect(r.render()).toBe('# HELP x_up Up\n# TYPE x_up gauge\nx_up{device="b"} 0\n');
    up.remove({ device: 'b' });
    expect(r.render()).toBe('# HELP x_up Up\n# TYPE x_up gauge\n');
    // Removing what is not there is harmless; setting again brings the series back.
    up.remove({ device: 'b' });
    up.set({ device: 'a' }, 1);
    expect(r.render()).toContain('x_up{device="a"} 1\n');
  });


  it('labels() binds one series: its updates land where the labelled calls put theirs', () => {
    const r = new Registry();
    const reads = r.counter({ name: 'x_reads_total', help: 'Reads', labelNames: ['device'] });
    const up = r.gauge({ name: 'x_up', help: 'Up', labelNames: ['device'] });
    const took = r.histogram({ name: 'x_seconds', help: 'Took', labelNames: ['device'], buckets: [0.1, 1] });
    const a = { reads: reads.labels({ device: 'a' }), up: up.labels({ device: 'a' }), took: took.labels({ device: 'a' }) };
    a.reads.inc();
    a.reads.inc(4);
    reads.inc({ device: 'a' }, 2);
    reads.inc({ device: 'b' });
    a.up.set(1);
    a.took.observe(0.5);
    took.observe({ device: 'a' }, 2);
    expect(reads.get({ device: 'a' })).toBe(7);
    expect(reads.get({ device: 'b' })).toBe(1);
    expect(up.get({ device: 'a' })).toBe(1);
    expect(r.render()).toContain('x_seconds_bucket{le="0.1",device="a"} 0\nx_seconds_bucket{le="1",device="a"} 1\nx_seconds_bucket{le="+Inf",device="a"} 2\nx_seconds_sum{device="a"} 2.5\nx_seconds_count{device="a"} 2\n');
    expect(() => a.reads.inc(-1)).toThrow(/only goes up/);
    expect(() => reads.labels({ device: 'a', extra: 'x' } as never)).toThrow(/labels must be exactly/);
  });
  it('refuses misuse instead of exporting something wrong', () => {
    const r = new Registry();
    const c = r.counter({ name: 'x_total', help: 'x', labelNames: ['device'] });
    expect(() => c.inc({ device: 'a' }, -1)).toThrow(/only goes up/);
    expect(() => c.inc({ device: 'a' }, NaN)).toThrow(/only goes up/);
    expect(() => c.inc({ devise: 'a' } as never)).toThrow(/labels must be exactly \{device\}/);
    expect(() => c.inc({ device: 'a', extra: 'b' } as never)).toThrow(/labels must be exactly/);
    expect(() => c.inc()).toThrow(/labels must be exactly/);
    expect(() => r.gauge({ name: 'x_total', help: 'again' })).toThrow(/already registered/);
    expect(() => r.gauge({ name: 'x-dash', help: 'x' })).toThrow(/invalid metric name/);
    expect(() => r.gauge({ name: 'x_g', help: 'x', labelNames: ['__reserved'] })).toThrow(/invalid label name/);
    expect(() => r.histogram({ name: 'x_h', help: 'x', labelNames: ['le'], buckets: [1] })).toThrow(/bucket label/);
    expect(() => r.histogram({ name: 'x_h', help: 'x', buckets: [1, 1] })).toThrow(/ascending/);
    expect(() => r.gauge({ name: 'x_c', help: 'x', labelNames: ['a'], collect: () => 1 })).toThrow(/unlabelled/);
    // Nothing half-registered: the refused metrics are absent.
    expect(r.render()).toBe('# HELP x_total x\n# TYPE x_total counter\n');
  });

  it('reads a collected value at each scrape, not before', () => {
    const r = new Registry();
    let reads = 0;
    r.gauge({ name: 'x_collected', help: 'x', collect: () => ++reads });
    expect(reads).toBe(0);
    expect(r.render()).toContain('x_collected 1\n');
    expect(r.render()).toContain('x_collected 2\n');
  });

  it('runs collect hooks at each scrape, before rendering, until they are removed', () => {
    const r = new Registry();
    const g = r.gauge({ name: 'x_hooked', help: 'x' });
    let reads = 0;
    const remove = r.onCollect(() => g.set(++reads));
    expect(reads).toBe(0);
    expect(r.render()).toContain('x_hooked 1\n');
    expect(r.render()).toContain('x_hooked 2\n');
    remove();
    expect(r.render()).toContain('x_hooked 2\n');
  });
});

describe('Metrics', () => {
  it('renders parseable text with floorgate metrics, labels and histograms in use', () => {
    const m = new Metrics();
    m.readings.inc({ device: 'press-1' }, 42);
    m.deviceUp.set({ device: 'press "2"' }, 1);
    m.pollDuration.observe({ device: 'press-1' }, 0.004);
    m.pollDuration.observe({ device: 'press-1' }, 7);
    const families = parse(m.registry.render());
    expect(families.get('floorgate_readings_total')?.samples).toEqual([{ name: 'floorgate_readings_total', labels: { device: 'press-1' }, value: 42 }]);
    expect(families.get('floorgate_device_up')?.samples[0].labels).toEqual({ device: 'press "2"' });
    const buckets = families.get('floorgate_poll_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    expect(buckets.map((s) => s.labels.le)).toEqual(['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf']);
    expect(buckets.map((s) => s.value)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    expect(families.get('floorgate_buffer_messages')?.samples[0].value).toBe(0);
    expect(families.get('floorgate_buffer_oldest_age_seconds')).toMatchObject({ type: 'gauge', samples: [{ value: 0 }] });
    expect(families.get('floorgate_build_info')).toMatchObject({
      type: 'gauge', samples: [{ labels: { version: JSON.parse(fs.readFileSync('package.json', 'utf8')).version, node: process.version }, value: 1 }],
    });
  });

  it('exports the process metrics under prom-client default names and types (a gauge not named like a counter), with plausible values', () => {
    const families = parse(new Metrics().registry.render());
    const types = Object.fromEntries([...families].filter(([name]) => /^(process|nodejs)_/.test(name)).map(([name, f]) => [name, f.type]));
    expect(types).toEqual({
      process_cpu_user_seconds_total: 'counter',
      process_cpu_system_seconds_total: 'counter',
      process_cpu_seconds_total: 'counter',
      process_start_time_seconds: 'gauge',
      process_resident_memory_bytes: 'gauge',
      process_open_fds: 'gauge',
      nodejs_heap_size_total_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_external_memory_bytes: 'gauge',
      nodejs_active_handles: 'gauge',
      nodejs_version_info: 'gauge',
    });
    const rss = valueOf(families, 'process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(rss).toBeLessThan(4 * 2 ** 30);
    // The count excludes the descriptor used to list them; this very process holds stdio at least.
    expect(valueOf(families, 'process_open_fds')).toBeGreaterThanOrEqual(3);
    expect(valueOf(families, 'process_open_fds')).toBeLessThanOrEqual(fs.readdirSync('/proc/self/fd').length);
    const user = valueOf(families, 'process_cpu_user_seconds_total');
    const system = valueOf(families, 'process_cpu_system_seconds_total');
    const cpu = valueOf(families, 'process_cpu_seconds_total');
    // CPU time of the whole process, not since the registry was made: this test run has used some.
    expect(user).toBeGreaterThan(0.05);
    expect(cpu).toBeGreaterThanOrEqual(user + system);
    expect(cpu - (user + system)).toBeLessThan(0.1);
    const start = valueOf(families, 'process_start_time_seconds');
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    const heapUsed = valueOf(families, 'nodejs_heap_size_used_bytes');
    expect(heapUsed).toBeGreaterThan(0);
    expect(heapUsed).toBeLessThanOrEqual(valueOf(families, 'nodejs_heap_size_total_bytes'));
    expect(valueOf(families, 'nodejs_external_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(families, 'nodejs_active_handles')).toBeGreaterThanOrEqual(0);
    const [major, minor, patch] = process.versions.node.split('.');
    expect(families.get('nodejs_version_info')?.samples).toEqual([
      { name: 'nodejs_version_info', labels: { version: process.version, major, minor, patch }, value: 1 },
    ]);
  });

  it('process metrics follow the process between scrapes and start no timers', () => {
    const handles = () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
    const before = handles();
    const m = new Metrics();
    const first = parse(m.registry.render());
    expect(handles()).toBe(before);
    const files = Array.from({ length: 5 }, () => fs.openSync('/proc/self/stat', 'r'));
    try {
      const second = parse(m.registry.render());
      expect(valueOf(second, 'process_open_fds')).toBe(valueOf(first, 'process_open_fds') + 5);
    } finally {
      for (const fd of files) fs.closeSync(fd);
    }
  });

  it('without process metrics, only floorgate_* families', () => {
    expect([...parse(new Metrics(false).registry.render()).keys()].every((n) => n.startsWith('floorgate_'))).toBe(true);
  });
});
