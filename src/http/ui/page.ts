/**
 * The status page served at GET /: one self-contained HTML document (inline CSS and JS, no
 * build step, nothing fetched from anywhere but this listener). It polls api/status once a
 * second while visible and redraws in place. It asks only for the tags it shows (the filter
 * and one page of PAGE_ROWS, applied by the gateway) and, once it holds a window, only for the
 * rows that changed since the version it holds (see window.ts).
 *
 * Everything from the gateway is device data and goes into the DOM through textContent and
 * title only, never as markup; the Content-Security-Policy (inline code allowed by hash alone,
 * connections to this origin alone) backs that up.
 */
import { createHash } from 'node:crypto';

const STYLE = String.raw`
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --bad-bg: #ffebe9; --muted: #59636e; --line: #d1d9e0;
  --bg: #fff; --fg: #1f2328; --card: #f6f8fa; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --ok: #3fb950; --warn: #d29922; --bad: #ff7b72; --bad-bg: #3c1618; --muted: #9198a1; --line: #3d444d;
    --bg: #0d1117; --fg: #e6edf3; --card: #151b23; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .8rem;
  padding: .55rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.05rem; margin: 0; }
h2 { font-size: .95rem; margin: 0 0 .45rem; }
#filter { flex: 1 1 14rem; max-width: 26rem; font: inherit; padding: .35rem .55rem; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; }
main { display: grid; gap: 1.1rem; padding: .9rem 1rem 2rem; }
.cards { display: grid; gap: .9rem; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7rem .9rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .9rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: break-word; }
/* Free text from devices may break anywhere, so a long value never squeezes the name columns. */
td.txt { overflow-wrap: anywhere; }
th { color: var(--muted); font-size: .85rem; font-weight: 600; }
td.num, td.v { font-variant-numeric: tabular-nums; }
td.num, td.name { white-space: nowrap; }
.ok { color: var(--ok); }
.warn { color: var(--warn); }
.bad { color: var(--bad); font-weight: 600; }
.muted { color: var(--muted); }
tr.down { background: var(--bad-bg); }
.badge { padding: .05rem .55rem; border: 1px solid currentColor; border-radius: 999px; font-weight: 600; }
#pager button { font: inherit; padding: .2rem .7rem; }
progress { width: 100%; height: .7rem; margin-top: .3rem; }
body.stale main { opacity: .5; }
@media (max-width: 640px) {
  header { padding: .5rem .7rem; }
  main { padding: .7rem .7rem 2rem; }
  thead { display: none; }
  table, tbody, td { display: block; }
  /* One compact block per row: what matters on the left, its state on the right. */
  tr { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); padding: .35rem 0; border-bottom: 1px solid var(--line); }
  td { border: 0; padding: .05rem .4rem; }
  td:nth-child(even), #tags td:nth-child(1) { text-align: right; }
  td.num, td.name { white-space: normal; }
  #devices td:nth-child(1) { font-weight: 600; }
  #devices td:nth-child(n+3)::before { content: attr(data-label) " "; color: var(--muted); }
  #devices td:nth-child(5) { grid-column: 1 / -1; text-align: left; }
  #devices td:nth-child(5):empty { display: none; }
  #tags td:nth-child(2) { order: -1; text-align: left; }
  #tags td:nth-child(1), #tags td:nth-child(5) { color: var(--muted); }
  #tags td:nth-child(2), #tags td:nth-child(3) { font-weight: 600; }
}
`;

