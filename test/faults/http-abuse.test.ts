/**
 * A slow-header client against the HTTP listener of a running `floorgate run` (the field saw
 * 12,000 sockets sending one header byte a second hold 12,026 descriptors and 128 MB). Here 300
 * such sockets, for about 15 s: the listener keeps no more than its cap open, closes the rest at
 * once, closes the slow ones when their header time is up (checked every second, not every 30),
 * answers again afterwards, and polling upstream of it keeps its rate throughout (judged by the
 * requests the simulated PLC answered).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { recordFigures } from '../helpers/results.js';
import { eventually, FaultRig, getJson, sleep } from './rig.js';

const SLOW_SOCKETS = 300;
const CAP = 64;

let rig: FaultRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

interface SlowClient {
  /** Connected and not closed yet. */
  readonly open: () => number;
  /** Closed by the listener: over the cap at once, or at the header timeout. */
  readonly closed: () => number;
  stop(): void;
}

/** `n` sockets that each send one byte of a request header a second and never finish it. */
function slowClients(port: number, n: number): SlowClient {
  const header = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(200));
  let open = 0;
  let closed = 0;
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < n; i++) {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let sent = 0;
    let connected = false;
    socket.on('connect', () => {
      connected = true;
      open++;
      timers.push(setInterval(() => socket.writable && socket.write(header.subarray(sent, ++sent)), 1_000));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (connected) open--;
      closed++;
    });
  }
  return {
    open: () => open,
    closed: () => closed,
    stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** PLC requests answered per second over [from, to). */
function pollRate(r: FaultRig, from: number, to: number): number {
  return r.served.filter((s) => s.time >= from && s.time < to).length / ((to - from) / 1000);
}

describe('HTTP listener under a slow-header flood', () => {
  it(`keeps at most ${CAP} connections, closes slow headers within seconds, and polling keeps its rate`, async () => {
    rig = await FaultRig.start({}, { recordServed: true });
    const gw = await rig.gateway();
    await sleep(2_000);
    const t0 = Date.now();
    await sleep(2_000);
    const before = pollRate(rig, t0, Date.now());
    expect(before).toBeGreaterThan(5);

    const abuse = slowClients(gw.httpPort, SLOW_SOCKETS);
    let during = 0;
    let openAfter3s = 0;
    try {
      const t1 = Date.now();
      await sleep(3_000);
      // The ones over the cap are closed as they arrive.
      openAfter3s = abuse.open();
      expect(openAfter3s).toBeLessThanOrEqual(CAP);
      expect(abuse.closed()).toBeGreaterThanOrEqual(SLOW_SOCKETS - CAP);
      // The header timeout (5 s) is enforced within about a second of expiring: every slow one gone.
      await eventually(() => abuse.open() === 0, 10_000, 'the slow sockets closed by the header timeout');
      during = pollRate(rig, t1, Date.now());
      expect(during).toBeGreaterThan(before * 0.9);
    } finally {
      abuse.stop();
    }
    expect((await getJson(gw.httpPort, '/healthz')).body.devices['press-1'].up).toBe(true);
    recordFigures('http slow-header flood', {
      sockets: SLOW_SOCKETS, 'open after 3 s': openAfter3s, 'polls per s before': round(before), 'polls per s during': round(during),
    });
    expect(await gw.proc.stop('SIGTERM')).toBe(0);
  });
});
