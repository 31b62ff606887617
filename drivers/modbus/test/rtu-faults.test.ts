/**
 * A line that misbehaves: CRC errors, cut-short replies, replies from the wrong unit, exception
 * responses, noise, late replies and a relay that flips bits at random. Each becomes a bad
 * reading with the reason, counted and logged (rate-limited); the line resynchronises, the other
 * units are untouched, nothing crashes, and no corrupted value is ever reported good.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModbusTag } from '../schema.js';
import type { Reading } from '../../../src/driver/contract.js';
import { startModbusRtuSim } from '../rtu-sim.js';
import { requestLength, withCrc } from '../rtu-frame.js';
import { openSerialPort, type OpenSerial } from '../../../src/serial/open-port.js';
import { group, mtag, never, sleep } from './helpers.js';
import { PtyLab, RtuLab, rtuDevice, until, warnings } from './rtu-helpers.js';

let lab: RtuLab;
beforeEach(() => { lab = new RtuLab(); });
afterEach(async () => { await lab.cleanup(); });

const MAP = { tags: [{ area: 'holding' as const, address: 0, value: 4660 }, { area: 'holding' as const, address: 1, value: 22136 }] };
const TAGS: ModbusTag[] = [mtag({ name: 'a', area: 'holding', address: 0 }), mtag({ name: 'b', area: 'holding', address: 1 })];
const GOOD = { a: 4660, b: 22136 };
const values = (readings: Reading[]) => Object.fromEntries(readings.map((r) => [r.tag, r.value]));

describe('bad replies from the simulator', () => {
  it('CRC errors: bad readings, counted, one warning per interval; the other unit reads fine meanwhile', async () => {
    const { sim } = await lab.plugIn({ units: [1, 2], map: MAP });
    sim.setFault({ mode: 'bad_crc' }, 2);
    const one = await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 1 }));
    const two = await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 2 }), { errorLogIntervalMs: 1000 });
    for (let i = 0; i < 5; i++) {
      expect(values(await one.driver.read(group(TAGS), never))).toEqual(GOOD);
      const bad = await two.driver.read(group(TAGS), never);
      expect(bad.map((r) => r.quality)).toEqual(['bad', 'bad']);
      expect(bad[0].error).toMatch(/^CRC error in a 9-byte reply: 02 03 04 12 34 56 78 [0-9a-f]{2} [0-9a-f]{2}$/);
    }
    expect(two.unit.failures()).toEqual({ crc: 5 });
    const logged = warnings(two.ctx).filter((w) => w.msg.startsWith(`unit 2 on ${lab.dev}:`));
    expect(logged).toHaveLength(1);
    expect(logged[0].msg).toMatch(/^unit 2 on .*: 1 problem \(crc 1\); last: CRC error in a 9-byte reply/);
    // The rest of the burst is summed up once the interval has passed.
    await until(() => warnings(two.ctx).length === 2, 3000, 'the summary');
    expect(warnings(two.ctx)[1].msg).toMatch(/: 4 problems \(crc 4\); last: CRC error/);
    // A CRC error proves nothing about the unit being alive or dead: no pause.
    expect(two.unit.paused()).toBeUndefined();

    sim.setFault({}, 2);
    expect(values(await two.driver.read(group(TAGS), never))).toEqual(GOOD);
  });

  it('a cut-short reply, a reply from another unit and an exception: each its own error, the next request clean', async () => {
    const { sim } = await lab.plugIn({ units: [2], map: MAP });
    const { driver, unit } = await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 2, timeout: 200 }));
    sim.setFault({ mode: 'short' });
    expect((await driver.read(group(TAGS), never))[0].error).toBe('incomplete reply: 6 of 9 bytes within 200 ms: 02 03 04 12 34 56');
    sim.setFault({ mode: 'wrong_unit' });
    expect((await driver.read(group(TAGS), never))[0].error).toBe('reply from unit 3, expected unit 2');
    sim.setFault({ illegal: { holding: [0, 1] } });
    expect((await driver.read(group([TAGS[0]]), never))[0].error).toBe('exception 2 (illegal data address)');
    sim.setFault({});
    expect(values(await driver.read(group([TAGS[1]]), never))).toEqual({ b: GOOD.b });
    expect(unit.failures()).toEqual({ short: 1, wrong_unit: 1, exception: 1 });
  });

  it('a silent unit: one timeout, then left alone for its pause (no request on the wire, none counted), then asked again', async () => {
    const { sim } = await lab.plugIn({ units: [4], map: MAP });
    sim.setFault({ mode: 'silent' });
    const tag = { ...TAGS[0], writable: true };
    const { driver, ctx } = await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 4, timeout: 100 }), { deadUnitMinMs: 400 });
    const first = await driver.read(group(TAGS), never);
    expect(first.map((r) => r.error)).toEqual(['timeout after 100 ms', 'timeout after 100 ms']);
    const paused = `unit 4 on ${lab.dev} is not answering (timeout after 100 ms); left alone for 400 ms between attempts`;
    expect((await driver.read(group(TAGS), never)).map((r) => r.error)).toEqual([paused, paused]);
    expect([sim.requests(4), ctx.requests]).toEqual([1, 1]);
    await expect(driver.write(tag, 5, never)).rejects.toThrow(`write to a failed: ${paused}`);
    expect(sim.requests(4)).toBe(1);
    expect(warnings(ctx).map((w) => w.msg)).toContain(
      `unit 4 on ${lab.dev} does not answer; asked again in 400 ms, then less often (up to every 30 s) so the other units on the line keep their poll rate`,
    );

    sim.setFault({});
    await sleep(450);
    expect(values(await driver.read(group(TAGS), never))).toEqual(GOOD);
    expect(sim.requests(4)).toBe(2);
  });
});

/** The peer end driven by hand: every request frame is handed to `answer` with its arrival time. */
async function scriptedSlave(path: string, answer: (request: Buffer, n: number, port: OpenSerial) => void) {
  const requests: { frame: Buffer; at: number }[] = [];
  let rx = Buffer.alloc(0);
  const port: OpenSerial = await openSerialPort(rtuDevice(path, TAGS), never, {
    onData: (chunk) => {
      const at = performance.now();
      rx = Buffer.concat([rx, chunk]);
      const length = requestLength(rx);
      if (typeof length !== 'number' || rx.length < length) return;
      const frame = rx.subarray(0, length);
      rx = rx.subarray(length);
      requests.push({ frame, at });
      answer(frame, requests.length - 1, port);
    },
    onLost: () => {},
  });
  lab.defer(() => port.close());
  return requests;
}

