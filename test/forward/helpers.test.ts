/** The broker, subscriber and fault-proxy helpers do what other tests rely on. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startBroker, type Broker } from '../helpers/broker.js';
import { subscribe, type Subscriber } from '../helpers/subscriber.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
const track = <T extends Broker | Subscriber | TcpProxy>(x: T, close: (x: T) => Promise<void>): T => {
  cleanup.push(() => close(x));
  return x;
};

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each(['mosquitto', 'aedes'] as const)('startBroker (%s)', (engine) => {
  it('runs a broker on a free loopback port that delivers, stops, and starts again on the same port', async () => {
    const broker = track(await startBroker({ engine }), (b) => b.stop());
    expect(broker.kind).toBe(engine);
    expect(broker.port).not.toBe(1883);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const sub = track(await subscribe(broker.url, { topic: 'a/#' }), (s) => s.close());
    const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await pub.publishAsync('a/b', '{"x":1}', { qos: 1 });
    const [m] = await sub.waitFor((ms) => ms.length === 1, 5_000);
    expect(m).toMatchObject({ topic: 'a/b', payload: { x: 1 }, retain: false });
    await pub.endAsync();

    const pid = broker.pid;
    await broker.stop();
    if (pid !== null) expect(pidAlive(pid)).toBe(false);
    expect(broker.pid).toBeNull();
    await broker.start();
    expect(broker.pid === null || broker.pid !== pid).toBe(true);
    // The subscriber comes back by itself and subscribes again.
    await sub.subscribed(5_000);
    const pub2 = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await pub2.publishAsync('a/c', 'plain', { qos: 1 });
    await sub.waitFor((ms) => ms.some((x) => x.topic === 'a/c' && x.payload === 'plain'), 5_000);
    await pub2.endAsync();
  });

  it('refuses wrong credentials and accepts the right ones', async () => {
    const broker = track(await startBroker({ engine, users: { gw: 's3cret' } }), (b) => b.stop());
    const bad = mqtt.connectAsync(broker.url, { username: 'gw', password: 'nope', reconnectPeriod: 0 });
    await expect(bad).rejects.toMatchObject({ code: expect.any(Number) });
    const good = await mqtt.connectAsync(broker.url, { username: 'gw', password: 's3cret', reconnectPeriod: 0 });
    expect(good.connected).toBe(true);
    await good.endAsync();
  });

  it('kill() ends the broker', async () => {
    const broker = track(await startBroker({ engine }), (b) => b.stop());
    const pid = broker.pid;
    await broker.kill();
    if (pid !== null) expect(pidAlive(pid)).toBe(false);
    await expect(new Promise((resolve, reject) => {
      const s = net.connect(broker.port, '127.0.0.1', () => { s.destroy(); resolve('connected'); });
      s.once('error', reject);
    })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('startProxy', () => {
  async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); s.pipe(s); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
    };
  }

  function client(port: number) {
    const s = net.connect(port, '127.0.0.1');
    let received = '';
    let closed = false;
    s.on('data', (d) => { received += d.toString(); });
    s.on('error', () => {});
    s.on('close', () => { closed = true; });
    return { s, get received() { return received; }, get closed() { return closed; } };
  }

  const until = async (cond: () => boolean, ms = 2_000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('passes, blackholes (sockets stay open, bytes vanish), resets and adds latency', async () => {
    const echo = await echoServer();
    cleanup.push(() => echo.close());
    const proxy = track(await startProxy({ port: echo.port }), (p) => p.close());

    const a = client(proxy.port);
    a.s.write('hello');
    await until(() => a.received === 'hello');

    proxy.blackhole();
    a.s.write('lost');
    const b = client(proxy.port);
    b.s.write('also lost');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.received).toBe('hello');
    expect(b.received).toBe('');
    expect(a.closed || b.closed).toBe(false);

    proxy.pass();
    // A blackholed link stays dead; a new one passes.
    a.s.write('still lost');
    const c = client(proxy.port);
    c.s.write('back');
    await until(() => c.received === 'back');
    expect(a.received).toBe('hello');

    proxy.latency(300);
    const t0 = Date.now();
    c.s.write('slow');
    await until(() => c.received === 'backslow');
    // 300 ms each way.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);

    proxy.reset();
    await until(() => c.closed);
    const d = client(proxy.port);
    await until(() => d.closed);
    expect(d.received).toBe('');
  });
});
