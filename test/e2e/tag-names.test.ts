/**
 * Names as SCADA systems write them (`Zone1.Temp` in Kepware and Ignition) reach the broker as
 * written: a dotted device and a dotted tag, published per tag, on the topic levels they name.
 */
import { describe, expect, it } from 'vitest';
import { setup } from './setup.js';

describe('dotted names', () => {
  it('a dotted device and tag are published on …/{device}/{tag} as written', async () => {
    const bench = await setup();
    bench.rewriteConfig({
      mqtt: { publish: 'per_tag' },
      extraTags: ['{ name: Zone1.Temp, area: holding, address: 0, type: float32 }'],
      extraDevices: `  - name: Line1.Press
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${bench.plc.port}
    poll_interval: 100ms
    tags:
      - { name: Zone1.Counter, area: holding, address: 2, type: uint32 }
`,
    });
    const gw = bench.gateway();
    const topics = ['floorgate/test-gw/press-1/Zone1.Temp', 'floorgate/test-gw/Line1.Press/Zone1.Counter'];
    const got = await bench.sub.waitFor((m) => topics.every((t) => m.some((x) => x.topic === t)), 15_000);
    for (const topic of topics) {
      expect(got.find((x) => x.topic === topic)!.payload).toMatchObject({ quality: 'good', value: expect.any(Number) });
    }
    // The same register under its plain name reads the same value: the dotted tag is not a copy of something else.
    const temp = got.filter((x) => x.topic === topics[0]).at(-1)!.payload.value;
    expect(got.some((x) => x.topic === 'floorgate/test-gw/press-1/temperature' && x.payload.value === temp)).toBe(true);
    expect(await gw.stop()).toBe(0);
  });
});
