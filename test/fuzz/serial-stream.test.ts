/**
 * The raw serial driver end to end on a real pseudo-terminal, fed a random mix of valid
 * records and line noise (random bytes, over-long runs without a delimiter, stray CRs, NULs,
 * delimiters torn across writes). drivers/serial/test fuzzes the line splitter and the value
 * conversion on their own; this checks them together behind the driver and the port:
 *
 * - nothing throws or escapes, and the driver stays subscribed;
 * - every valid record that the noise did not touch (it starts right after a delimiter) is
 *   emitted, once, in order, with its value; nothing else is emitted as good — not a record
 *   that noise ran into, nor one swallowed by an over-long line;
 * - the noise is counted as bad lines.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialDriver } from '../../drivers/serial/driver.js';
import type { Reading } from '../../src/driver/contract.js';
import { openSerialPort, type OpenSerial } from '../../src/serial/open-port.js';
import { never, serialDevice, sleep, testContext, until, PtyLab } from '../../drivers/serial/test/helpers.js';

const MAX_LINE = 256;

type Segment = { kind: 'record'; weight: number } | { kind: 'noise'; bytes: Uint8Array };

const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('record' as const), weight: fc.integer({ min: -99_999, max: 99_999 }).map((n) => n / 10) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('noise' as const),
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        // Longer than the line cap, no delimiter in it (a wrong baud rate).
        fc.uint8Array({ minLength: MAX_LINE + 1, maxLength: 3 * MAX_LINE }).map((b) => b.map((x) => (x === 0x0a ? 0x0b : x))),
        fc.constantFrom(new Uint8Array([0x0d]), new Uint8Array([0x0a]), new Uint8Array([0]), Buffer.from('ST,GS,')),
      ),
    }),
  },
);

const line = (weight: number) => Buffer.from(`ST,GS, ${weight.toFixed(1)} kg\r\n`, 'latin1');

/**
 * The weights the driver must report: records that start the stream or follow a CR LF — which
 * may itself be split across two noise segments (a CR, then an LF).
 */
function expected(segments: readonly Segment[]): number[] {
  const out: number[] = [];
  // The last two bytes written so far; a record ends in CR LF itself.
  let tail = [0x0d, 0x0a];
  for (const s of segments) {
    if (s.kind === 'record') {
      if (tail[0] === 0x0d && tail[1] === 0x0a) out.push(s.weight);
      tail = [0x0d, 0x0a];
    } else if (s.bytes.length > 0) {
      tail = s.bytes.length >= 2 ? [s.bytes[s.bytes.length - 2], s.bytes[s.bytes.length - 1]] : [tail[1], s.bytes[0]];
    }
  }
  return out;
}

const lab = new PtyLab();
let peer: OpenSerial;
let driver: SerialDriver;
const got: Reading[] = [];

beforeAll(async () => {
  await lab.pair();
  driver = new SerialDriver(serialDevice(lab.dev), testContext(), { maxLineBytes: MAX_LINE, badLineLogIntervalMs: 60_000 });
  await driver.connect(never);
  await driver.subscribe(serialDevice(lab.dev).tags, (rs) => { got.push(...rs); });
  peer = await openSerialPort({ port: lab.peer, baud_rate: 9600, parity: 'none', data_bits: 8, stop_bits: 1 }, never, {
    onData: () => undefined,
    onLost: () => undefined,
  });
});

afterAll(async () => {
  await driver?.close();
  await peer?.close();
  await lab.cleanup();
});

describe('fuzz: serial records and line noise through the driver', () => {
  it('every untouched record comes out once, in order; nothing else is good', async () => {
    let sentinel = 1_000_000;
    let records = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(segmentArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
      async (segments, cuts) => {
        got.length = 0;
        const mark = ++sentinel;
        // A CR LF first ends whatever the previous case left unfinished; the sentinel record last
        // says everything before it has been through.
        const stream = Buffer.concat([Buffer.from('\r\n'), ...segments.map((s) => (s.kind === 'record' ? line(s.weight) : Buffer.from(s.bytes))), Buffer.from('\r\n'), line(mark)]);
        for (let at = 0, i = 0; at < stream.length; i++) {
          const size = cuts[i % cuts.length];
          await peer.write(stream.subarray(at, at + size));
          at += size;
          if (i % 3 === 0) await sleep(1);
        }
        await until(() => got.some((r) => r.value === mark), 3_000, `the sentinel record ${mark}`);
        const good = got.filter((r) => r.quality === 'good').map((r) => r.value);
        const want = expected(segments);
        records += want.length;
        expect(good).toEqual([...want, mark]);
        expect(got.every((r) => r.tag === 'weight')).toBe(true);
      },
    ), { numRuns: 40 });
    console.log(`[fuzz] serial: 40 streams, ${records} records checked, ${driver.badLineCount} bad lines counted`);
    expect(driver.badLineCount).toBeGreaterThan(0);
  }, 60_000);
});
