/**
 * The human-readable report of what AuditSession found: several epochs of one gateway, and
 * gaps the audit did not observe.
 */
import { describe, expect, it } from 'vitest';
import { AuditSession } from '../../src/audit/completeness.js';
import { formatFinal, formatLiveLine } from '../../src/audit/format.js';

const E1 = 'aaaaaaaaaaa1';
const E2 = 'bbbbbbbbbbb2';
const message = (seq: number, epoch: string, extra: object = {}) =>
  Buffer.from(JSON.stringify({ seq, epoch, gateway: 'gw1', device: 'press-1', readings: [{ tag: 't', value: 1, quality: 'good', ts: 1000 }], ...extra }));

describe('audit report text', () => {
  it('shows each epoch as its own stream, and what was not observed apart from what is missing', () => {
    const s = new AuditSession({ prefix: 'fg' });
    for (const seq of [1, 2, 4]) s.observe('fg/gw1/press-1', message(seq, E1), 1000 + seq);
    s.linkLost(1100);
    s.linkRestored(1300, false);
    // The data dir was wiped meanwhile: a new stream from seq 1, with a gap of its own.
    for (const seq of [1, 3]) s.observe('fg/gw1/press-1', message(seq, E2), 1400 + seq);
    const report = s.report(2000);

    const lines = formatFinal(report, 5000).split('\n');
    expect(lines[0]).toBe('floorgate audit: 1 gateway over 5.0s, INCOMPLETE: 2 gaps open, 1 seq missing, 1 not observed');
    expect(lines[1]).toBe('audit link    down 1 time, session lost 1 time; not observed 200ms');
    expect(lines[2]).toBe('gateway gw1  2 streams (epochs), audited apart');
    expect(lines[3]).toBe(`  epoch ${E1}`);
    expect(lines.slice(4, 10)).toEqual([
      '    messages      3 (3 readings), seq 1..4, audited from 1',
      '    duplicates    0',
      '    out of order  0',
      '    historical    0 (0.0%)',
      '    gaps open     1, 1 not observed',
      '      seq 3 not observed (open for 996ms)',
    ]);
    const current = lines.indexOf(`  epoch ${E2} (current)`);
    expect(lines.slice(current + 5, current + 7)).toEqual(['    gaps open     1, 1 missing', '      seq 2 missing for 597ms']);

    expect(formatLiveLine('gw1', report.gateways.gw1, 0.5)).toMatch(new RegExp(`^gw1 {2}msgs 2 \\(0\\.5/s\\) {2}seq 1\\.\\.3 {2}gaps 1 \\(1 missing, oldest 597ms\\) .* {2}epoch ${E2} \\(\\+1 earlier\\)$`));
  });

  it('says NOT PROVEN, none missing, when every open gap may be the audit\'s own blind spot', () => {
    const s = new AuditSession({ prefix: 'fg' });
    s.observe('fg/gw1/press-1', message(1, E1), 1000);
    s.linkLost(1100);
    s.linkRestored(1400, false);
    s.observe('fg/gw1/press-1', message(5, E1), 1500);
    const text = formatFinal(s.report(2000), 1000);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'floorgate audit: 1 gateway over 1.0s, NOT PROVEN: 1 gap open, 3 seqs not observed while the audit was disconnected, none missing',
      'audit link    down 1 time, session lost 1 time; not observed 300ms',
      'gateway gw1',
      `  epoch         ${E1}`,
    ]);
    expect(text).toContain('\n  gaps open     1, 3 not observed\n    seq 2..4 not observed (open for 500ms)\n');
  });

  it('counts the readings of an untrusted clock, flagged and corrected, by what the messages said', () => {
    const s = new AuditSession({ prefix: 'fg' });
    const two = [{ tag: 't', value: 1, quality: 'good', ts: 1000 }, { tag: 'u', value: 2, quality: 'good', ts: 1000 }];
    s.observe('fg/gw1/press-1', message(1, E1), 1001);
    s.observe('fg/gw1/press-1', message(2, E1, { clock: 'unsynced', readings: two }), 1002);
    s.observe('fg/gw1/press-1', message(3, E1, { clock: 'stepped' }), 1003);
    s.observe('fg/gw1/press-1', message(4, E1, { clock: 'corrected', readings: two }), 1004);
    s.observe('fg/gw1/press-1', message(4, E1, { clock: 'corrected', readings: two }), 1005);
    const report = s.report(2000);
    expect(report.gateways.gw1.clock).toEqual({ flagged: 3, corrected: 2 });
    expect(formatFinal(report, 1000)).toContain('\n  historical    0 (0.0%)\n  clock         3 readings flagged (untrusted clock), 2 corrected\n');
  });
});
