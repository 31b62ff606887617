/**
 * Reads a V8 .cpuprofile (`node --cpu-prof`) and ranks where the time went: by function (self
 * time) and by file, so "the top costs" of a run can be printed next to its figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './gateway.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Cost {
  readonly what: string;
  /** Share of all samples, 0–1. */
  readonly share: number;
}

function where(url: string): string {
  if (!url) return '(native)';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) return file.slice(nm + 'node_modules/'.length);
  return file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
}

export function summarize(file: string, top = 15): { byFunction: Cost[]; byFile: Cost[]; idle: number } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    // Weight by the time the sample stood for, not by count: sampling intervals vary under load.
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += dt;
      continue;
    }
    const loc = where(url);
    const key = `${functionName || '(anonymous)'} ${loc}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + dt);
    const fileKey = url ? loc.replace(/^(dist\/)?/, '').split('/').slice(0, url.includes('node_modules') ? 1 : 3).join('/') : functionName;
    files.set(fileKey, (files.get(fileKey) ?? 0) + dt);
  }
  const rank = (m: Map<string, number>): Cost[] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([what, t]) => ({ what, share: t / total }));
  return { byFunction: rank(fn), byFile: rank(files), idle: idle / total };
}

export function formatCosts(title: string, costs: readonly Cost[]): string {
  return [title, ...costs.map((c) => `  ${(c.share * 100).toFixed(1).padStart(5)}%  ${c.what}`)].join('\n');
}

/** The newest .cpuprofile in dir. */
export function newestProfile(dir: string): string | undefined {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  return files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}
