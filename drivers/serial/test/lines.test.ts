import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineSplitter } from '../lines.js';

function run(delimiter: string, max: number, chunks: (string | Buffer)[]) {
  const splitter = new LineSplitter(delimiter, max);
  const lines: string[] = [];
  const overflows: string[] = [];
  const sink = { line: (t: string) => lines.push(t), overflow: (h: string) => overflows.push(h) };
  for (const c of chunks) splitter.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c, sink);
  return { lines, overflows, splitter };
}

describe('LineSplitter', () => {
  it('splits on a two-byte delimiter torn across chunks', () => {
    const { lines, splitter } = run('\r\n', 4096, ['ST,GS, 1.0 kg\r', '\nST,GS', ', 2.0 kg\r\nST,G']);
    expect(lines).toEqual(['ST,GS, 1.0 kg', 'ST,GS, 2.0 kg']);
    expect(splitter.pendingBytes).toBe(4);
  });

  it('drops blank lines and, for a "\\n" delimiter, a trailing CR', () => {
    expect(run('\n', 100, ['a\r\n\n\r\nb\n']).lines).toEqual(['a', 'b']);
    // With "\r\n" as the delimiter a lone CR is content.
    expect(run('\r\n', 100, ['a\r\r\n']).lines).toEqual(['a\r']);
  });

  it('decodes latin1: every byte one character, nothing lost or replaced', () => {
    const bytes = Buffer.from([0x41, 0xb0, 0xff, 0x00, 0xc3, 0x0a]);
    expect(run('\n', 100, [bytes]).lines).toEqual(['A\u00b0\u00ff\u0000\u00c3']);
  });

  it('reports an over-long line once, drops it up to the next delimiter, then carries on', () => {
    const garbage = 'x'.repeat(10_000);
    const { lines, overflows, splitter } = run('\r\n', 4096, [garbage.slice(0, 3000), garbage.slice(3000), 'yy\r', '\nok 1\r\n']);
    expect(overflows).toHaveLength(1);
    expect(overflows[0]).toBe('x'.repeat(64));
    expect(lines).toEqual(['ok 1']);
    expect(splitter.pendingBytes).toBe(0);
  });

  it('with an overflow, names the line end the text seems to use instead', () => {
    const ending = (delimiter: string, text: string) => {
      const ends: (string | undefined)[] = [];
      new LineSplitter(delimiter, 64).push(Buffer.from(text, 'latin1'), { line: () => {}, overflow: (_h, end) => ends.push(end) });
      return ends;
    };
    const lines = (end: string) => `ST,GS,  1.000 kg${end}`.repeat(6);
    expect(ending('\n', lines('\r'))).toEqual(['\r']);
    expect(ending('\r', lines('\n'))).toEqual(['\n']);
    expect(ending('\x03', lines('\r\n'))).toEqual(['\r\n']);
    expect(ending('\r\n', lines('\n\r'))).toEqual(['\n\r']);
    expect(ending('\n', `\x02${lines('\x03')}`)).toEqual(['\x03']);
    // One CR in noise is not a line end; nor is anything in text without one.
    expect(ending('\n', `${'x'.repeat(40)}\r${'x'.repeat(40)}`)).toEqual([undefined]);
    expect(ending('\n', 'U'.repeat(100))).toEqual([undefined]);
  });

  it('counts a complete line over the cap as an overflow too', () => {
    const { lines, overflows } = run('\n', 8, ['123456789\n12345678\n']);
    expect(overflows).toHaveLength(1);
    expect(lines).toEqual(['12345678']);
  });

  it('reset() hands back the unfinished line and starts afresh', () => {
    const splitter = new LineSplitter('\r\n', 100);
    const lines: string[] = [];
    const sink = { line: (t: string) => lines.push(t), overflow: () => {} };
    splitter.push(Buffer.from('garb'), sink);
    expect(splitter.reset()).toBe('garb');
    splitter.push(Buffer.from('ok\r\n'), sink);
    expect(lines).toEqual(['ok']);
  });

  it('fuzz: any bytes, any chunking -> no throw, bounded buffer, lines within the cap', () => {
    fc.assert(fc.property(
      fc.constantFrom('\n', '\r\n', '\x03', 'END'),
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
      (delimiter, max, chunks) => {
        const splitter = new LineSplitter(delimiter, max);
        let emitted = 0;
        const sink = {
          line: (t: string) => { expect(t.length).toBeLessThanOrEqual(max); expect(t.length).toBeGreaterThan(0); emitted++; },
          overflow: (h: string) => { expect(h.length).toBeLessThanOrEqual(64); emitted++; },
        };
        for (const c of chunks) {
          splitter.push(Buffer.from(c), sink);
          expect(splitter.pendingBytes).toBeLessThanOrEqual(Math.max(max, delimiter.length - 1));
        }
        const total = chunks.reduce((n, c) => n + c.length, 0);
        expect(emitted).toBeLessThanOrEqual(total);
      },
    ), { numRuns: 500 });
  });

  it('fuzz: lines within the cap come out exactly as sent, however the bytes are chunked', () => {
    const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '.', '\xb0', '\x00', '\r'), minLength: 1, maxLength: 20 });
    fc.assert(fc.property(
      fc.array(lineArb, { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
      (sent, cuts) => {
        // "\r\n" never occurs inside a line: a CR is only followed by another character or the end.
        const clean = sent.map((l) => l.replace(/\r+$/, '') || 'x');
        const bytes = Buffer.from(clean.map((l) => `${l}\r\n`).join(''), 'latin1');
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length];
          chunks.push(bytes.subarray(at, at + n));
          at += n;
        }
        const { lines, overflows } = run('\r\n', 20, chunks);
        expect(overflows).toEqual([]);
        expect(lines).toEqual(clean);
      },
    ), { numRuns: 300 });
  });
});
