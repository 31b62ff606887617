/**
 * The status page's routes, GET / and GET /api/…, answered from a StatusSource. While a page is
 * open it also samples the buffer depth once a second for the drain estimate, so the ETA does
 * not hang on when the page happens to poll; with no page asking for a few seconds it stops,
 * so a gateway nobody watches pays nothing for it.
 */
import { performance } from 'node:perf_hooks';
import type { StatusSource } from '../health.js';
import { healthJson, statusJson, tagsJson, type ApiInput } from './api.js';
import { DrainTracker } from './drain.js';
import { loopShare } from './loop-share.js';
import { PAGE_CSP, PAGE_HTML } from './page.js';
import { TagMatches } from './tag-filter.js';
import { windowJson, windowQuery } from './window.js';

export interface UiAnswer {
  type: string;
  /** Large answers come in parts, written as they are built (see api.ts). */
  body: string | AsyncIterable<string>;
  headers: Record<string, string>;
}

export interface StatusUi {
  /** The answer to GET path, or undefined when the path is not the UI's. Rejects when the source throws. */
  answer(path: string, query: URLSearchParams): Promise<UiAnswer | undefined>;
  stop(): void;
}

/** What the UI serves, for the listener's 404 text and log line. */
export const UI_PATHS = ['/', '/api/status', '/api/health', '/api/tags'] as const;

export interface SamplerTiming {
  sampleMs: number;
  /** The sampler stops when no page has asked for the status for this long: a page polls every second. */
  idleMs: number;
}

const SAMPLER: SamplerTiming = { sampleMs: 1000, idleMs: 5000 };

const NOSNIFF = { 'x-content-type-options': 'nosniff' };
const PAGE: UiAnswer = {
  type: 'text/html; charset=utf-8',
  body: PAGE_HTML,
  headers: { ...NOSNIFF, 'content-security-policy': PAGE_CSP, 'referrer-policy': 'no-referrer' },
};

export function startStatusUi(source: StatusSource, { sampleMs, idleMs }: SamplerTiming = SAMPLER): StatusUi {
  let drain = new DrainTracker();
  const matches = new TagMatches();
  let timer: NodeJS.Timeout | undefined;
  let askedAt = 0;
  const sample = () => {
    if (performance.now() - askedAt > idleMs) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    try {
      const health = source.health();
      drain.sample(performance.now(), health.buffer.messages, health.mqtt.connected);
    } catch {
      // /healthz and the API report a failing source; the estimate only misses one point.
    }
  };
  /** A page asked: keep sampling, and start now if it had stopped. */
  const asked = () => {
    askedAt = performance.now();
    if (timer) return;
    // Samples from before the pause would stretch the fitted rate over the gap.
    drain = new DrainTracker();
    sample();
    timer = setInterval(sample, sampleMs).unref();
  };

  const input = (): ApiInput => ({ now: Date.now(), health: source.health(), drain: drain.estimate() });
  const json = (body: string | AsyncIterable<string>): UiAnswer => ({ type: 'application/json; charset=utf-8', body, headers: NOSNIFF });

  return {
    async answer(path, query) {
      switch (path) {
        case '/':
          return PAGE;
        case '/api/status': {
          asked();
          const window = windowQuery(query);
          const table = source.tagTable();
          if (!window) return json(statusJson(input(), table, loopShare()));
          const match = await matches.of(table, window.filter, loopShare());
          return json(windowJson(input(), table, match, window));
        }
        case '/api/health':
          asked();
          return json(healthJson(input()));
        case '/api/tags': {
          const filter = { device: query.get('device') ?? undefined, tag: query.get('tag') ?? undefined };
          return json(tagsJson(Date.now(), source.tagTable(), filter, loopShare()));
        }
        default:
          return undefined;
      }
    },
    stop: () => {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
