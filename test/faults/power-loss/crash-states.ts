/**
 * What a power cut can leave on disk, rebuilt from a trace of the calls that changed the files
 * of one directory (the method of ALICE, OSDI 2014, and CrashMonkey, OSDI 2018).
 *
 * The model, per file (inode): its durable image — everything written before its last fsync or
 * fdatasync, which the disk is trusted to keep — and the writes and truncates issued since. A
 * cut keeps the durable image plus any subset of those, applied in their order. A kept write may
 * be torn: of the 512-byte sectors it covers only some reach the disk, the others hold what they
 * held before (zeros past the old end, the file's size covering the whole write).
 *
 * Names (create, rename, unlink) are applied in order and are durable only after an fsync of the
 * directory, as POSIX has it (an fsync of the file is not enough): a cut keeps the names as of the
 * last directory fsync plus a prefix of the name operations since, each name pointing at its
 * file's rebuilt content. The directory must start empty, so every file is created in the trace.
 *
 * The -shm index is left out of every state: SQLite maps it into memory, so its contents on disk
 * after a power cut are whatever the kernel last wrote back, and SQLite rebuilds it from the WAL
 * when it finds no other connection.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { TraceOp } from './trace.js';

export const SECTOR = 512;

type DataOp = { readonly at: number } & (
  | { readonly kind: 'write'; readonly offset: number; readonly data: Buffer }
  | { readonly kind: 'truncate'; readonly size: number }
);

type NameOp = { readonly at: number } & (
  | { readonly kind: 'create'; readonly name: string; readonly file: FileNode }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'unlink'; readonly name: string }
);

/** A file's bytes; everything past `size` is kept zero, so growing the file reads zeros. */
class Image {
  constructor(private bytes = Buffer.alloc(0), private size = 0) {}

  copy(): Image {
    return new Image(Buffer.from(this.bytes.subarray(0, this.size)), this.size);
  }

  contents(): Buffer {
    return this.bytes.subarray(0, this.size);
  }

  /** `sector(s)` says which sectors of a torn write reach the disk; all of them when absent. */
  apply(op: DataOp, sector?: (s: number) => boolean): void {
    if (op.kind === 'truncate') {
      this.reserve(op.size);
      this.bytes.fill(0, op.size, this.size);
      this.size = op.size;
      return;
    }
    const end = op.offset + op.data.length;
    this.reserve(end);
    if (sector) {
      for (let s = Math.floor(op.offset / SECTOR); s * SECTOR < end; s++) {
        if (!sector(s)) continue;
        const from = Math.max(op.offset, s * SECTOR);
        op.data.copy(this.bytes, from, from - op.offset, Math.min(end, (s + 1) * SECTOR) - op.offset);
      }
    } else {
      op.data.copy(this.bytes, op.offset);
    }
    this.size = Math.max(this.size, end);
  }

  private reserve(size: number): void {
    if (size <= this.bytes.length) return;
    const grown = Buffer.alloc(Math.max(size, 2 * this.bytes.length));
    this.bytes.copy(grown);
    this.bytes = grown;
  }
}

interface FileNode {
  readonly durable: Image;
  /** Since the last sync, in trace order. */
  pending: DataOp[];
}

export const sectorsOf = (op: { offset: number; data: Buffer }) =>
  Math.floor((op.offset + op.data.length - 1) / SECTOR) - Math.floor(op.offset / SECTOR) + 1;

/** A cut's choice: which in-flight data operations reached the disk, how many name operations. */
export interface Choice {
  readonly keep: (op: DataOp) => boolean;
  readonly names: number;
  readonly tear?: { readonly op: DataOp; readonly sector: (s: number) => boolean };
}

export class DiskModel {
  private readonly names = new Map<string, FileNode>();
  private durableNames = new Map<string, FileNode>();
  private pendingNames: NameOp[] = [];
  private readonly inodes = new Map<string, FileNode>();

  constructor(private readonly dir: string) {}

