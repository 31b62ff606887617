/**
 * A Modbus TCP connection that goes half-open (a firewall or NAT that lost its state: the
 * socket stays up, nothing comes back) never errors by itself, so the driver drops it after
 * three requests in a row time out with not a byte received, and the next connect reads again.
 * A slow device whose late replies still arrive (within the next request) keeps its connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { startModbusSim } from '../../drivers/modbus/sim.js';
import { openTcpLink } from '../../drivers/modbus/tcp-link.js';
import { group, mtag, never, tcpDevice, testContext } from '../../drivers/modbus/test/helpers.js';
import { startProxy } from '../helpers/tcp-proxy.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const TAGS = [mtag({ name: 'counter', area: 'holding', address: 2, type: 'uint32' })];

async function setup() {
  const sim = await startModbusSim();
  closers.push(() => sim.close());
  const proxy = await startProxy({ port: sim.port });
  closers.push(() => proxy.close());
  const device = tcpDevice(proxy.port, TAGS, { timeout: 100 });
  const driver = new ModbusDriver(device, testContext(), (signal) => openTcpLink(device, signal));
  closers.push(() => driver.close());
  await driver.connect(never);
  return { proxy, driver, read: () => driver.read(group(TAGS), never) };
}

describe('a half-open Modbus TCP connection', () => {
  it('is dropped after three silent timeouts; a new connection reads again', async () => {
    const { proxy, driver, read } = await setup();
    expect((await read())[0].quality).toBe('good');
    proxy.blackhole();
    for (let i = 0; i < 3; i++) expect(await read()).toMatchObject([{ quality: 'bad', error: 'timeout after 100 ms' }]);
    await expect(read()).rejects.toThrow('no reply to 3 requests in a row; connection dropped in case it is half-open');
    proxy.pass();
    await driver.connect(never);
    expect((await read())[0].quality).toBe('good');
  });

  it('is kept while late replies still arrive (a slow device, not a dead link)', async () => {
    const { proxy, read } = await setup();
    // A 150 ms round trip: each reply comes during the next request, after its own timed out.
    proxy.latency(75);
    for (let i = 0; i < 6; i++) {
      const [r] = await read();
      expect(r.quality).toBe('bad');
      expect(r.error).toMatch(/^timeout after 100 ms/);
    }
    proxy.pass();
    // The stale replies have been skipped; the same connection answers again.
    await new Promise((r) => setTimeout(r, 400));
    expect((await read())[0].quality).toBe('good');
  });
});
