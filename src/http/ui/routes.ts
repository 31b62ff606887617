/**
 * The status page's routes, GET / and GET /api/…, answered from a StatusSource. It also samples
 * the buffer depth once a second for the drain estimate, so an ETA is ready as soon as someone
 * opens the page rather than a few seconds later.
 */
import { performance } from 'node:perf_hooks';
import type { StatusSource } from '../health.js';
import { healthJson, statusJson, tagsJson, type ApiInput } from './api.js';
import { DrainTracker } from './drain.js';
import { PAGE_CSP, PAGE_HTML } from './page.js';

export interface UiAnswer {
  type: string;
  body: string;
  headers: Record<string, string>;
}

export interface StatusUi {
  /** The answer to GET path, or undefined when the path is not the UI's. Throws when the source does. */
  answer(path: string, query: URLSearchParams): UiAnswer | undefined;
  stop(): void;
}

/** What the UI serves, for the listener's 404 text and log line. */
export const UI_PATHS = ['/', '/api/status', '/api/health', '/api/tags'] as const;

const NOSNIFF = { 'x-content-type-options': 'nosniff' };
const PAGE: UiAnswer = {
  type: 'text/html; charset=utf-8',
  body: PAGE_HTML,
  headers: { ...NOSNIFF, 'content-security-policy': PAGE_CSP, 'referrer-policy': 'no-referrer' },
};

export function startStatusUi(source: StatusSource, sampleMs = 1000): StatusUi {
  const drain = new DrainTracker();
  const sample = () => {
    try {
      const health = source.health();
      drain.sample(performance.now(), health.buffer.messages, health.mqtt.connected);
    } catch {
      // /healthz and the API report a failing source; the estimate only misses one point.
    }
  };
  sample();
  const timer = setInterval(sample, sampleMs).unref();

  const input = (): ApiInput => ({ now: Date.now(), health: source.health(), drain: drain.estimate() });
  const json = (body: string): UiAnswer => ({ type: 'application/json; charset=utf-8', body, headers: NOSNIFF });

  return {
    answer(path, query) {
      switch (path) {
        case '/':
          return PAGE;
        case '/api/status':
          return json(statusJson(input(), source.tags()));
        case '/api/health':
          return json(healthJson(input()));
        case '/api/tags':
          return json(tagsJson(Date.now(), source.tags(), { device: query.get('device') ?? undefined, tag: query.get('tag') ?? undefined }));
        default:
          return undefined;
      }
    },
    stop: () => clearInterval(timer),
  };
}