  /** Operation `at` of the trace has returned. */
  apply(op: TraceOp, at: number): void {
    if (isShm(op)) return;
    switch (op.op) {
      case 'open': {
        const name = this.name(op.path);
        if (name === '') return;
        let file = this.names.get(name);
        if (!file && op.flags & fs.constants.O_CREAT) {
          file = { durable: new Image(), pending: [] };
          this.names.set(name, file);
          this.pendingNames.push({ at, kind: 'create', name, file });
        }
        if (!file) throw new Error(`${op.path} was opened but not created in the trace: the directory must start empty`);
        this.inodes.set(op.inode, file);
        if (op.flags & fs.constants.O_TRUNC) file.pending.push({ at, kind: 'truncate', size: 0 });
        return;
      }
      case 'write':
        return void this.file(op.inode, op.path).pending.push({ at, kind: 'write', offset: op.offset, data: op.data });
      case 'truncate':
        return void this.file(op.inode, op.path).pending.push({ at, kind: 'truncate', size: op.size });
      case 'sync': {
        if (this.name(op.path) === '') {
          this.durableNames = new Map(this.names);
          this.pendingNames = [];
          return;
        }
        const file = this.file(op.inode, op.path);
        for (const data of file.pending) file.durable.apply(data);
        file.pending = [];
        return;
      }
      case 'rename': {
        const rename = { at, kind: 'rename', from: this.name(op.from), to: this.name(op.to) } as const;
        renameIn(this.names, rename);
        this.pendingNames.push(rename);
        return;
      }
      case 'unlink': {
        const name = this.name(op.path);
        this.names.delete(name);
        this.pendingNames.push({ at, kind: 'unlink', name });
        return;
      }
      case 'stdout':
        return;
    }
  }

  /** Data operations not yet synced, in trace order. */
  pendingData(): DataOp[] {
    return [...new Set(this.inodes.values())].flatMap((f) => f.pending).sort((a, b) => a.at - b.at);
  }

  /** Name operations not yet made durable by a directory fsync, in trace order. */
  pendingNameOps(): readonly NameOp[] {
    return this.pendingNames;
  }

  /** The directory's files (name → content) as this choice leaves them. */
  state(choice: Choice): Map<string, Buffer> {
    const names = new Map(this.durableNames);
    for (const op of this.pendingNames.slice(0, choice.names)) {
      if (op.kind === 'create') names.set(op.name, op.file);
      else if (op.kind === 'rename') renameIn(names, op);
      else names.delete(op.name);
    }
    const files = new Map<string, Buffer>();
    for (const [name, file] of names) {
      const image = file.durable.copy();
      for (const op of file.pending) {
        if (choice.keep(op)) image.apply(op, op === choice.tear?.op ? choice.tear.sector : undefined);
      }
      files.set(name, image.contents());
    }
    return files;
  }

  private name(path: string): string {
    if (path === this.dir) return '';
    if (!path.startsWith(`${this.dir}/`)) throw new Error(`${path} is outside ${this.dir}: the model covers one directory`);
    return path.slice(this.dir.length + 1);
  }

  private file(inode: string, path: string): FileNode {
    const file = this.inodes.get(inode);
    if (!file) throw new Error(`${path} (inode ${inode}) was changed before it was opened in the trace`);
    return file;
  }
}

const isShm = (op: TraceOp) =>
  op.op === 'rename' ? op.from.endsWith('-shm') || op.to.endsWith('-shm') : op.op !== 'stdout' && op.path.endsWith('-shm');

function renameIn(names: Map<string, FileNode>, op: { from: string; to: string }): void {
  const file = names.get(op.from);
  if (!file) throw new Error(`rename of ${op.from}, which does not exist at that point`);
  names.delete(op.from);
  names.set(op.to, file);
}

export interface CrashState {
  readonly variant: 'durable only' | 'everything' | 'in-order prefix' | 'subset' | 'subset, torn';
  readonly files: Map<string, Buffer>;
  /** Names and contents hashed: equal states have equal digests. */
  readonly digest: string;
}

/**
 * The states a cut is turned into: only what was durable (the disk lost everything in flight),
 * everything (what a crash of the process leaves), a prefix in trace order (a disk that writes
 * in order), two random subsets (a disk that reorders), and two random subsets with one torn
 * write each. States that come out alike are returned once.
 */