/** The correct reply to a read of `count` registers: each register holds 0x1234. */
const replyTo = (request: Buffer) => {
  const count = request.readUInt16BE(4);
  const body = Buffer.alloc(3 + count * 2, 0x12);
  body.set([request[0], request[1], count * 2]);
  for (let i = 0; i < count; i++) body.writeUInt16BE(0x1234, 3 + i * 2);
  return withCrc(body);
};

describe('noise and late replies on the line', () => {
  it('after noise, waits until the line has been quiet before the next request, which then succeeds', async () => {
    await lab.pair();
    let lastNoiseAt = 0;
    let noise: Promise<void> = Promise.resolve();
    const requests = await scriptedSlave(lab.peer, (frame, n, port) => {
      if (n > 0) {
        // Answered once the noise is out: on a loaded machine a late burst must not land on the reply.
        // The port may be closed by then (the test is over): nothing to answer.
        void noise.then(() => port.write(replyTo(frame))).catch(() => {});
        return;
      }
      // Six bursts of noise 8 ms apart, as a motor drive starting next to the cable would make.
      noise = (async () => {
        for (let i = 0; i < 6; i++) {
          await port.write(Buffer.alloc(4, i === 0 ? 0x00 : 0xff));
          lastNoiseAt = performance.now();
          await sleep(8);
        }
      })().catch(() => {});
    });
    const { driver, unit, ctx } = await lab.driver(rtuDevice(lab.dev, TAGS, { timeout: 500 }));
    const first = await driver.read(group(TAGS), never);
    expect(first[0]).toMatchObject({ quality: 'bad', error: 'garbled reply: 00 00 00 00' });
    // socat relays the pty pair: on a loaded machine it can hold a burst back past the driver's
    // 20 ms of silence, so one more request may meet late noise (a CRC error, resynchronised the
    // same way). Once the noise is over, the next request succeeds.
    let reads = 1;
    let later = await driver.read(group(TAGS), never);
    while (later[0].quality !== 'good' && reads < 3) {
      expect(later[0].error).toMatch(/^CRC error|^garbled reply/);
      later = await driver.read(group(TAGS), never);
      reads++;
    }
    expect(values(later)).toEqual({ a: 0x1234, b: 0x1234 });
    // The request that succeeded went out after the line had been quiet for 20 ms.
    expect(requests[reads].at - lastNoiseAt).toBeGreaterThanOrEqual(20);
    expect(unit.failures().noise).toBe(1);
    expect(warnings(ctx).some((w) => /outside any exchange/.test(w.msg))).toBe(true);
  });

  it('a reply that comes after the timeout is discarded, not taken for the next request', async () => {
    await lab.pair();
    await scriptedSlave(lab.peer, (frame, n, port) => {
      // The first reply comes 150 ms late, and says 0x0bad; the rest are on time.
      if (n === 0) {
        const late = replyTo(frame);
        late.writeUInt16BE(0x0bad, 3);
        setTimeout(() => void port.write(withCrc(late.subarray(0, -2))), 150);
      } else {
        void port.write(replyTo(frame));
      }
    });
    const { driver, unit, ctx } = await lab.driver(rtuDevice(lab.dev, TAGS, { timeout: 100 }), { deadUnitMinMs: 1 });
    expect((await driver.read(group(TAGS), never))[0].error).toBe('timeout after 100 ms');
    await sleep(100);
    expect(values(await driver.read(group(TAGS), never))).toEqual({ a: 0x1234, b: 0x1234 });
    expect(unit.failures()).toEqual({ timeout: 1 });
    expect(warnings(ctx).find((w) => /outside any exchange/.test(w.msg))?.msg).toMatch(/9 bytes outside any exchange .*: 01 03 04 0b ad 12 34/);
  });
});

