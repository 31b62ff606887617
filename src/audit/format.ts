/**
 * Human-readable renderings of audit reports: one line per gateway while running, a block per
 * gateway at the end. `--json` prints the AuditReport itself instead.
 */
import type { AuditReport, CompletenessReport, GapReport } from './completeness.js';
import type { DelaySummary } from './histogram.js';

/** One gateway's state on one line; `rate` in messages per second since the previous line. */
export function formatLiveLine(gateway: string, r: CompletenessReport, rate: number): string {
  const parts = [
    gateway,
    `msgs ${r.messages} (${rate.toFixed(1)}/s)`,
    `seq ${seqRange(r)}`,
    r.openGaps === 0 ? 'gaps 0' : `gaps ${r.openGaps} (${r.missing} missing, oldest ${ms(oldestGapAge(r))})`,
    `dup ${r.duplicates}`,
    `ooo ${r.outOfOrder}`,
    `hist ${percent(r.historicalShare)}`,
    `delay p50 ${ms(r.delay.live.p50)} p99 ${ms(r.delay.live.p99)}`,
    `newest ${r.newestReadingAge === null ? '-' : `${ms(r.newestReadingAge)} ago`}`,
  ];
  return parts.join('  ');
}

/** The closing summary: a verdict, then a block per gateway. */
export function formatFinal(report: AuditReport, elapsedMs: number): string {
  const names = Object.keys(report.gateways);
  const open = names.reduce((n, g) => n + report.gateways[g].openGaps, 0);
  const missing = names.reduce((n, g) => n + report.gateways[g].missing, 0);
  const verdict = report.complete
    ? 'COMPLETE: no gap open'
    : `INCOMPLETE: ${plural(open, 'gap')} open, ${plural(missing, 'seq')} missing`;
  const lines = [`floorgate audit: ${plural(names.length, 'gateway')} over ${ms(elapsedMs)}, ${verdict}`];
  for (const name of names) lines.push(...gatewayBlock(name, report.gateways[name]));
  if (names.length === 0) lines.push('  no data message received');
  lines.push(`unparseable ${report.unparseable}${report.lastUnparseable ? ` (last: ${report.lastUnparseable.topic}: ${report.lastUnparseable.reason})` : ''}, ignored ${report.ignored}`);
  return lines.join('\n');
}

function gatewayBlock(name: string, r: CompletenessReport): string[] {
  if (r.messages === 0) return [`gateway ${name}`, '  no data message received'];
  const lines = [
    `gateway ${name}`,
    `  messages      ${r.messages} (${r.readings} readings), seq ${seqRange(r)}, audited from ${r.baseline}` +
      (r.beforeBaseline > 0 ? ` (${r.beforeBaseline} earlier seqs also arrived)` : ''),
    `  duplicates    ${r.duplicates}`,
    `  out of order  ${r.outOfOrder}`,
    `  historical    ${r.historical} (${percent(r.historicalShare)})`,
    `  gaps open     ${r.openGaps}${r.openGaps === 0 ? '' : `, ${plural(r.missing, 'seq')} missing`}`,
  ];
  for (const g of r.gaps) lines.push(`    ${gapText(g)}`);
  if (r.gaps.length < r.openGaps) lines.push(`    … and ${r.openGaps - r.gaps.length} more`);
  lines.push(`  delay live    ${delayText(r.delay.live)}`);
  lines.push(`  delay backlog ${delayText(r.delay.historical)}`);
  lines.push(`  newest reading ${r.newestReadingAge === null ? '-' : `${ms(r.newestReadingAge)} ago`}`);
  return lines;
}

function gapText(g: GapReport): string {
  const seqs = g.from === g.to ? `seq ${g.from}` : `seq ${g.from}..${g.to}`;
  return `${seqs} missing for ${ms(g.missingFor)}`;
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
