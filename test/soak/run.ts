/**
 * `npm run soak [-- --minutes N] [--seed S]`: the daemon polls a simulated PLC for N minutes
 * (default 10) while the fault proxies take the broker link and the PLC link down and up again
 * (half-open, resets, slow links, mid-frame cuts, every 20–40 s). Every 5 s it samples the
 * gateway's RSS (/proc/PID/status), open file descriptors (/proc/PID/fd) and active handles
 * (nodejs_active_handles on /metrics). After a warm-up (the first fifth of the run, at
 * least a minute), the first and last thirds are compared: resources must be flat, and upstream
 * every seq must have arrived once the last fault healed. Prints a report; exits 1 if either fails.
 *
 * Not part of `npm test`: it takes as long as it is told to.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { rssBytes, MB } from '../bench/procfs.js';
import { readBufferStats } from '../../src/buffer/stats.js';
import { eventually, getText, metric, sleep, FaultRig } from '../faults/rig.js';
import { seededRandom } from '../helpers/random.js';
import { recordFigures } from '../helpers/results.js';

/** Tolerances between the first and last third after warm-up. */
const RSS_GROWTH_MB = 8;
const FD_GROWTH = 4;
const HANDLE_GROWTH = 4;
const SAMPLE_MS = 5_000;

interface Sample {
  readonly t: number;
  readonly rss: number;
  readonly fds: number;
  readonly handles: number;
  /** V8 heap in use, MB: shown beside RSS to tell a leak from the heap settling; not judged. */
  readonly heap: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, seed: { type: 'string' } } });
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) throw new Error('--minutes takes a positive number');
  const seed = Number(values.seed ?? Math.floor(Math.random() * 2 ** 31));
  const rand = seededRandom(seed);
  const durationMs = minutes * 60_000;
  console.log(`soak: ${minutes} min, seed ${seed}`);

  const rig = await FaultRig.start({ pollInterval: '100ms' });
  try {
    const gw = await rig.gateway();
    const pid = gw.proc.pid;
    const samples: Sample[] = [];
    const faults: Record<string, number> = {};
    const t0 = Date.now();
    let nextFault = t0 + 20_000 + rand() * 20_000;
    let healAt = 0;

    const sample = async () => {
      const text = await getText(gw.httpPort, '/metrics');
      samples.push({
        t: (Date.now() - t0) / 1000, rss: rssBytes(pid) / MB, fds: fs.readdirSync(`/proc/${pid}/fd`).length,
        handles: metric(text, 'nodejs_active_handles') ?? NaN, heap: (metric(text, 'nodejs_heap_size_used_bytes') ?? NaN) / MB,
      });
    };

    // Faults stop a minute before the end, so the last third is measured healed and the backlog drains.
    while (Date.now() - t0 < durationMs) {
      const now = Date.now();
      if (healAt && now >= healAt) {
        rig.mqttProxy.pass();
        rig.plcProxy.pass();
        healAt = 0;
      }
      if (!healAt && now >= nextFault && now - t0 < durationMs - 60_000) {
        const proxy = rand() < 0.5 ? rig.mqttProxy : rig.plcProxy;
        const side = proxy === rig.mqttProxy ? 'broker' : 'plc';
        const kind = (['blackhole', 'reset', 'latency', 'throttle', 'cut'] as const)[Math.floor(rand() * 5)];
        faults[`${side} ${kind}`] = (faults[`${side} ${kind}`] ?? 0) + 1;
        if (kind === 'blackhole') proxy.blackhole();
        else if (kind === 'reset') proxy.reset();
        else if (kind === 'latency') proxy.latency(side === 'plc' ? 700 : 400);
        else if (kind === 'throttle') proxy.throttle(side === 'plc' ? 300 : 1_500);
        else void proxy.cutMidFrame(1 + Math.floor(rand() * 6));
        healAt = now + 3_000 + rand() * 12_000;
        nextFault = healAt + 20_000 + rand() * 20_000;
      }
      if (samples.length === 0 || now - t0 >= samples.length * SAMPLE_MS) await sample();
      await sleep(250);
    }
    rig.mqttProxy.pass();
    rig.plcProxy.pass();
    await sample();

    const committed = readBufferStats(rig.bufferFile).last_seq;
    const delivered = await eventually(() => {
      const r = rig.audit();
      return r.openGaps === 0 && (r.lastSeq ?? 0) >= committed ? r : undefined;
    }, 60_000, `every seq up to ${committed} to arrive`).catch(() => rig.audit());
    const code = await gw.proc.stop('SIGTERM');

    const warm = Math.max(60, (durationMs / 1000) * 0.2);
    const steady = samples.filter((s) => s.t >= warm);
    const third = Math.max(1, Math.floor(steady.length / 3));
    const first = steady.slice(0, third);
    const last = steady.slice(-third);
    const growth = (k: 'rss' | 'fds' | 'handles') => median(last.map((s) => s[k])) - median(first.map((s) => s[k]));
    const checks = [
      { what: 'RSS (MB)', growth: growth('rss'), limit: RSS_GROWTH_MB },
      { what: 'file descriptors', growth: growth('fds'), limit: FD_GROWTH },
      { what: 'active handles', growth: growth('handles'), limit: HANDLE_GROWTH },
    ];

    console.log('\n   t s    RSS MB   fds  handles  heap MB');
    for (const s of samples) {
      console.log(`${s.t.toFixed(0).padStart(6)} ${s.rss.toFixed(1).padStart(9)} ${String(s.fds).padStart(5)} ${String(s.handles).padStart(8)} ${s.heap.toFixed(1).padStart(8)}`);
    }
    console.log(`\nfaults injected: ${Object.values(faults).reduce((a, b) => a + b, 0)} (${Object.entries(faults).map(([k, v]) => `${k} ×${v}`).join(', ')})`);
    let ok = code === 0;
    console.log(`gateway exit code on SIGTERM: ${code}`);
    for (const c of checks) {
      const flat = Math.abs(c.growth) <= c.limit || steady.length < 3;
      ok &&= flat;
      console.log(`${c.what}: median of the last third − first third after ${warm.toFixed(0)} s warm-up = ${c.growth.toFixed(1)} (limit ±${c.limit}) ${flat ? 'flat' : 'NOT FLAT'}`);
    }
    const complete = delivered.openGaps === 0 && (delivered.lastSeq ?? 0) >= committed;
    ok &&= complete;
    console.log(`upstream: ${delivered.messages} messages, ${delivered.readings} readings, ${delivered.missing} missing, ${delivered.duplicates} duplicates ${complete ? '' : '— INCOMPLETE'}`);
    console.log(ok ? 'soak: PASS' : 'soak: FAIL');
    const range = (k: 'rss' | 'fds' | 'handles') => `${Math.min(...steady.map((s) => s[k])).toFixed(k === 'rss' ? 1 : 0)}–${Math.max(...steady.map((s) => s[k])).toFixed(k === 'rss' ? 1 : 0)}`;
    recordFigures(`soak, ${minutes} min`, {
      faults: Object.values(faults).reduce((x, y) => x + y, 0),
      rss_mb: range('rss'), rss_growth_mb: Number(growth('rss').toFixed(1)), fds: range('fds'), handles: range('handles'),
      messages: delivered.messages, readings: delivered.readings, missing: delivered.missing, duplicates: delivered.duplicates,
      verdict: ok ? 'pass' : 'FAIL',
    });
    return ok ? 0 : 1;
  } finally {
    await rig.close();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
