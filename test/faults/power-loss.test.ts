/**
 * Power loss with `sync: full` (reference §4.4): a commit that was acknowledged survives it, and the
 * file is never left corrupt. A power cut cannot be pulled here, so the states it can leave are
 * rebuilt from what the buffer really asked of the kernel (ALICE, OSDI 2014; CrashMonkey, OSDI
 * 2018):
 *
 * 1. Record: the buffer child (test/buffer/child.ts), appending at a steady pace with a 1 MiB
 *    cap so a RESTART checkpoint (database writes, fsync) comes with every commit, runs under an
 *    LD_PRELOAD shim (power-loss/shim.c) that logs every call changing a file of its data dir,
 *    and every `{"committed": seq}` line it prints once a commit returned, in one order.
 * 2. Rebuild: a power cut keeps what was fsynced and, of what was written since, any part: in
 *    order or not, a write torn at 512-byte sectors, names created or renamed since the last
 *    directory fsync or not (power-loss/crash-states.ts says exactly how). The trace is cut at
 *    every operation of the first start (where the file is laid out, through a rollback journal)
 *    and at points spread over the rest — right after an acknowledgement, right before a sync
 *    returned, and anywhere — and each cut is turned into several such states. The -shm is never
 *    part of a state: it is mapped memory, stale after a power cut, and SQLite rebuilds it from
 *    the WAL.
 * 3. Check: each state is opened with the product's own open path (openBuffer) and read. With
 *    sync: full it is never moved aside, passes integrity_check, continues numbering at or
 *    above every acknowledged seq, and holds every acknowledged seq with the body appended for
 *    it. With sync: normal the same harness must find acknowledged seqs lost, or it would prove
 *    nothing: nothing but the missing fsync sets the two runs apart.
 *
 * Cuts and states come from a seeded generator: the seed is printed, and FAULT_SEED=N makes the
 * same choices again (on a new trace: the run's timing is not replayed).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/sqlite-buffer.js';
import { killChildren, startChild } from '../buffer/child-process.js';
import { bufferConfig, captureLog, removeTempDirs, tempDir } from '../buffer/helpers.js';
import { recordFigures } from '../helpers/results.js';
import { needTool, onPath } from '../helpers/tools.js';
import { seededRandom } from '../helpers/random.js';
import { cutPoints, statesAtCuts, type CrashState } from './power-loss/crash-states.js';
import { acknowledged, readTrace } from './power-loss/trace.js';

const SHIM_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'power-loss/shim.c');
/** Small enough that the WAL restarts before every transaction (budget.ts): checkpoints all along. */
const MAX_BYTES = 2 ** 20;
/** Well under what 1 MiB holds, so nothing is dropped and seq = append index + 1. */
const MESSAGES = 2000;
/** Appended every 10 ms: about one commit (commit_interval 10 ms) per batch. */
const BATCH = 10;
const PAD = 20;
/** Cut points per run besides the first start's; each gives up to 7 states, fewer where they come out alike. */
const CUTS = { full: 600, normal: 60 };
const MIN_STATES_FULL = 1000;
/**
 * The child's data dir and the crash states live where an fsync costs nothing: the shim records
 * the calls whatever the file system, and the syncs of the check are not under test.
 */
const SCRATCH = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const scratchDirs: string[] = [];

function scratchDir(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(SCRATCH, 'floorgate-power-loss-')));
  scratchDirs.push(dir);
  return dir;
}