export function crashStates(model: DiskModel, rand: () => number): CrashState[] {
  const data = model.pendingData();
  const nameOps = model.pendingNameOps();
  const choices: [CrashState['variant'], Choice][] = [
    ['durable only', { keep: () => false, names: 0 }],
    ['everything', { keep: () => true, names: nameOps.length }],
  ];
  const inFlight = [...data, ...nameOps].map((op) => op.at).sort((a, b) => a - b);
  if (inFlight.length > 1) {
    const until = inFlight[1 + Math.floor(rand() * (inFlight.length - 1))];
    choices.push(['in-order prefix', { keep: (op) => op.at < until, names: nameOps.filter((op) => op.at < until).length }]);
  }
  const tearable = data.filter((op) => op.kind === 'write' && sectorsOf(op) > 1);
  for (let k = 0; k < 2 && data.length > 0; k++) {
    choices.push(['subset', subset(data, nameOps.length, rand)]);
    if (tearable.length > 0) choices.push(['subset, torn', tear(subset(data, nameOps.length, rand), tearable, rand)]);
  }
  const seen = new Set<string>();
  const states: CrashState[] = [];
  for (const [variant, choice] of choices) {
    const files = model.state(choice);
    const hash = digest(files);
    if (seen.has(hash)) continue;
    seen.add(hash);
    states.push({ variant, files, digest: hash });
  }
  return states;
}

/** Each in-flight write kept with one random probability; a random prefix of the name operations. */
function subset(data: readonly DataOp[], names: number, rand: () => number): Choice {
  const p = rand();
  const kept = new Set(data.filter(() => rand() < p));
  return { keep: (op) => kept.has(op), names: Math.floor(rand() * (names + 1)) };
}

/** The subset plus one multi-sector write, of which some sectors reach the disk and some not. */
function tear(base: Choice, tearable: readonly DataOp[], rand: () => number): Choice {
  const op = tearable[Math.floor(rand() * tearable.length)] as DataOp & { kind: 'write' };
  const first = Math.floor(op.offset / SECTOR);
  const written = Array.from({ length: sectorsOf(op) }, () => rand() < 0.5);
  if (written.every((w) => w === written[0])) written[Math.floor(rand() * written.length)] = !written[0];
  return { keep: (o) => o === op || base.keep(o), names: base.names, tear: { op, sector: (s) => written[s - first] } };
}

function digest(files: Map<string, Buffer>): string {
  const hash = crypto.createHash('sha1');
  for (const name of [...files.keys()].sort()) hash.update(`${name}\0${files.get(name)!.length}\0`).update(files.get(name)!);
  return hash.digest('hex');
}

/**
 * Where to cut (cut i: the first i operations returned): at every operation of the first start,
 * where the file is created, until the first acknowledgement; then a quarter of `count` right
 * after an acknowledgement (its commit must be there), a quarter right before a sync returned (a
 * commit or checkpoint written in full, none of it durable yet), the rest anywhere.
 */
export function cutPoints(ops: readonly TraceOp[], acked: readonly number[], count: number, rand: () => number): number[] {
  const firstAck = acked.findIndex((seq) => seq > 0);
  const startUp = Array.from({ length: firstAck < 0 ? ops.length + 1 : firstAck + 1 }, (_, i) => i);
  const afterAck: number[] = [];
  const beforeSync: number[] = [];
  ops.forEach((op, i) => {
    if (acked[i + 1] > acked[i]) afterAck.push(i + 1);
    if (op.op === 'sync') beforeSync.push(i);
  });
  const cuts = new Set([...startUp, ...sample(afterAck, Math.floor(count / 4), rand), ...sample(beforeSync, Math.floor(count / 4), rand)]);
  for (let target = Math.min(startUp.length + count, ops.length + 1); cuts.size < target;) cuts.add(Math.floor(rand() * (ops.length + 1)));
  return [...cuts].sort((a, b) => a - b);
}

function sample<T>(from: readonly T[], n: number, rand: () => number): T[] {
  const pool = [...from];
  for (let i = 0; i < Math.min(n, pool.length); i++) {
    const j = i + Math.floor(rand() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

/** Replays the trace once, yielding the crash states of each cut (ascending) as it passes it. */
export function* statesAtCuts(ops: readonly TraceOp[], dir: string, cuts: readonly number[], rand: () => number) {
  const model = new DiskModel(dir);
  let next = 0;
  for (let i = 0; i <= ops.length && next < cuts.length; i++) {
    if (cuts[next] === i) {
      yield { at: i, inFlight: model.pendingData().length, states: crashStates(model, rand) };
      next++;
    }
    if (i < ops.length) model.apply(ops[i], i);
  }
}
