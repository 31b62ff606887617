/**
 * The operator's window into the daemon (reference §5): GET /healthz and GET /metrics on node:http,
 * and with a StatusSource the status page (GET /, GET /api/…, see ui/). It reads state through
 * its sources and the metrics registry and never changes any of them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { healthHttpStatus, type HealthSource, type StatusSource } from './health.js';
import { startStatusUi, UI_PATHS, type StatusUi } from './ui/routes.js';
import { closeSlowRequests } from './request-deadline.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port; the one bound is returned. */
  port: number;
  health: HealthSource;
  metrics: Metrics;
  log: Logger;
  /** Serves the status page and its JSON API from this source; without it only /healthz and /metrics. */
  status?: StatusSource;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const ALLOW = 'GET, HEAD';
/**
 * Sockets open at once; more are closed as they arrive. A few scrapers and browsers need a
 * handful; every socket costs a descriptor and buffers, and polling must not starve for them.
 */
const MAX_CONNECTIONS = 64;
/** A request's headers must be in within this, from the connect or the previous answer. */
const HEADERS_TIMEOUT_MS = 5_000;
/** The longest a Node timer takes (2^31 − 1 ms); a longer one would fire after 1 ms. */
const NODE_SWEEP_OFF_MS = 2 ** 31 - 1;

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const ui = opts.status ? startStatusUi(opts.status) : undefined;
  const paths = [...(ui ? UI_PATHS : []), '/healthz', '/metrics'];
  const notFound = `not found: floorgate serves ${paths.slice(0, -1).join(', ')} and ${paths[paths.length - 1]}\n`;
  // Node's own header and request timeouts are swept on an interval that wakes an idle gateway
  // (request-deadline.ts keeps them per socket instead): its sweep is pushed out of the way.
  const server = http.createServer({ connectionsCheckingInterval: NODE_SWEEP_OFF_MS }, (req, res) => route(req, res, opts, ui, notFound));
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  // Scrapers answer in milliseconds; a client that dawdles must not hold sockets on a small gateway.
  closeSlowRequests(server, HEADERS_TIMEOUT_MS);
  server.keepAliveTimeout = 5_000;
  server.maxConnections = MAX_CONNECTIONS;
  try {
    await listen(server, opts.host, opts.port);
  } catch (err) {
    ui?.stop();
    throw err;
  }
  server.on('error', (err) => opts.log.error({ err }, 'HTTP listener error'));
  const port = (server.address() as AddressInfo).port;
  opts.log.info({ url: `http://${hostForUrl(opts.host)}:${port}` }, `HTTP listener ready (${paths.join(', ')})`);
  return {
    port,
    close: () => {
      ui?.stop();
      return close(server);
    },
  };
}

function route(req: http.IncomingMessage, res: http.ServerResponse, opts: HttpServerOptions, ui: StatusUi | undefined, notFound: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, 405, TEXT_TYPE, 'method not allowed: use GET\n');
    return;
  }
  const url = req.url ?? '/';
  const path = pathOf(url);
  if (path === '/healthz') {
    let body: string;
    let status: number;
    try {
      const health = opts.health.health();
      status = healthHttpStatus(health);
      body = JSON.stringify(health);
    } catch (err) {
      opts.log.error({ err }, 'health() failed');
      send(req, res, 500, TEXT_TYPE, 'internal error while collecting health\n');
      return;
    }
    send(req, res, status, JSON_TYPE, body);
  } else if (path === '/metrics') {
    let text: string;
    try {
      text = opts.metrics.registry.render();
    } catch (err) {
      opts.log.error({ err }, 'rendering metrics failed');
      send(req, res, 500, TEXT_TYPE, 'internal error while rendering metrics\n');
      return;
    }
    send(req, res, 200, opts.metrics.registry.contentType, text);
  } else if (!ui) {
    send(req, res, 404, TEXT_TYPE, notFound);
  } else {
    const failed = (err: unknown) => {
      opts.log.error({ err, path }, 'collecting the status page data failed');
      // Part of a streamed answer is out: all that is left is to cut it short.
      if (res.headersSent) res.destroy();
      else send(req, res, 500, TEXT_TYPE, 'internal error while collecting the status\n');
    };
    ui.answer(path, new URLSearchParams(url.slice(path.length + 1))).then((answer) => {
      if (!answer) send(req, res, 404, TEXT_TYPE, notFound);
      else if (typeof answer.body === 'string') send(req, res, 200, answer.type, answer.body, answer.headers);
      else return sendStream(req, res, answer.type, answer.body, answer.headers);
    }).catch(failed);
  }
}

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, responseHeaders(status, type, Buffer.byteLength(body), headers));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A large 200 answer, written part by part as it is built (chunked: its length is known only at
 * the end). The next part is built once the last one is handed to the socket, so a slow client
 * slows its own answer rather than filling the gateway's memory. Rejects when building fails.
 */
async function sendStream(req: http.IncomingMessage, res: http.ServerResponse, type: string, parts: AsyncIterable<string>, headers: Record<string, string>): Promise<void> {
  const iterator = parts[Symbol.asyncIterator]();
  let next = await iterator.next();
  res.writeHead(200, responseHeaders(200, type, undefined, headers));
  while (!next.done && req.method !== 'HEAD' && !res.destroyed) {
    if (!res.write(next.value)) await drained(res);
    next = await iterator.next();
  }
  if (!next.done) await iterator.return?.();
  res.end();
}

function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** length undefined: sent chunked. */
function responseHeaders(status: number, type: string, length: number | undefined, headers: Record<string, string>): http.OutgoingHttpHeaders {
  return {
    ...headers,
    'content-type': type,
    ...(length === undefined ? {} : { 'content-length': length }),
    // Health is a snapshot: a proxy or browser must never answer from a cache.
    'cache-control': 'no-store',
    ...(status === 405 ? { allow: ALLOW } : {}),
  };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      reject(new Error(`cannot listen on ${hostForUrl(host)}:${port} (http.listen): ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // A scraper's keep-alive socket would otherwise hold the shutdown for keepAliveTimeout.
    server.closeAllConnections();
  });
}

/** The URL a local client reaches the listener at; one on every address is asked over loopback. */
export function listenerUrl(host: string, port: number): string {
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${hostForUrl(local)}:${port}`;
}

/** IPv6 literals need brackets inside a URL. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
