/** The fault proxy's throttle and mid-frame cut do what the fault tests rely on. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { eventually } from './rig.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A server that echoes everything back, and records what it received. */
async function echo(): Promise<{ port: number; received: () => Buffer; ended: () => boolean }> {
  const sockets = new Set<net.Socket>();
  let received = Buffer.alloc(0);
  let ended = false;
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', (d) => { received = Buffer.concat([received, d]); s.write(d); });
    s.on('end', () => { ended = true; });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return { port: (server.address() as net.AddressInfo).port, received: () => received, ended: () => ended };
}

async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startProxy({ port });
  closers.push(() => proxy.close());
  return proxy;
}

function client(port: number) {
  const s = net.connect(port, '127.0.0.1');
  let received = Buffer.alloc(0);
  let closed = false;
  s.on('data', (d) => { received = Buffer.concat([received, d]); });
  s.on('error', () => {});
  s.on('close', () => { closed = true; });
  closers.push(async () => { s.destroy(); });
  return { s, received: () => received, closed: () => closed };
}

const bytes = (n: number, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

describe('the fault proxy', () => {
  it('throttle: about the given rate each way, bytes in order, and pass() lifts it', async () => {
    const server = await echo();
    const proxy = await proxyTo(server.port);
    const c = client(proxy.port);
    proxy.throttle(2_000);
    const sent = bytes(1_000);
    const t0 = Date.now();
    c.s.write(sent);
    await eventually(() => c.received().length === sent.length, 5_000, 'the echo');
    const ms = Date.now() - t0;
    // 1,000 bytes at 2,000 B/s up, and again down (pipelined): at least ~0.5 s, not much more than 1 s.
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(2_000);
    expect(c.received().equals(sent)).toBe(true);

    proxy.latency(100); // combines with the throttle
    proxy.pass();
    const t1 = Date.now();
    c.s.write(bytes(10_000, 1));
    await eventually(() => c.received().length === 11_000, 2_000, 'the unthrottled echo');
    expect(Date.now() - t1).toBeLessThan(400);
    expect(c.received().subarray(1_000).equals(bytes(10_000, 1))).toBe(true);
  });

  it('cutMidFrame: passes the first n bytes of the next chunk, then ends that connection; new ones pass', async () => {
    const server = await echo();
    const proxy = await proxyTo(server.port);
    const a = client(proxy.port);
    a.s.write('hello');
    await eventually(() => a.received().toString() === 'hello', 2_000, 'the first echo');

    const cut = proxy.cutMidFrame(3, 'upstream');
    a.s.write('0123456789');
    await cut;
    await eventually(() => a.closed() && server.ended(), 2_000, 'both ends to close');
    expect(server.received().toString()).toBe('hello012');
    expect(proxy.cuts).toBe(1);

    const b = client(proxy.port);
    b.s.write('again');
    await eventually(() => b.received().toString() === 'again', 2_000, 'a new connection to pass');
  });

  it('cutMidFrame downstream: the client gets the head of the reply, then the end of the stream', async () => {
    const server = await echo();
    const proxy = await proxyTo(server.port);
    const a = client(proxy.port);
    const cut = proxy.cutMidFrame(4, 'downstream');
    a.s.write('abcdefgh');
    await cut;
    await eventually(() => a.closed(), 2_000, 'the client to see the end');
    expect(a.received().toString()).toBe('abcd');
    expect(server.received().toString()).toBe('abcdefgh');
  });
});
