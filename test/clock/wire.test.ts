/**
 * The clock flag on the wire (reference §4.12), through the real forwarder and broker, decoded by
 * the subscriber: JSON carries `"clock"` only for a flagged message, so a trusted message's bytes
 * are those of before; Sparkplug carries it as each reading metric's `clock` property (decoded
 * with Tahu's generated code, not floorgate's).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeReadings } from '../../src/message/encode.js';
import type { MessageStore } from '../../src/buffer/types.js';
import { ClockFlag } from '../../src/clock/flag.js';
import type { Reading } from '../../src/driver/contract.js';
import { subscribe } from '../helpers/subscriber.js';
import { startBroker } from '../helpers/broker.js';
import { testConfig } from '../forward/config.js';
import { captureLog, openStore, Rig } from '../forward/setup.js';
import { propertiesOf } from '../sparkplug/tahu.js';
import { device, messages, modbusTag, ofType, sparkplugRig } from '../sparkplug/rig.js';

const rig = new Rig();
afterEach(async () => { await rig.close(); });

const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const readings = (n: number): Reading[] => [{ tag: 'temp', value: n, quality: 'good', ts: T0 + n }, { tag: 'count', value: n, quality: 'good', ts: T0 + n }];

function appendFlagged(store: MessageStore, device: string, flags: readonly ClockFlag[]): void {
  flags.forEach((clock, i) => store.append({ device, tag: null, body: encodeReadings(readings(i)), readings: 2, ts: T0 + i, clock, wallOffset: 0 }));
  store.flush();
}

const FLAGS = [ClockFlag.trusted, ClockFlag.unsynced, ClockFlag.corrected, ClockFlag.stepped];

describe('the clock flag on the wire', () => {
  it('JSON: "clock" after the envelope\'s seq, epoch and historical members, absent when trusted', async () => {
    const broker = rig.add(await startBroker(), (b) => b.stop());
    const sub = rig.add(await subscribe(broker.url, { topic: 'fg/#' }), (s) => s.close());
    const { log } = captureLog();
    const config = testConfig({ url: broker.url, dataDir: rig.tempDir() });
    const store = rig.add(openStore(rig.tempDir(), config.buffer, log), (s) => s.close());
    appendFlagged(store, 'press-1', FLAGS);
    rig.forwarder(config, store, log).start();
    const got = await sub.waitFor((ms) => ms.filter((m) => m.topic === 'fg/gw-test/press-1').length === 4, 5_000);
    const data = got.filter((m) => m.topic === 'fg/gw-test/press-1').sort((a, b) => a.payload.seq - b.payload.seq);
    expect(data.map((m) => m.payload.clock)).toEqual([undefined, 'unsynced', 'corrected', 'stepped']);
    expect(data[0].raw.toString()).not.toContain('clock');
    expect(data[1].raw.toString()).toMatch(/^\{"seq":2,"epoch":"[0-9a-f]+"(,"historical":true)?,"clock":"unsynced","gateway"/);
  });

  it('Sparkplug: the String property clock on every reading metric of a flagged DDATA, none when trusted', async () => {
    const view = { config: device('press', [modbusTag('temp', 'float32'), modbusTag('count', 'uint32')]), up: true, error: null, last: [] };
    const { sub, store } = await sparkplugRig(rig, { views: [view] });
    appendFlagged(store, 'press', FLAGS);
    await sub.waitFor(() => ofType(messages(sub), 'DDATA').length === 4, 5_000);
    const ddata = ofType(messages(sub), 'DDATA');
    // The readings' metrics come first, floorgate/seq last (a message's counter, not a reading: no flag).
    const clockOf = (i: number) => ddata[i].payload.metrics.map((m) => propertiesOf(m).clock);
    expect([0, 1, 2, 3].map(clockOf)).toEqual([
      [undefined, undefined, undefined], ['unsynced', 'unsynced', undefined], ['corrected', 'corrected', undefined], ['stepped', 'stepped', undefined],
    ]);
  });
});
