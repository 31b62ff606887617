/**
 * The driver's log lines as the daemon writes them (under the scheduler, whose logger already
 * names the device): each one JSON with every key once, since strict JSON log parsers reject a
 * repeated key. Checked on the raw text with a YAML parser that refuses duplicate keys, because
 * JSON.parse silently keeps the last of them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { drivers, loadFloorgateConfigText } from '../../../src/assembly.js';
import { Metrics } from '../../../src/metrics.js';
import { DeviceRunner } from '../../../src/scheduler/device-runner.js';
import { captureLog } from '../../../test/helpers/log.js';
import { startModbusSim } from '../sim.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('Modbus driver log lines', () => {
  it('name the device once: a quarantine warning is valid JSON with unique keys', async () => {
    const sim = await startModbusSim();
    cleanups.push(() => sim.close());
    sim.setFault({ illegal: { holding: [5] } });
    const loaded = loadFloorgateConfigText(`
gateway: { id: t, data_dir: /tmp/fg-unused }
mqtt: { url: "mqtt://127.0.0.1:1" }
devices:
  - name: press-9
    driver: modbus_tcp
    host: 127.0.0.1
    port: ${sim.port}
    poll_interval: 100ms
    tags:
      - { name: ok, area: holding, address: 4, type: uint16 }
      - { name: refused, area: holding, address: 5, type: uint16 }
`, 'test.yaml', {});
    if (!loaded.ok) throw new Error(loaded.problems.map((p) => p.message).join('\n'));
    const device = loaded.config.devices[0];
    const capture = captureLog();
    const runner = new DeviceRunner({
      device, module: drivers.of(device), log: capture.log, metrics: new Metrics(false), dataDir: '/tmp', emit: () => {},
    });
    cleanups.push(() => runner.stop());
    runner.start();
    const deadline = Date.now() + 5_000;
    while (!capture.text().includes('quarantined') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await runner.stop();

    const lines = capture.text().split('\n').filter(Boolean);
    const quarantine = lines.filter((l) => l.includes('quarantined'));
    expect(quarantine).toHaveLength(1);
    expect(JSON.parse(quarantine[0])).toMatchObject({ device: 'press-9', tag: 'refused', level: 40 });
    for (const line of lines) expect(() => parse(line), line).not.toThrow();
  });
});
