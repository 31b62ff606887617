/**
 * `npm run figures [-- --write]`: the README's fault, power-loss, soak and mutant figures, from
 * the records test runs left (test/helpers/results.ts). Without --write it prints the block;
 * with it, the block replaces what is between `<!-- figures:start -->` and `<!-- figures:end -->`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { machine } from '../bench/procfs.js';
import { latestRecords, resultsFile, type FiguresRecord } from '../helpers/results.js';

const START = '<!-- figures:start -->';
const END = '<!-- figures:end -->';

function line(r: FiguresRecord): string {
  const figures = Object.entries(r.figures).map(([k, v]) => `${k.replace(/_/g, ' ')} ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
  return `- **${r.test}** (${r.at.slice(0, 10)}): ${figures.join(', ')}.`;
}

export function renderFigures(records: readonly FiguresRecord[]): string {
  return [
    START,
    `Written by \`npm run figures -- --write\` from the records of the last runs (\`${path.relative(process.cwd(), resultsFile())}\`), on this machine (${machine()}; nothing kept other work off it).`,
    '',
    ...records.map(line),
    END,
  ].join('\n');
}

function main(): void {
  const records = latestRecords();
  if (records.length === 0) throw new Error(`no figures recorded in ${resultsFile()}: run npm test (or the fault tests) first`);
  const block = renderFigures(records);
  if (!process.argv.includes('--write')) {
    console.log(block);
    return;
  }
  const readme = path.join(process.cwd(), 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no ${START} … ${END} block to replace`);
  fs.writeFileSync(readme, text.slice(0, from) + block + text.slice(to + END.length));
  console.log(`README.md: ${records.length} figure lines written`);
}

main();
