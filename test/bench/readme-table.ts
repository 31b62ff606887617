/**
 * The README's performance table: written between `<!-- bench:start -->` and
 * `<!-- bench:end -->` (a `## Performance` section with the markers is appended to the README
 * when they are missing), so the published numbers are always the output of `npm run bench`.
 */
import fs from 'node:fs';
import { num, spreadText, type Figure } from './report.js';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

export interface RunInfo {
  readonly date: string;
  readonly machine: string;
  readonly command: string;
  readonly seconds: number;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderTable(figures: readonly Figure[], info: RunInfo): string {
  const rows = figures.map((f) => {
    const verdict = f.met === null ? 'reported' : f.met ? 'met' : '**not met**';
    const ratio = f.spread ? `${num(f.ratio)} (${spreadText(f)})` : num(f.ratio);
    return `| ${cell(f.name)} | ${num(f.value)} ${cell(f.unit)} | ${cell(f.baseline.what.replace(/,$/, ''))}: ${num(f.baseline.value)} ${cell(f.baseline.unit)} | ${ratio} | ${cell(f.target)} | ${verdict} |`;
  });
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.name}: ${f.note}`);
  return [
    START,
    `Measured ${info.date} on ${info.machine}, by \`${info.command}\` (${Math.round(info.seconds)} s). ` +
      'Nothing kept other work off the machine: compare the ratios, each measured within one run. Where a bench ran ' +
      'more than once, the row is its median run by ratio, with the range of the ratio over all runs.',
    '',
    '| figure | floorgate | baseline (same run) | ratio | target | |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    ...notes,
    END,
  ].join('\n');
}

/** Replaces the table in the README (adding the section at the end when absent). */
export function writeReadme(file: string, table: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  let next: string;
  if (start >= 0 && end > start) {
    next = text.slice(0, start) + table + text.slice(end + END.length);
  } else {
    next = text.replace(/\s*$/, '\n\n## Performance\n\n') + table + '\n';
  }
  fs.writeFileSync(file, next);
}
