import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SerialDriver } from '../driver.js';
import { scaleLine, startSerialSim, type SerialSim } from '../sim.js';
import { collector, group, never, PtyLab, serialDevice, sleep, stag, testContext, until, warnings } from './helpers.js';

let lab: PtyLab;
beforeEach(() => { lab = new PtyLab(); });
afterEach(async () => { await lab.cleanup(); });

async function sim(opts: Partial<Parameters<typeof startSerialSim>[0]> = {}): Promise<SerialSim> {
  const s = await startSerialSim({ path: lab.peer, ...opts });
  lab.defer(() => s.close());
  return s;
}

function driver(...args: ConstructorParameters<typeof SerialDriver>): SerialDriver {
  const d = new SerialDriver(...args);
  lab.defer(() => d.close());
  return d;
}

describe('listen-only', () => {
  it('pushes one typed reading per matching line, stamped on arrival', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 50, weight: 12.345 });
    const ctx = testContext();
    const d = driver(serialDevice(lab.dev), ctx);
    await d.connect(never);
    const got = collector();
    const before = Date.now();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    await until(() => got.readings.length >= 3, 5000, 'three readings');
    for (const r of got.readings.slice(0, 3)) {
      expect(r).toMatchObject({ tag: 'weight', value: 12.345, quality: 'good' });
      expect(r.ts).toBeGreaterThanOrEqual(before);
      expect(r.ts).toBeLessThanOrEqual(Date.now());
    }
    expect(d.badLineCount).toBe(0);
    expect(s.linesSent()).toBeGreaterThanOrEqual(3);
    // Listening writes nothing.
    expect(ctx.requests).toBe(0);
  });

  it('counts garbled lines, warns at most once per interval with an escaped sample, and keeps going', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 40, weight: 1 });
    const ctx = testContext();
    const d = driver(serialDevice(lab.dev), ctx, { badLineLogIntervalMs: 1500 });
    await d.connect(never);
    const got = collector();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    await until(() => got.readings.length >= 1, 5000, 'a first reading');
    s.garble(5);
    await until(() => d.badLineCount === 5, 5000, 'five bad lines');
    s.setWeight(2);
    await until(() => got.readings.some((r) => r.value === 2), 5000, 'a good line after the garbage');
    expect(got.readings.every((r) => r.quality === 'good')).toBe(true);

    // The first bad line is reported at once; the other four within the same interval are summed up once it ends.
    let warns = warnings(ctx);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ bad_lines: 1, bad_lines_total: 1, reason: 'no match for the pattern' });
    expect(warns[0].last_line).toMatch(/^"\\x[89a-f][0-9a-f]/);
    await until(() => warnings(ctx).length === 2, 5000, 'the summary warning');
    warns = warnings(ctx);
    expect(warns[1]).toMatchObject({ bad_lines: 4, bad_lines_total: 5 });
  });

  it('caps the line buffer: 100 KiB without a delimiter is one bad line, and the next line still parses', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 3_600_000 });
    const ctx = testContext();
    const d = driver(serialDevice(lab.dev), ctx);
    await d.connect(never);
    const got = collector();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 25; i++) await s.send(Buffer.alloc(4096, 0x55));
    await s.send(`tail\r\n${scaleLine(3.5)}\r\n`);
    await until(() => got.readings.length === 1, 5000, 'the line after the garbage');
    expect(got.readings[0]).toMatchObject({ value: 3.5, quality: 'good' });
    expect(d.badLineCount).toBe(1);
    expect(warnings(ctx)[0]).toMatchObject({ reason: 'no "\\r\\n" in 4096 bytes', last_line: `"${'U'.repeat(64)}"` });
    // Loose: the point is "not 100 KiB kept per line", not a GC measurement.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(20 * 1024 * 1024);
  });

  it('a scale ending its lines with CR alone: the one warning names the delimiter it seems to use', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 2, delimiter: '\r' });
    const ctx = testContext();
    const d = driver(serialDevice(lab.dev, { delimiter: '\n' }), ctx);
    await d.connect(never);
    const got = collector();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    await until(() => warnings(ctx).length > 0, 10_000, 'the warning');
    expect(s.linesSent() * `${scaleLine(1)}\r`.length).toBeGreaterThan(4096);
    expect(warnings(ctx)[0]).toMatchObject({
      reason: 'no "\\n" in 4096 bytes; the device seems to end lines with "\\r": set delimiter: "\\r"',
    });
    expect(warnings(ctx)[0].msg).toContain('set delimiter: "\\r"');
    expect(got.readings).toEqual([]);
  });

  it('stale_after: a scale that falls silent goes bad once within the timeout, and good with its next line', async () => {
    await lab.pair();
    // The test is the scale: it prints lines itself, so it knows when the last one left.
    const s = await sim({ intervalMs: 3_600_000 });
    const d = driver(serialDevice(lab.dev, { stale_after: 400 }), testContext());
    await d.connect(never);
    const got = collector();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    for (let i = 0; i < 6; i++) {
      await s.send(`${scaleLine(1)}\r\n`);
      await sleep(100);
    }
    await until(() => got.readings.filter((r) => r.quality === 'good').length === 6, 5000, 'six good readings');
    expect(got.readings.every((r) => r.quality === 'good')).toBe(true);
    const lastLine = got.readings.at(-1)!.ts;

    // Silent: one line that does not match (a scale's error reply) is not a sign of life.
    await s.send('ES\r\n');
    await until(() => got.readings.some((r) => r.quality === 'bad'), 3000, 'the stale reading');
    const stale = got.readings.find((r) => r.quality === 'bad')!;
    expect(stale).toEqual({
      tag: 'weight', value: null, quality: 'bad', ts: expect.any(Number),
      error: 'no matching line for 400 ms (stale_after); 1 line did not match the pattern',
    });
    expect(stale.ts - lastLine).toBeGreaterThanOrEqual(400);
    expect(stale.ts - lastLine).toBeLessThan(400 + 500);
    // Reported once, not every 400 ms.
    await sleep(1000);
    expect(got.readings.filter((r) => r.quality === 'bad')).toHaveLength(1);

    await s.send(`${scaleLine(2)}\r\n`);
    await until(() => got.readings.at(-1)!.value === 2, 3000, 'a good reading after the silence');
    expect(got.readings.at(-1)).toMatchObject({ quality: 'good' });
    // The watch goes on: silent again, bad again.
    await until(() => got.readings.at(-1)!.quality === 'bad', 3000, 'the second stale reading');
    expect(got.readings.at(-1)!.error).toBe('no matching line for 400 ms (stale_after)');
  });

  it('without stale_after a silent listen-only device keeps its last value', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 3_600_000 });
    const d = driver(serialDevice(lab.dev), testContext());
    await d.connect(never);
    const got = collector();
    await d.subscribe([stag({ name: 'weight' })], got.emit);
    await s.send(`${scaleLine(1)}\r\n`);
    await until(() => got.readings.length === 1, 3000, 'a reading');
    await sleep(1500);
    expect(got.readings).toEqual([expect.objectContaining({ quality: 'good', value: 1 })]);
  });

  it('reads typed and scaled tags from several groups of one line', async () => {
    await lab.pair();
    const s = await sim({ intervalMs: 3_600_000 });
    const pattern = String.raw`^(?<status>ST|US),(?<count>[-\d]+),\s*(?<temp>\S+)\s*C,(?<label>.*)$`;
    const tags = [
      stag({ name: 'stable', group: 'status', type: 'bool' }),
      stag({ name: 'count', type: 'int64' }),
      stag({ name: 'temp_f', group: 'temp', type: 'float64', scale: 1.8, offset: 32 }),
      stag({ name: 'label', type: 'string' }),
    ];
    const d = driver(serialDevice(lab.dev, { pattern, tags, delimiter: '\n' }), testContext());
    await d.connect(never);
    const got = collector();
    await d.subscribe(tags, got.emit);
    await s.send('ST,-12, 100.0 C,batch \xb07\r\n');
    await until(() => got.readings.length === 4, 5000, 'four readings');
    expect(got.readings.map((r) => [r.tag, r.value, r.quality])).toEqual([
      ['stable', true, 'good'],
      ['count', -12, 'good'],
      ['temp_f', 212, 'good'],
      // latin1: the byte 0xB0 is "°"; the CR before the "\n" delimiter is dropped.
      ['label', 'batch \u00b07', 'good'],
    ]);
    expect(new Set(got.readings.map((r) => r.ts)).size).toBe(1);
  });

  it('read() without a request waits for the next line (for probe)', async () => {
    await lab.pair();
    await sim({ intervalMs: 50, weight: 7.25 });
    const d = driver(serialDevice(lab.dev, { timeout: 2000 }), testContext());
    await d.connect(never);
    const readings = await d.read(group([stag({ name: 'weight' })]), never);
    expect(readings).toEqual([expect.objectContaining({ tag: 'weight', value: 7.25, quality: 'good' })]);
  });

  it('read() without a request on a silent line reports "no line within"', async () => {
    await lab.pair();
    const d = driver(serialDevice(lab.dev, { timeout: 200 }), testContext());
    await d.connect(never);
    const readings = await d.read(group([stag({ name: 'weight' })]), never);
    expect(readings).toEqual([expect.objectContaining({ quality: 'bad', value: null, error: 'no line within 200 ms' })]);
  });
});