const SCRIPT = String.raw`
'use strict';
var POLL_MS = 1000, STALE_MS = 3000, TIMEOUT_MS = 5000;
// A page of rows: what a screen shows, and all the gateway sends; the filter and the pager move it.
var PAGE_ROWS = 100;
var $ = function (id) { return document.getElementById(id); };
var snap = null, gotAt = 0, failure = '', busy = false, again = false, timer = 0, offset = 0;
// The window held: its rows by key in order, the request that made it, and the version it is at.
var held = null;
var filterBox = $('filter');
var numbers = new Intl.NumberFormat();
var rowsOf = new Map();

function serverNow() { return snap.now + (performance.now() - gotAt); }
function count(n) { return numbers.format(n); }
function bytes(b) {
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i === 0 ? b : b.toFixed(b < 10 ? 2 : 1)) + ' ' + units[i];
}
function duration(ms) {
  var s = Math.max(0, ms) / 1000;
  if (s < 10) return s.toFixed(1) + ' s';
  if (s < 60) return Math.floor(s) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h';
}
function percent(f) { return (f * 100).toFixed(f < 0.1 ? 1 : 0) + ' %'; }
function millis(v) { return (v < 1 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v))) + ' ms'; }
function age(ts) { return ts == null ? 'never' : duration(serverNow() - ts) + ' ago'; }
function pad(n, w) { return String(n).padStart(w || 2, '0'); }
function clock(ts) {
  if (ts == null) return '';
  var d = new Date(ts), now = new Date(serverNow());
  var time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
  return d.toDateString() === now.toDateString() ? time : d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
}
function iso(ts) { return ts == null ? '' : new Date(ts).toISOString(); }
function value(v) {
  if (v === null || v === undefined) return '\u2014';
  // float32 carries about 7 significant digits; the full value is in the cell's title.
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)));
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
function put(el, text, cls, title) {
  if (el.textContent !== text) el.textContent = text;
  if (el.className !== (cls || '')) el.className = cls || '';
  if (el.title !== (title || '')) el.title = title || '';
}

// Redraws a table body from [{key, cls, cells: [[text, cls, title], ...]}], keeping each row's
// element so only what changed touches the DOM.
function sync(table, rows) {
  var tbody = table.tBodies[0], known = rowsOf.get(table);
  if (!known) { known = new Map(); rowsOf.set(table, known); }
  var labels = Array.from(table.tHead.rows[0].cells, function (c) { return c.textContent; });
  var seen = new Set(), prev = null;
  rows.forEach(function (r) {
    var tr = known.get(r.key);
    if (!tr) {
      tr = document.createElement('tr');
      labels.forEach(function (label) { var td = document.createElement('td'); td.dataset.label = label; tr.appendChild(td); });
      known.set(r.key, tr);
    }
    seen.add(r.key);
    if (tr.className !== r.cls) tr.className = r.cls;
    r.cells.forEach(function (c, i) { put(tr.cells[i], c[0], c[1], c[2]); });
    var want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  });
  known.forEach(function (tr, key) { if (!seen.has(key)) { tr.remove(); known.delete(key); } });
}

function render() {
  var stale = snap === null || performance.now() - gotAt > STALE_MS;
  document.body.classList.toggle('stale', stale && snap !== null);
  put($('conn'), snap === null ? (failure ? 'no answer: ' + failure : 'connecting\u2026')
    : stale ? 'no answer for ' + duration(performance.now() - gotAt) + (failure ? ' (' + failure + ')' : '') + ': values are stale'
    : 'live', stale && (snap !== null || failure) ? 'bad' : 'muted');
  if (snap === null) return;
  var h = snap, m = h.mqtt, b = h.buffer, p = h.process;
  put($('status'), h.status, 'badge ' + (h.status === 'ok' ? 'ok' : h.status === 'degraded' ? 'warn' : 'bad'));

  put($('mqtt-state'), m.connected ? 'connected' : 'disconnected', m.connected ? 'ok' : 'bad');
  put($('mqtt-since'), m.since == null ? '\u2014' : age(m.since), '', iso(m.since));
  put($('mqtt-error'), m.last_error || '\u2014', m.last_error ? 'warn' : '');

  put($('buf-depth'), count(b.messages) + ' messages' + (b.writable ? '' : ' \u2014 NOT WRITABLE: readings are being lost'), b.writable ? '' : 'bad');
  put($('buf-bytes'), bytes(b.bytes), '', count(b.bytes) + ' bytes');
  put($('buf-oldest'), b.oldest_ts == null ? 'empty' : age(b.oldest_ts), '', iso(b.oldest_ts));
  var drops = Object.keys(b.dropped).map(function (r) { return r + ' ' + count(b.dropped[r]); });
  var dropped = Object.keys(b.dropped).some(function (r) { return b.dropped[r] > 0; });
  put($('buf-dropped'), drops.length ? drops.join(' \u00b7 ') : 'none', dropped ? 'warn' : '', 'readings dropped since the buffer was created');
  var d = b.drain, bar = $('drain-bar');
  if (d.eta_s != null) {
    put($('drain'), Math.floor(d.progress * 100) + '% of ' + count(d.backlog_peak) + ' \u00b7 ' + count(Math.round(-d.rate_per_s)) + ' msg/s \u00b7 ETA ' + duration(d.eta_s * 1000), 'warn');
    bar.hidden = false;
    bar.value = d.progress;
  } else {
    // The estimate needs two seconds of depth samples after every uplink change.
    put($('drain'), !m.connected ? 'held until the uplink returns' + (d.rate_per_s > 0 ? ' (+' + count(d.rate_per_s) + ' msg/s)' : '')
      : d.rate_per_s === null ? 'measuring…' : 'no replay running', m.connected ? 'muted' : 'warn');
    bar.hidden = true;
  }

  put($('proc-rss'), bytes(p.rss_bytes));
  put($('proc-lag'), millis(p.event_loop_lag_ms), p.event_loop_lag_ms > 100 ? 'warn' : '', 'p99 over the last 10\u201320 s');
  put($('proc-commit'), p.buffer_write_ms == null ? '\u2014' : millis(p.buffer_write_ms));
  put($('proc-uptime'), duration(p.uptime_s * 1000));
  // reference §4.12; absent from a daemon older than the clock check.
  var c = h.clock;
  put($('proc-clock'), !c ? '\u2014' : c.trusted ? 'trusted' : 'NOT TRUSTED: ' + c.reason + ' (readings flagged)', c && !c.trusted ? 'warn' : '',
    c && c.last_step ? c.steps + ' step(s), the last by ' + c.last_step.by_ms + ' ms' : '');

  var devices = Object.keys(h.devices).map(function (name) {
    var dev = h.devices[name];
    return { key: name, cls: dev.up ? 'up' : 'down', cells: [
      [name, 'name'], [dev.up ? 'up' : 'down', dev.up ? 'ok' : 'bad'], [age(dev.last_ok_ts), 'num', iso(dev.last_ok_ts)],
      [dev.last_poll_ms == null ? '\u2014' : millis(dev.last_poll_ms), 'num'], [dev.error || '', 'bad txt'],
    ] };
  });
  var tags = held ? held.order.map(function (key) { return tagRow(key, held.rows.get(key)); }) : [];
  sync($('devices'), devices);
  // Serial lines shared by devices: what the configured polls need of each, beside what it measured.
  var lines = h.lines || {}, ports = Object.keys(lines);
  $('lines').hidden = ports.length === 0;
  sync($('line-table'), ports.map(function (port) {
    var l = lines[port], over = l.planned_load > 1;
    return { key: port, cls: '', cells: [
      [port, 'name'],
      [percent(l.planned_load), over ? 'bad num' : 'num', over ? 'the polls need more of the line than there is: they overrun' : ''],
      [l.busy_ratio == null ? '\u2014' : percent(l.busy_ratio), l.busy_ratio > 0.9 ? 'warn num' : 'num', 'over the last 5 s'],
    ] };
  }));
  sync($('tags'), tags);
  if (!held) return;
  var w = held.window, last = Math.min(w.matched, w.offset + tags.length);
  put($('tag-count'), '(' + (w.matched === w.total ? count(w.total) : count(w.matched) + ' of ' + count(w.total)) + ')');
  $('pager').hidden = w.matched <= PAGE_ROWS && w.offset === 0;
  put($('tag-range'), tags.length ? count(w.offset + 1) + '\u2013' + count(last) + ' of ' + count(w.matched) : 'none of ' + count(w.matched));
  $('prev').disabled = w.offset === 0;
  $('next').disabled = last >= w.matched;
}

// A row of the tags table; the age is how long the value has stood, and a tag not read yet says so.
function tagRow(key, r) {
  if (r.quality === undefined) {
    return { key: key, cls: 'q-none', cells: [[r.device, 'name'], [r.tag, 'name'], ['\u2014', 'v'], ['not read yet', 'muted'], ['', 'num'], ['', 'num']] };
  }
  var full = r.value === null ? '' : typeof r.value === 'object' ? JSON.stringify(r.value) : String(r.value);
  return { key: key, cls: 'q-' + r.quality, cells: [
    [r.device, 'name'], [r.tag, 'name'], r.quality === 'bad' ? [r.error || '\u2014', 'bad txt'] : [value(r.value), 'v txt', full],
    [r.quality, r.quality === 'good' ? 'ok' : r.quality === 'bad' ? 'bad' : 'warn', r.error || ''],
    [clock(r.changed_ts), 'num', iso(r.changed_ts)], [duration(serverNow() - r.changed_ts), 'num'],
  ] };
}

// What to ask for: the window the page shows; since only when it already holds that same window.
function windowParams() {
  return 'filter=' + encodeURIComponent(filterBox.value) + '&offset=' + offset + '&limit=' + PAGE_ROWS;
}

function take(params, body) {
  var w = body.tags, rows = held && !w.full ? held.rows : new Map();
  w.rows.forEach(function (r) { rows.set(JSON.stringify([r.device, r.tag]), r); });
  held = { params: params, version: w.version, window: w, rows: rows,
    order: w.full ? w.rows.map(function (r) { return JSON.stringify([r.device, r.tag]); }) : held.order };
  // A reload may leave the page past the end of the list.
  if (w.rows.length === 0 && w.offset > 0 && w.offset >= w.matched) {
    offset = Math.max(0, Math.floor((w.matched - 1) / PAGE_ROWS) * PAGE_ROWS);
    again = true;
  }
}

function tick() {
  if (busy) { again = true; return; }
  busy = true;
  again = false;
  clearTimeout(timer);
  var params = windowParams();
  var since = held && held.params === params ? '&since=' + held.version : '';
  var ctl = new AbortController(), limit = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
  fetch('api/status?' + params + since, { cache: 'no-store', signal: ctl.signal })
    .then(function (res) { if (!res.ok) throw new Error('HTTP ' + res.status); return res.json(); })
    .then(function (body) {
      snap = body; gotAt = performance.now(); failure = '';
      // The filter or the page moved while this was on its way: ask again at once.
      if (params === windowParams()) take(params, body); else again = true;
    }, function (err) { failure = err.name === 'AbortError' ? 'timed out' : err.message; })
    .then(function () {
      clearTimeout(limit);
      busy = false;
      render();
      // A hidden tab costs the gateway nothing; visibilitychange resumes.
      if (again) tick();
      else if (!document.hidden) timer = setTimeout(tick, POLL_MS);
    });
}

function moveTo(next) { offset = Math.max(0, next); tick(); }

try { filterBox.value = decodeURIComponent(location.hash.slice(1)); } catch (e) { filterBox.value = ''; }
filterBox.addEventListener('input', function () {
  history.replaceState(null, '', filterBox.value ? '#' + encodeURIComponent(filterBox.value) : location.pathname);
  moveTo(0);
});
$('prev').addEventListener('click', function () { moveTo(offset - PAGE_ROWS); });
$('next').addEventListener('click', function () { moveTo(offset + PAGE_ROWS); });
document.addEventListener('visibilitychange', function () { if (!document.hidden) tick(); });
tick();
`;

