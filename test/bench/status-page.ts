/**
 * Status page: what an open page costs `floorgate run`, and how long its answers hold the loop.
 *
 * - CPU: 10,000 tags (10 devices × 1,000 float32 at 1 s) on one core; the daemon's CPU (utime +
 *   stime) per wall second with no page, one page, AMPLIFY pages and one "old" page, in
 *   alternating windows of the same run (medians over the rounds). A page is a plain HTTP
 *   client doing what the page's script does: ask for its window once a second after the last
 *   answer (`?filter=&offset=0&limit=100&since=V`, V from the previous answer). The old page
 *   asks for the bare `/api/status` (every device, every tag), as the page did before windows.
 *   One page costs about a millisecond a second, well inside the run-to-run noise of a shared
 *   machine, so the figure is the marginal cost of one page measured with AMPLIFY of them;
 *   the single page's direct ratio is in the note. Target: one page adds ≤ 10 %.
 * - Loop hold: 50,000 tags (50 devices × 1,000 at 5 s, 10,000 readings/s), four old pages
 *   polling the whole status at once (3 MB each), against the same gateway with none: the
 *   event-loop lag p99 from /healthz (how late the poll timers fire, 50 of them a second), which a
 *   request holding the loop shows as its hold.
 *
 * The machine is shared (the simulator, mosquitto and this process sit on the other core, other
 * people's work anywhere): compare within a run.
 */
import fs from 'node:fs';
import { cpuSeconds, GATEWAY_CORE } from './procfs.js';
import { spawnGateway, tempDir, writeConfig, type GatewayProcess, type Layout } from './gateway.js';
import { median, num, runIfMain, sleep, type Bench, type Figure } from './report.js';
import { startRig, type Rig } from './rig.js';

const CPU_LAYOUT: Layout = { devices: 10, tagsPerDevice: 1000, pollInterval: '1s' };
const HOLD_LAYOUT: Layout = { devices: 50, tagsPerDevice: 1000, pollInterval: '5s' };
const WARMUP_MS = 10_000;
const PAGE_MS = 1000;
const HOLD_PAGES = 4;
/** Pages at once for the marginal cost of one. */
const AMPLIFY = 10;
/** /healthz's lag is the p99 over the current and the previous 10 s window: a window must fill both. */
const LAG_WINDOW_MS = 21_000;

interface Poller {
  /** Answers and body bytes received so far. */
  readonly answers: number;
  readonly bytes: number;
  stop(): Promise<void>;
}

/** A page: asks, reads the whole answer, waits PAGE_MS, asks again (windowed: since the version it got). */
function poll(port: number, windowed: boolean): Poller {
  let stopped = false;
  const state = { answers: 0, bytes: 0 };
  const run = (async () => {
    let version = 0;
    while (!stopped) {
      const query = windowed ? `?filter=&offset=0&limit=100${version ? `&since=${version}` : ''}` : '';
      const text = await (await fetch(`http://127.0.0.1:${port}/api/status${query}`)).text();
      const body = JSON.parse(text) as { tags?: { version: number } };
      version = body.tags?.version ?? 0;
      state.answers++;
      state.bytes += Buffer.byteLength(text);
      await sleep(PAGE_MS);
    }
  })();
  return {
    get answers() { return state.answers; },
    get bytes() { return state.bytes; },
    async stop() {
      stopped = true;
      await run;
    },
  };
}

/** CPU ms per wall second of the gateway over windowMs while `pages` poll. */
async function cpuWindow(gw: GatewayProcess, port: number, windowMs: number, pages: { n: number; windowed: boolean }): Promise<{ msPerS: number; bytesPerS: number }> {
  const pollers = Array.from({ length: pages.n }, () => poll(port, pages.windowed));
  // The first answer of a windowed page is the whole window: measure the steady state after it.
  await sleep(2 * PAGE_MS);
  const b0 = pollers.reduce((n, p) => n + p.bytes, 0);
  const c0 = cpuSeconds(gw.pid);
  const t0 = performance.now();
  await sleep(windowMs);
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds(gw.pid);
  const b1 = pollers.reduce((n, p) => n + p.bytes, 0);
  await Promise.all(pollers.map((p) => p.stop()));
  return { msPerS: ((c1 - c0) * 1000) / seconds, bytesPerS: pages.n ? (b1 - b0) / seconds / pages.n : 0 };
}