describe('request/answer', () => {
  it('writes the request and resolves with the answer', async () => {
    await lab.pair();
    const s = await sim({ request: 'SI\r\n', weight: 4.2 });
    const ctx = testContext();
    const d = driver(serialDevice(lab.dev, { request: 'SI\r\n' }), ctx);
    await d.connect(never);
    const weight = stag({ name: 'weight' });
    expect(await d.read(group([weight]), never)).toEqual([expect.objectContaining({ tag: 'weight', value: 4.2, quality: 'good' })]);
    s.setWeight(4.3);
    expect(await d.read(group([weight]), never)).toEqual([expect.objectContaining({ value: 4.3 })]);
    expect(ctx.requests).toBe(2);
    expect(s.requests()).toBe(2);
  });

  it('gives bad readings "no answer within" after the timeout, naming a line that did not match', async () => {
    await lab.pair();
    const s = await sim({ request: 'SI\r\n' });
    const weight = stag({ name: 'weight' });
    // The simulated scale answers an unknown command with "ES".
    const d = driver(serialDevice(lab.dev, { request: 'SX\r\n', timeout: 800 }), testContext());
    await d.connect(never);
    const started = Date.now();
    const readings = await d.read(group([weight]), never);
    const took = Date.now() - started;
    expect(readings).toEqual([{
      tag: 'weight', value: null, quality: 'bad', ts: expect.any(Number),
      error: 'no answer within 800 ms (last line did not match the pattern: "ES")',
    }]);
    expect(took).toBeGreaterThanOrEqual(790);
    expect(took).toBeLessThan(3000);
    expect(d.badLineCount).toBe(1);
    expect(s.requests()).toBe(0);
  });

  it('gives exactly "no answer within 1000 ms" when nothing answers', async () => {
    await lab.pair();
    const d = driver(serialDevice(lab.dev, { request: 'SI\r\n' }), testContext());
    await d.connect(never);
    const readings = await d.read(group([stag({ name: 'weight' })]), never);
    expect(readings).toEqual([expect.objectContaining({ quality: 'bad', error: 'no answer within 1000 ms' })]);
  });

  it('takes only a line that came after the request, and drops a half line left before it', async () => {
    await lab.pair();
    const s = await sim({ request: 'SI\r\n', weight: 2 });
    const d = driver(serialDevice(lab.dev, { request: 'SI\r\n' }), testContext());
    await d.connect(never);
    // One write, relayed as one chunk: once "noise" is counted, the stale line and the fragment are in too.
    await s.send(`${scaleLine(1)}\r\nnoise\r\nST,G`);
    await until(() => d.badLineCount === 1, 5000, 'the noise line');
    expect(await d.read(group([stag({ name: 'weight' })]), never)).toEqual([expect.objectContaining({ value: 2, quality: 'good' })]);
    // The stale line matched and was ignored; the fragment was dropped and counted.
    expect(d.badLineCount).toBe(2);
  });

  it('serialises reads of several groups: each gets its own answer', async () => {
    await lab.pair();
    const s = await sim({ request: 'SI\r\n', weight: 5 });
    const fast = stag({ name: 'weight', poll_interval: 500 });
    const slow = stag({ name: 'weight_kg', group: 'weight', poll_interval: 2000 });
    const d = driver(serialDevice(lab.dev, { request: 'SI\r\n', tags: [fast, slow] }), testContext());
    await d.connect(never);
    const [a, b] = await Promise.all([d.read(group([fast], '500ms'), never), d.read(group([slow], '2000ms'), never)]);
    expect(a).toEqual([expect.objectContaining({ tag: 'weight', value: 5 })]);
    expect(b).toEqual([expect.objectContaining({ tag: 'weight_kg', value: 5 })]);
    expect(s.requests()).toBe(2);
  });

  it('refuses to subscribe: a device with a request is polled', async () => {
    await lab.pair();
    const d = driver(serialDevice(lab.dev, { request: 'SI\r\n' }), testContext());
    await d.connect(never);
    await expect(d.subscribe([stag({ name: 'weight' })], () => {})).rejects.toThrow(/polled, not pushed/);
  });
});

describe('opening the port', () => {
  it('says why it cannot: missing path, not a tty, in use', async () => {
    const d = driver(serialDevice(lab.dev), testContext());
    await expect(d.connect(never)).rejects.toThrow(`cannot open serial port ${lab.dev}: not found (unplugged, or a wrong path; prefer /dev/serial/by-id/…)`);

    const file = `${lab.dir}/plain-file`;
    (await import('node:fs')).writeFileSync(file, '');
    await expect(driver(serialDevice(file), testContext()).connect(never)).rejects.toThrow(`cannot open serial port ${file}: is not a serial port`);

    await lab.pair();
    await d.connect(never);
    await expect(driver(serialDevice(lab.dev), testContext()).connect(never)).rejects.toThrow(/in use by another program/);
  });

  it('rejects a delimiter that is not bytes', () => {
    expect(() => new SerialDriver(serialDevice(lab.dev, { delimiter: '\u20ac' }), testContext()))
      .toThrow('delimiter contains U+20AC, which is not one byte');
  });
});
