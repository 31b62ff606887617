/**
 * Human-readable renderings of audit reports: one line per gateway while running, a block per
 * gateway at the end. `--json` prints the AuditReport itself instead.
 */
import type { AuditReport, CompletenessReport, GapReport, GatewayReport } from './completeness.js';
import type { DelaySummary } from './histogram.js';

/** One gateway's current stream on one line; `rate` in messages per second since the previous line. */
export function formatLiveLine(gateway: string, r: GatewayReport, rate: number): string {
  const parts = [
    gateway,
    `msgs ${r.messages} (${rate.toFixed(1)}/s)`,
    `seq ${seqRange(r)}`,
    r.openGaps === 0 ? 'gaps 0' : `gaps ${r.openGaps} (${gapCounts(r)}, oldest ${ms(oldestGapAge(r))})`,
    `dup ${r.duplicates}`,
    `ooo ${r.outOfOrder}`,
    `hist ${percent(r.historicalShare)}`,
    `delay p50 ${ms(r.delay.live.p50)} p99 ${ms(r.delay.live.p99)}`,
    `newest ${r.newestReadingAge === null ? '-' : `${ms(r.newestReadingAge)} ago`}`,
  ];
  if (r.epoch !== null) parts.push(`epoch ${r.epoch}${r.streams.length > 1 ? ` (+${r.streams.length - 1} earlier)` : ''}`);
  return parts.join('  ');
}

/** The closing summary: a verdict, the audit's own outages, then a block per gateway. */
export function formatFinal(report: AuditReport, elapsedMs: number): string {
  const names = Object.keys(report.gateways);
  const streams = names.flatMap((g) => report.gateways[g].streams);
  const open = streams.reduce((n, s) => n + s.openGaps, 0);
  const missing = streams.reduce((n, s) => n + s.missing, 0);
  const notObserved = streams.reduce((n, s) => n + s.notObserved, 0);
  const verdict = report.complete ? 'COMPLETE: no gap open'
    : missing > 0 ? `INCOMPLETE: ${plural(open, 'gap')} open, ${plural(missing, 'seq')} missing${notObserved > 0 ? `, ${notObserved} not observed` : ''}`
    : `NOT PROVEN: ${plural(open, 'gap')} open, ${plural(notObserved, 'seq')} not observed while the audit was disconnected, none missing`;
  const lines = [`floorgate audit: ${plural(names.length, 'gateway')} over ${ms(elapsedMs)}, ${verdict}`];
  if (report.disconnects > 0) lines.push(outageLine(report));
  for (const name of names) lines.push(...gatewayBlock(name, report.gateways[name]));
  if (names.length === 0) lines.push('  no data message received');
  lines.push(`unparseable ${report.unparseable}${report.lastUnparseable ? ` (last: ${report.lastUnparseable.topic}: ${report.lastUnparseable.reason})` : ''}, ignored ${report.ignored}`);
  return lines.join('\n');
}

function outageLine(report: AuditReport): string {
  const ongoing = report.outages.at(-1)?.to === null;
  return `audit link    down ${plural(report.disconnects, 'time')}` +
    (report.sessionsLost > 0 ? `, session lost ${plural(report.sessionsLost, 'time')}` : ', session resumed every time') +
    (ongoing ? ', down at the end' : '') +
    `; not observed ${ms(report.notObservedMs)}`;
}

function gatewayBlock(name: string, g: GatewayReport): string[] {
  if (g.messages === 0 && g.streams.length <= 1) return [`gateway ${name}`, '  no data message received'];
  if (g.streams.length <= 1) return [`gateway ${name}`, ...(g.epoch === null ? [] : [`  epoch         ${g.epoch}`]), ...streamLines(g, '  ')];
  const lines = [`gateway ${name}  ${g.streams.length} streams (epochs), audited apart`];
  g.streams.forEach((s, i) => {
    lines.push(`  epoch ${s.epoch ?? '(none)'}${i === g.streams.length - 1 ? ' (current)' : ''}`);
    lines.push(...streamLines(s, '    '));
  });
  return lines;
}

function streamLines(r: CompletenessReport, indent: string): string[] {
  const lines = [
    `messages      ${r.messages} (${r.readings} readings), seq ${seqRange(r)}, audited from ${r.baseline}` +
      (r.beforeBaseline > 0 ? ` (${r.beforeBaseline} earlier seqs also arrived)` : ''),
    `duplicates    ${r.duplicates}`,
    `out of order  ${r.outOfOrder}`,
    `historical    ${r.historical} (${percent(r.historicalShare)})`,
    // Only when the gateway's clock was ever untrusted: the usual report stays as it was.
    ...(r.clock.flagged + r.clock.corrected > 0 ? [`clock         ${r.clock.flagged} readings flagged (untrusted clock), ${r.clock.corrected} corrected`] : []),
    `gaps open     ${r.openGaps}${r.openGaps === 0 ? '' : `, ${gapCounts(r)}`}`,
  ].map((l) => indent + l);
  for (const g of r.gaps) lines.push(`${indent}  ${gapText(g)}`);
  if (r.gaps.length < r.openGaps) lines.push(`${indent}  … and ${r.openGaps - r.gaps.length} more`);
  lines.push(`${indent}delay live    ${delayText(r.delay.live)}`);
  lines.push(`${indent}delay backlog ${delayText(r.delay.historical)}`);
  lines.push(`${indent}newest reading ${r.newestReadingAge === null ? '-' : `${ms(r.newestReadingAge)} ago`}`);
  return lines;
}

function gapCounts(r: CompletenessReport): string {
  const parts = [];
  if (r.missing > 0 || r.notObserved === 0) parts.push(`${r.missing} missing`);
  if (r.notObserved > 0) parts.push(`${r.notObserved} not observed`);
  return parts.join(', ');
}

function gapText(g: GapReport): string {
  const seqs = g.from === g.to ? `seq ${g.from}` : `seq ${g.from}..${g.to}`;
  return g.notObserved ? `${seqs} not observed (open for ${ms(g.missingFor)})` : `${seqs} missing for ${ms(g.missingFor)}`;
}

function delayText(d: DelaySummary): string {
  if (d.count === 0) return '-';
  return `p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)} (${plural(d.count, 'reading')})`;
}

function seqRange(r: CompletenessReport): string {
  return r.firstSeq === null ? '-' : `${r.firstSeq}..${r.lastSeq}`;
}

/** Gaps open at the frontier as arrivals go on, so the lowest gap is also the oldest. */
function oldestGapAge(r: CompletenessReport): number | null {
  return r.gaps[0]?.missingFor ?? null;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Milliseconds in the unit a person reads fastest. */
export function ms(value: number | null): string {
  if (value === null) return '-';
  const abs = Math.abs(value);
  if (abs < 1000) return `${Math.round(value)}ms`;
  if (abs < 60_000) return `${(value / 1000).toFixed(1)}s`;
  if (abs < 3_600_000) return `${(value / 60_000).toFixed(1)}min`;
  return `${(value / 3_600_000).toFixed(1)}h`;
}