async function withGateway<T>(rig: Rig, layout: Layout, name: string, use: (gw: GatewayProcess, port: number) => Promise<T>): Promise<T> {
  const dir = tempDir(name);
  try {
    const file = writeConfig({ ...layout, dir, gatewayId: `bench-${name}`, mqttPort: rig.broker.port, modbusPort: rig.sim.port });
    const gw = spawnGateway(file, { core: GATEWAY_CORE });
    try {
      const port = await gw.started;
      await sleep(WARMUP_MS);
      return await use(gw, port);
    } finally {
      await gw.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function lagP99(port: number): Promise<number> {
  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { process: { event_loop_lag_ms: number } };
  return health.process.event_loop_lag_ms;
}

export const statusPage: Bench = async (opts) => {
  const windowMs = opts.full ? 20_000 : 10_000;
  const rounds = opts.full ? 5 : 2;
  const rig = await startRig();
  try {
    const cpu = await withGateway(rig, CPU_LAYOUT, 'status-cpu', async (gw, port) => {
      const runs = { none: [] as number[], page: [] as number[], many: [] as number[], old: [] as number[], pageBytes: 0, oldBytes: 0 };
      for (let round = 0; round < rounds; round++) {
        runs.none.push((await cpuWindow(gw, port, windowMs, { n: 0, windowed: true })).msPerS);
        const page = await cpuWindow(gw, port, windowMs, { n: 1, windowed: true });
        runs.page.push(page.msPerS);
        runs.many.push((await cpuWindow(gw, port, windowMs, { n: AMPLIFY, windowed: true })).msPerS);
        const old = await cpuWindow(gw, port, windowMs, { n: 1, windowed: false });
        runs.old.push(old.msPerS);
        runs.pageBytes = page.bytesPerS;
        runs.oldBytes = old.bytesPerS;
      }
      return { none: median(runs.none), page: median(runs.page), many: median(runs.many), old: median(runs.old), pageBytes: runs.pageBytes, oldBytes: runs.oldBytes };
    });
    const hold = await withGateway(rig, HOLD_LAYOUT, 'status-hold', async (_gw, port) => {
      await sleep(LAG_WINDOW_MS);
      const quiet = await lagP99(port);
      const pollers = Array.from({ length: HOLD_PAGES }, () => poll(port, false));
      await sleep(LAG_WINDOW_MS);
      const busy = await lagP99(port);
      const answers = pollers.reduce((n, p) => n + p.answers, 0);
      const bytes = pollers[0].bytes / Math.max(1, pollers[0].answers);
      await Promise.all(pollers.map((p) => p.stop()));
      return { quiet, busy, answers, bytes };
    });
    const extra = (cpu.many - cpu.none) / AMPLIFY / cpu.none;
    const figures: Figure[] = [
      {
        name: 'status page CPU (10,000 tags)',
        value: extra * 100,
        unit: '% extra CPU per open page',
        baseline: { what: 'no page open', value: cpu.none, unit: 'ms CPU per s' },
        ratio: 1 + extra,
        target: '≤ 10 % extra',
        met: extra <= 0.1,
        note: `10 devices × 1,000 float32 at 1 s on one core; medians of ${rounds} rounds of ${windowMs / 1000} s windows: ` +
          `${num(cpu.many)} ms/s with ${AMPLIFY} pages, ${num(cpu.page)} ms/s with one (${num(cpu.page / cpu.none)}× measured directly, ` +
          `${num(cpu.pageBytes / 1024)} KiB/s to it), ${num(cpu.old)} ms/s (${num(cpu.old / cpu.none)}×) with one old page polling the ` +
          `whole /api/status (${num(cpu.oldBytes / 1024)} KiB/s); static simulator values, so after its first answer a page is sent no rows`,
      },
      {
        name: 'status page loop hold (50,000 tags)',
        value: hold.busy,
        unit: 'ms lag p99 with 4 pages polling everything',
        baseline: { what: 'no page open', value: hold.quiet, unit: 'ms' },
        ratio: hold.busy / Math.max(hold.quiet, 0.01),
        target: '≤ no page + 10 ms',
        met: hold.busy <= hold.quiet + 10,
        note: `50 devices × 1,000 float32 at 5 s; ${HOLD_PAGES} clients each asking for the bare /api/status ` +
          `(${num(hold.bytes / 1e6)} MB an answer, ${hold.answers} answers in ${LAG_WINDOW_MS / 1000} s); ` +
          '/healthz lag p99 over 10–20 s (poll timer lateness); before issue 19: ~290 ms',
      },
    ];
    return figures;
  } finally {
    await rig.close();
  }
};

runIfMain(import.meta.url, statusPage);
