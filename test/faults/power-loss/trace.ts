/** Reads the trace shim.c records (its header comment gives the format). */
import fs from 'node:fs';

export type TraceOp =
  | { readonly op: 'open'; readonly path: string; readonly inode: string; readonly flags: number }
  | { readonly op: 'write'; readonly path: string; readonly inode: string; readonly offset: number; readonly data: Buffer }
  | { readonly op: 'truncate'; readonly path: string; readonly inode: string; readonly size: number }
  | { readonly op: 'sync'; readonly path: string; readonly inode: string }
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  | { readonly op: 'unlink'; readonly path: string }
  | { readonly op: 'stdout'; readonly data: Buffer };

const HEADER = 48;
const OPS = ['open', 'write', 'truncate', 'sync', 'rename', 'unlink', 'stdout'] as const;

export function readTrace(file: string): TraceOp[] {
  const buf = fs.readFileSync(file);
  const ops: TraceOp[] = [];
  for (let at = 0; at < buf.length;) {
    if (at + HEADER > buf.length) throw new Error(`${file}: record ${ops.length} is cut short`);
    const counter = buf.readBigUInt64LE(at);
    const op = OPS[buf.readUInt32LE(at + 8) - 1];
    const flags = buf.readUInt32LE(at + 12);
    const inode = buf.readBigUInt64LE(at + 16).toString();
    const offset = Number(buf.readBigInt64LE(at + 24));
    const length = Number(buf.readBigInt64LE(at + 32));
    const pathEnd = at + HEADER + buf.readUInt32LE(at + 40);
    const path2End = pathEnd + buf.readUInt32LE(at + 44);
    const dataEnd = path2End + (op === 'write' || op === 'stdout' ? length : 0);
    if (counter !== BigInt(ops.length) || !op || dataEnd > buf.length) {
      throw new Error(`${file}: record ${ops.length} is damaged (counter ${counter}, op ${buf.readUInt32LE(at + 8)})`);
    }
    const path = buf.toString('utf8', at + HEADER, pathEnd);
    const data = buf.subarray(path2End, dataEnd);
    switch (op) {
      case 'open': ops.push({ op, path, inode, flags }); break;
      case 'write': ops.push({ op, path, inode, offset, data }); break;
      case 'truncate': ops.push({ op, path, inode, size: length }); break;
      case 'sync': ops.push({ op, path, inode }); break;
      case 'rename': ops.push({ op, from: path, to: buf.toString('utf8', pathEnd, path2End) }); break;
      case 'unlink': ops.push({ op, path }); break;
      case 'stdout': ops.push({ op, data }); break;
    }
    at = dataEnd;
  }
  return ops;
}

/**
 * acked[i]: the highest seq whose `{"committed": seq}` line had been written to stdout by the
 * first i operations — what a cut after operation i - 1 must keep. A line may take several
 * writes; it counts from the write that completes it.
 */
export function acknowledged(ops: readonly TraceOp[]): number[] {
  const acked = [0];
  let line = '';
  let highest = 0;
  for (const op of ops) {
    if (op.op === 'stdout') {
      const parts = (line + op.data.toString('utf8')).split('\n');
      line = parts.pop() ?? '';
      for (const part of parts) {
        const { committed } = JSON.parse(part) as { committed?: unknown };
        if (typeof committed === 'number') highest = Math.max(highest, committed);
      }
    }
    acked.push(highest);
  }
  return acked;
}