afterEach(killChildren);
afterAll(() => {
  removeTempDirs();
  for (const dir of scratchDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const hasCc = needTool('cc', onPath('cc'), 'the power-loss test (it builds an LD_PRELOAD shim)');

function compileShim(): string {
  const out = path.join(tempDir(), 'shim.so');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, SHIM_SOURCE, '-ldl'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc could not build ${SHIM_SOURCE}: ${cc.stderr}`);
  return out;
}

/** Runs the child under the shim until every message is committed; the trace and the data dir. */
async function record(shim: string, sync: 'full' | 'normal'): Promise<{ dir: string; trace: string }> {
  const dir = scratchDir();
  const trace = path.join(scratchDir(), 'trace.bin');
  const config = bufferConfig({ sync, max_bytes: MAX_BYTES, commit_interval: 10 });
  const child = startChild(path.join(dir, 'buffer.db'), config, [], { LD_PRELOAD: shim, PL_DIR: dir, PL_TRACE: trace });
  await child.request({ op: 'state' });
  let sent = 0;
  const feed = setInterval(() => {
    child.send({ op: 'append', n: BATCH, size: PAD });
    sent += BATCH;
    if (sent >= MESSAGES) clearInterval(feed);
  }, 10);
  try {
    await child.waitFor((l) => l.committed === MESSAGES, 30_000);
  } finally {
    clearInterval(feed);
  }
  const state = await child.request({ op: 'state' });
  expect(state, 'the cap was reached: seqs would no longer follow the appends').toMatchObject({ last_seq: MESSAGES, dropped: { full: 0, max_age: 0 } });
  process.kill(child.pid, 'SIGKILL');
  await child.exited;
  return { dir, trace };
}

interface Verdict {
  /** What makes the state unusable or wrong, as opposed to merely short. */
  readonly corrupt: string[];
  /** Acknowledged seqs not in the buffer with their body. */
  readonly lost: number;
  readonly lastSeq: number;
}

/** Opens one crash state as floorgate would at its next start, and reads it. */
function check(state: CrashState, acked: number, sync: 'full' | 'normal'): Verdict {
  const dir = fs.mkdtempSync(path.join(SCRATCH, 'floorgate-crash-state-'));
  try {
    for (const [name, content] of state.files) fs.writeFileSync(path.join(dir, name), content);
    const file = path.join(dir, 'buffer.db');
    const log = captureLog();
    const corrupt: string[] = [];
    let lastSeq = 0;
    let present = 0;
    try {
      const store = openBuffer({ path: file, config: bufferConfig({ sync, max_bytes: MAX_BYTES }), log: log.log });
      try {
        lastSeq = store.stats().last_seq;
        for (const row of store.read(0, acked)) {
          if (row.seq > acked) break;
          const i = (JSON.parse(row.body) as { i: number }).i;
          if (i === row.seq - 1) present++;
          else corrupt.push(`seq ${row.seq} holds the body of append ${i}`);
        }
      } finally {
        store.close();
      }
    } catch (err) {
      corrupt.push(`openBuffer threw: ${(err as Error).message}`);
    }
    corrupt.push(...log.lines().filter((l) => l.level >= 50).map((l) => `logged: ${l.msg}`));
    corrupt.push(...fs.readdirSync(dir).filter((f) => f.includes('.corrupt-')).map((f) => `moved aside: ${f}`));
    if (fs.existsSync(file)) {
      const db = new Database(file, { fileMustExist: true });
      try {
        const integrity = db.pragma('integrity_check', { simple: true });
        if (integrity !== 'ok') corrupt.push(`integrity_check: ${String(integrity)}`);
      } finally {
        db.close();
      }
    }
    return { corrupt, lost: acked - present, lastSeq };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Run {
  readonly cuts: number;
  /** Cuts with writes not yet synced. */
  readonly inFlight: number;
  readonly states: number;
  readonly torn: number;
  readonly acknowledged: number;
  readonly lost: number;
  readonly statesLosing: number;
  readonly statesCorrupt: number;
  /** Every state that broke an invariant of sync: full, described. */
  readonly failures: string[];
}

/** Records a run, rebuilds its crash states and checks each one. */
async function powerCuts(shim: string, sync: 'full' | 'normal', seed: number): Promise<Run> {
  const { dir, trace } = await record(shim, sync);
  const ops = readTrace(trace);
  const acked = acknowledged(ops);
  const rand = seededRandom(seed);
  const cuts = cutPoints(ops, acked, CUTS[sync], rand);
  const seen = new Set<string>();
  let inFlight = 0;
  let torn = 0;
  let lost = 0;
  let statesLosing = 0;
  let statesCorrupt = 0;
  const failures: string[] = [];
  for (const cut of statesAtCuts(ops, dir, cuts, rand)) {
    if (cut.inFlight > 0) inFlight++;
    const ack = acked[cut.at];
    for (const state of cut.states) {
      // A state already checked against the same acknowledgements would say nothing new.
      const key = `${state.digest}:${ack}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (state.variant === 'subset, torn') torn++;
      const verdict = check(state, ack, sync);
      lost += verdict.lost;
      if (verdict.lost > 0) statesLosing++;
      if (verdict.corrupt.length > 0) statesCorrupt++;
      const broken = [...verdict.corrupt];
      if (verdict.lost > 0) broken.push(`${verdict.lost} acknowledged seqs lost`);
      if (verdict.lastSeq < ack) broken.push(`numbering continues after ${verdict.lastSeq}, below acknowledged ${ack}`);
      if (broken.length > 0) failures.push(`cut ${cut.at}/${ops.length} (${state.variant}, ${ack} acknowledged): ${broken.join('; ')}`);
    }
  }
  return { cuts: cuts.length, inFlight, states: seen.size, torn, acknowledged: acked[ops.length], lost, statesLosing, statesCorrupt, failures };
}

describe.skipIf(!hasCc)('power loss', () => {
  it(`sync: full keeps every acknowledged commit in ≥ ${MIN_STATES_FULL} crash states; sync: normal, checked alike, does not`, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`power loss: seed ${seed} (FAULT_SEED=${seed} makes the same choices)`);
    const shim = compileShim();
    const full = await powerCuts(shim, 'full', seed);
    const normal = await powerCuts(shim, 'normal', seed);
    const figures = {
      seed,
      states: full.states,
      cut_points: full.cuts,
      cuts_in_flight: full.inFlight,
      torn_states: full.torn,
      acknowledged_seqs: full.acknowledged,
      lost_full: full.lost,
      states_normal: normal.states,
      states_losing_normal: normal.statesLosing,
      lost_normal: normal.lost,
      corrupt_normal: normal.statesCorrupt,
    };
    recordFigures('power loss', figures);

    expect(full.failures.slice(0, 10), `${full.failures.length} of ${full.states} states broke an invariant (seed ${seed})`).toEqual([]);
    expect(full.states).toBeGreaterThanOrEqual(MIN_STATES_FULL);
    expect(full.torn).toBeGreaterThan(0);
    expect(full.acknowledged).toBe(MESSAGES);
    // The control: without the fsync per commit, some states must lose acknowledged commits.
    expect(normal.lost, `seed ${seed}`).toBeGreaterThan(0);
  }, 120_000);
});