describe('a relay that flips bits', () => {
  it('never reports a corrupted value as good, keeps going, and reads cleanly once the line is clean', async () => {
    // driver <-> lab pair <-> relay <-> far pair <-> simulator (units 1 and 2)
    const farLab = new PtyLab();
    lab.defer(() => farLab.cleanup());
    await lab.pair();
    await farLab.pair();
    const sim = await startModbusRtuSim({ path: farLab.peer, units: [1, 2], map: MAP });
    lab.defer(() => sim.close());
    let mangle = true;
    let flipped = 0;
    const spoil = (chunk: Buffer): Buffer => {
      if (!mangle || Math.random() > 0.3) return chunk;
      const copy = Buffer.from(chunk);
      copy[Math.floor(Math.random() * copy.length)] ^= 1 << Math.floor(Math.random() * 8);
      flipped++;
      return copy;
    };
    const near = await openSerialPort(rtuDevice(lab.peer, TAGS), never, { onData: (c) => void far.write(spoil(c)), onLost: () => {} });
    const far = await openSerialPort(rtuDevice(farLab.dev, TAGS), never, { onData: (c) => void near.write(spoil(c)), onLost: () => {} });
    lab.defer(async () => { await far.close(); await near.close(); });

    const options = { deadUnitMinMs: 20, deadUnitMaxMs: 100 };
    const drivers = [
      await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 1, timeout: 120 }), options),
      await lab.driver(rtuDevice(lab.dev, TAGS, { unit_id: 2, timeout: 120 }), options),
    ];
    const readings: Reading[] = [];
    for (let round = 0; round < 40; round++) {
      const got = await Promise.all(drivers.map(({ driver }) => driver.read(group(TAGS), never)));
      readings.push(...got.flat());
    }
    const good = readings.filter((r) => r.quality === 'good');
    const bad = readings.filter((r) => r.quality === 'bad');
    expect(flipped).toBeGreaterThan(5);
    expect(bad.length).toBeGreaterThan(0);
    expect(good.length).toBeGreaterThan(0);
    for (const r of good) expect(r.value).toBe(GOOD[r.tag as 'a' | 'b']);
    for (const r of bad) {
      expect(r.error).toMatch(/^(CRC error|garbled reply|incomplete reply|timeout after 120 ms|reply from unit|reply for function|unit \d on .* is not answering|exception)/);
    }

    mangle = false;
    await sleep(150);
    for (const { driver } of drivers) expect(values(await driver.read(group(TAGS), never))).toEqual(GOOD);
  });
});