const BODY = `
<header>
  <h1>floorgate</h1>
  <span id="status" class="badge">\u2026</span>
  <span id="conn" class="muted">connecting\u2026</span>
  <input id="filter" type="search" placeholder="filter: device, tag or device/tag" aria-label="filter by device or tag name" autocomplete="off" spellcheck="false">
</header>
<main>
  <noscript><p class="bad">This page needs JavaScript. The same data is at <a href="api/status">api/status</a>.</p></noscript>
  <section class="cards">
    <div class="card" id="uplink"><h2>Uplink (MQTT)</h2><dl>
      <dt>state</dt><dd id="mqtt-state"></dd>
      <dt>since</dt><dd id="mqtt-since"></dd>
      <dt>last error</dt><dd id="mqtt-error"></dd>
    </dl></div>
    <div class="card" id="buffer"><h2>Buffer</h2><dl>
      <dt>depth</dt><dd id="buf-depth"></dd>
      <dt>on disk</dt><dd id="buf-bytes"></dd>
      <dt>oldest</dt><dd id="buf-oldest"></dd>
      <dt>dropped</dt><dd id="buf-dropped"></dd>
      <dt>replay</dt><dd><span id="drain"></span><progress id="drain-bar" max="1" hidden></progress></dd>
    </dl></div>
    <div class="card" id="process"><h2>Process</h2><dl>
      <dt>memory (RSS)</dt><dd id="proc-rss"></dd>
      <dt>event-loop lag</dt><dd id="proc-lag"></dd>
      <dt>last commit</dt><dd id="proc-commit"></dd>
      <dt>uptime</dt><dd id="proc-uptime"></dd>
      <dt>clock</dt><dd id="proc-clock"></dd>
    </dl></div>
  </section>
  <section><h2>Devices</h2>
    <table id="devices"><thead><tr><th>device</th><th>state</th><th>last good poll</th><th>latency</th><th>error</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="lines" hidden><h2>Serial lines</h2>
    <table id="line-table"><thead><tr><th>port</th><th>load planned</th><th>busy (measured)</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Tags <span id="tag-count" class="muted"></span></h2>
    <table id="tags"><thead><tr><th>device</th><th>tag</th><th>value</th><th>quality</th><th>changed</th><th>unchanged for</th></tr></thead><tbody></tbody></table>
    <p id="pager" hidden><button id="prev" type="button">\u2039 previous</button> <span id="tag-range"></span> <button id="next" type="button">next \u203a</button></p>
  </section>
</main>
`;

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>floorgate status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own inline code runs, and it may talk to this listener only. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
