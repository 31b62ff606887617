/**
 * The sync sources (reference §4.12). The kernel's is judged against an independent reader of the
 * same state: Python's ctypes calling adjtimex(2) itself, as `timedatectl` would (which needs
 * systemd-timedated, not running in a container). The file source against the words it accepts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSyncSource, kernelSyncSource, readKernelClock } from '../../src/clock/sync-source.js';
import { needTool, onPath } from '../helpers/tools.js';

const PYTHON_ADJTIMEX = `
import ctypes, struct
buf = ctypes.create_string_buffer(256)
state = ctypes.CDLL(None, use_errno=True).adjtimex(buf)
status = struct.unpack_from('i', buf.raw, 5 * ctypes.sizeof(ctypes.c_long))[0]
print(state, status)
`;

describe.skipIf(!needTool('python3', onPath('python3'), 'the kernel sync source against Python\'s adjtimex'))('kernel sync source', () => {
  it('says what adjtimex(2) says, read by Python: synchronised unless TIME_ERROR or STA_UNSYNC', () => {
    const out = spawnSync('python3', ['-c', PYTHON_ADJTIMEX], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const [state, status] = out.stdout.trim().split(' ').map(Number);
    // The whole status word, not only the bit: a misplaced field would not agree by chance.
    expect(readKernelClock()).toEqual({ state, status });
    expect(kernelSyncSource()()).toBe(state !== 5 && (status & 0x40) === 0);
  });
});

describe('file sync source', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-sync-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state');
  const source = fileSyncSource(file);

  it.each([
    ['synchronised\n', true], ['Synchronized', true], ['yes', true], ['1\n', true],
    ['unsynchronised\n', false], ['unsynchronized', false], ['no', false], ['0', false],
    ['maybe', null], ['', null],
  ] as const)('%j reads as %s', (text, expected) => {
    fs.writeFileSync(file, text);
    expect(source()).toBe(expected);
  });

  it('a missing file cannot tell', () => {
    expect(fileSyncSource(path.join(dir, 'absent'))()).toBeNull();
  });
});
