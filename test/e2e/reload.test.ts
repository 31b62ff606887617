/**
 * SIGHUP on a running daemon: devices and tags added, changed and removed take effect without a
 * restart and without a seq gap; an invalid file is refused with its problems logged and the
 * running configuration kept.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Received } from '../helpers/subscriber.js';
import { AuditSession } from '../../src/audit/completeness.js';
import { setup, sighup } from './setup.js';

const press2 = (port: number) => `  - name: press-2
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${port}
    poll_interval: 100ms
    tags:
      - { name: speed, area: input, address: 0, type: uint16 }
`;

describe('SIGHUP reload', () => {
  it('adds, changes and removes devices and tags live; refuses an invalid file; no seq gap', async () => {
    const { sub, plc, config: file, rewriteConfig, gateway } = await setup();
    const gw = gateway();
    await sub.waitFor((m) => m.some((x) => x.topic === 'floorgate/test-gw/press-1'), 15_000);

    const since = (n: number) => sub.messages.slice(n).filter((m) => m.payload?.seq !== undefined);
    const tagsOf = (msgs: Received[], topic: string) =>
      new Set(msgs.filter((m) => m.topic === topic).flatMap((m) => m.payload.readings.map((r: { tag: string }) => r.tag)));
    const reload = () => sighup(gw);

    // Add a tag to press-1 and a second device.
    rewriteConfig({ extraTags: ['{ name: pressure, area: holding, address: 4, type: int16 }'], extraDevices: press2(plc.port) });
    let mark = sub.messages.length;
    expect(await reload()).toMatch(/configuration reloaded/);
    await sub.waitFor((m) => tagsOf(m.slice(mark), 'floorgate/test-gw/press-1').has('pressure')
      && m.slice(mark).some((x) => x.topic === 'floorgate/test-gw/press-2'), 10_000);

    // An invalid file: refused with FILE:LINE:COL, the running config keeps publishing both devices.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('keepalive: 2s', 'keepalive: 2s\n  qos: 7'));
    const refused = await reload();
    expect(refused).toMatch(/reload refused/);
    expect(refused).toContain(`${file}:9:8: mqtt.qos:`);
    mark = sub.messages.length;
    await sub.waitFor((m) => m.slice(mark).some((x) => x.topic === 'floorgate/test-gw/press-2')
      && tagsOf(m.slice(mark), 'floorgate/test-gw/press-1').has('pressure'), 10_000);

    // Remove press-2 and the added tag.
    rewriteConfig();
    expect(await reload()).toMatch(/configuration reloaded/);
    await new Promise((r) => setTimeout(r, 500)); // a poll already queued may still land
    mark = sub.messages.length;
    await sub.waitFor(() => since(mark).length >= 10, 10_000);
    const after = since(mark);
    expect(after.some((m) => m.topic === 'floorgate/test-gw/press-2')).toBe(false);
    expect(tagsOf(after, 'floorgate/test-gw/press-1').has('pressure')).toBe(false);

    expect(await gw.stop()).toBe(0);
    const audit = new AuditSession({ prefix: 'floorgate', gateways: ['test-gw'] });
    for (const m of sub.messages) audit.observe(m.topic, m.raw, m.arrivedAt);
    const report = audit.report(Date.now()).gateways['test-gw'];
    expect(report.openGaps).toBe(0);
    expect(report.duplicates).toBe(0);
    expect(report.firstSeq).toBe(1);
  }, 60_000);
});
