/**
 * Config file → validated, normalised, deep-frozen FloorgateConfig, or every problem found, each
 * at its FILE:LINE:COL. Never throws for bad input.
 *
 * Steps: YAML with positions and `${VAR}` expansion (yaml-source.ts) → password_file read into
 * password (secrets.ts) → the core schema (schema.ts) → each device through its driver's schema,
 * handed in by the caller (the registry) → rules across devices (unique names, shared serial
 * lines) → paths resolved → frozen. Config is the ground floor: what it checks against from the
 * parts it configures (driver schemas, the buffer's smallest size) comes in as a LoadContext.
 *
 * Relative paths: gateway.data_dir, mqtt.tls files and password_file resolve against the config
 * file's directory, so a config and its files can move together; a device's `*_dir` keys (the
 * OPC UA pki_dir) resolve against gateway.data_dir, where floorgate keeps its state.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import type { ZodType } from 'zod';
import type { DeviceConfig, FloorgateConfig } from './types.js';
import { ROOT_PATH, formatPath, type ConfigProblem, type KeyPath } from './problem.js';
import type { LineCounter } from 'yaml';
import { lineCounterOf, readYaml, SourceMap, type SourceProblem } from './yaml-source.js';
import { readYamlFast, type FastRead } from './fast-yaml.js';
import { locatePaths } from './locate.js';
import { readPasswordFiles } from './secrets.js';
import { coreSchema, type ConfigLimits, type CoreConfig } from './schema.js';
import { IssueReader } from './issues.js';
import { checkSharedLines } from './shared-lines.js';
import { didYouMean, repr } from './words.js';

export { formatProblem, type ConfigProblem } from './problem.js';

export type { ConfigLimits } from './schema.js';

/** The device schemas by driver name: what the loader needs of the driver registry. */
export interface DeviceSchemas {
  names(): string[];
  schemaOf(driver: string): ZodType<DeviceConfig> | undefined;
  /** What the schema gives for a common device, quicker; undefined leaves it to the schema. */
  parseQuickly?(driver: string, raw: Readonly<Record<string, unknown>>): DeviceConfig | undefined;
}

export interface LoadContext {
  readonly drivers: DeviceSchemas;
  readonly limits: ConfigLimits;
}

export type LoadResult =
  | { readonly ok: true; readonly config: FloorgateConfig }
  /** denied: the file could not be read for lack of permission, which is not a configuration error. */
  | { readonly ok: false; readonly problems: ConfigProblem[]; readonly denied?: true };

export function loadConfig(file: string, context: LoadContext, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const denied = code === 'EACCES' || code === 'EPERM';
    const reason = code === 'ENOENT' ? 'no such file'
      : denied ? 'permission denied (it holds secrets: root and group floorgate may read it)' : (err as Error).message;
    const problems = [{ file, line: 1, col: 1, path: ROOT_PATH, message: `cannot read the config file: ${reason}` }];
    return denied ? { ok: false, problems, denied } : { ok: false, problems };
  }
  return loadConfigText(text, file, context, env);
}

/** `file` names the text in problems and anchors relative paths; it is not read. */
export function loadConfigText(text: string, file: string, context: LoadContext, env: NodeJS.ProcessEnv = process.env): LoadResult {
  // Most configs are valid: they are read without positions, which only a problem needs.
  const fast = readYamlFast(text, env);
  const found: SourceProblem[] = fast.ok || fast.problem === undefined ? [] : [fast.problem];
  if (fast.ok) {
    const config = validate(fast.value, new SourceMap(), new Set(), path.resolve(file), context, found);
    if (config !== undefined && found.length === 0) return { ok: true, config: deepFreeze(config) };
  }
  if (positionalReadFits(text)) return loadWithPositions(text, file, context, env);
  return fast.ok ? loadLocatedByPath(text, file, context, env, found) : { ok: false, problems: [tooLargeToRead(text, file, fast)] };
}

/**
 * The positional reader (yaml-source.ts) holds ~90 bytes of heap per byte of text: a 7 MB config
 * would need more than the 512 MB heap of the shebang's flags, and run out of memory where it
 * should report a problem.
 */
const POSITIONAL_HEAP_PER_BYTE = 128;

function positionalReadFits(text: string): boolean {
  const heap = v8.getHeapStatistics();
  return text.length * POSITIONAL_HEAP_PER_BYTE <= heap.heap_size_limit - heap.used_heap_size;
}

/**
 * A config too large to read again with positions whose YAML js-yaml read: validated again, each
 * problem placed by its key path (locate.ts), where the slow read would place it. Again on a
 * fresh read: validation changed the first (password_file read into password).
 */
function loadLocatedByPath(text: string, file: string, context: LoadContext, env: NodeJS.ProcessEnv, found: readonly SourceProblem[]): LoadResult {
  const map = locatePaths(text, found.map((p) => p.path));
  const again = readYamlFast(text, env);
  const problems: SourceProblem[] = [];
  if (again.ok) validate(again.value, map, new Set(), path.resolve(file), context, problems);
  return { ok: false, problems: located(problems.length > 0 ? problems : found, lineCounterOf(text), file) };
}

/**
 * A config too large to read again with positions that js-yaml did not read either: its syntax
 * error, which js-yaml places itself, or what else stopped it (an unset environment variable).
 */
function tooLargeToRead(text: string, file: string, fast: FastRead & { ok: false }): ConfigProblem {
  const heap = v8.getHeapStatistics();
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const most = (heap.heap_size_limit - heap.used_heap_size) / POSITIONAL_HEAP_PER_BYTE;
  const { line, col } = lineCounterOf(text).linePos(fast.problem?.offset ?? 0);
  const message = `the config is not valid, and at ${mb(text.length)} it is too large to show where each problem is ` +
    `(at most ${mb(most)} with this heap): ${fast.problem ? fast.problem.message : fast.why}`;
  return { file, line, col, path: ROOT_PATH, message };
}

/** The slow read: every problem found, each at its place in the text. */
function loadWithPositions(text: string, file: string, context: LoadContext, env: NodeJS.ProcessEnv): LoadResult {
  const source = readYaml(text, env);
  const problems = [...source.problems];
  let config: FloorgateConfig | undefined;
  if (source.value === undefined) {
    if (problems.length === 0) problems.push({ offset: 0, path: [], message: 'the file is empty: it needs gateway, mqtt and devices' });
  } else {
    config = validate(source.value, source.map, source.unexpanded, path.resolve(file), context, problems);
  }
  if (config === undefined || problems.length > 0) {
    return { ok: false, problems: located(problems, source.lineCounter, file) };
  }
  return { ok: true, config: deepFreeze(config) };
}

function validate(
  parsed: unknown, map: SourceMap, unexpanded: ReadonlySet<string>, absFile: string, context: LoadContext, problems: SourceProblem[],
): FloorgateConfig | undefined {
  const baseDir = path.dirname(absFile);
  const value = withoutExtensions(parsed);
  readPasswordFiles(value, map, baseDir, problems);
  const reader = new IssueReader(map, unexpanded);
  const core = reader.parse(coreSchema(context.limits), value, [], problems);

  const raw = value as { devices?: unknown };
  const rawDevices = Array.isArray(raw.devices) ? (raw.devices as unknown[]) : [];
  const devices = rawDevices.map((device, i) => validateDevice(device, i, context.drivers, reader, map, problems));
  problems.push(...checkUniqueNames(rawDevices, map), ...checkSharedLines(devices, map));

  if (core === undefined || problems.length > 0) return undefined;
  return normalise(core, devices as DeviceConfig[], absFile);
}

/**
 * Top-level keys starting with `x-` are the operator's own (templates for merge keys, notes), as
 * in docker-compose files: not configuration, so not checked. Elsewhere they are unknown keys.
 */
function withoutExtensions(value: unknown): unknown {
  if (!isMapping(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith('x-')));
}

function validateDevice(
  raw: unknown, i: number, drivers: DeviceSchemas, reader: IssueReader, map: SourceMap, problems: SourceProblem[],
): DeviceConfig | undefined {
  // Not a mapping: the core schema has said so already.
  if (!isMapping(raw)) return undefined;
  const driverPath = ['devices', i, 'driver'];
  const name = raw.driver;
  const schema = typeof name === 'string' ? drivers.schemaOf(name) : undefined;
  if (schema === undefined || typeof name !== 'string') {
    const known = drivers.names();
    const message =
      name === undefined
        ? `missing required key "driver" (one of ${known.join(', ')})`
        : `unknown driver ${repr(name)}; known drivers: ${known.join(', ')}${typeof name === 'string' ? didYouMean(name, known) : ''}`;
    problems.push({ offset: map.offsetOf(driverPath, 'value'), path: driverPath, message });
    return undefined;
  }
  return drivers.parseQuickly?.(name, raw) ?? reader.parse(schema, raw, ['devices', i], problems);
}

/**
 * Device names are unique (they are topic levels and metric labels), `status` is taken by the
 * status topic, and tag names are unique within their device. Checked on the raw values so
 * these are reported even when a device has other problems.
 */
function checkUniqueNames(devices: readonly unknown[], map: SourceMap): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const report = (namePath: KeyPath, message: string) =>
    problems.push({ offset: map.offsetOf(namePath, 'value'), path: namePath, message });
  const checkList = (items: readonly unknown[], at: KeyPath, what: string) => {
    // By index: a path for each of 50,000 tags would be garbage unless one is reported.
    const first = new Map<string, number>();
    const namePath = (i: number) => [...at, i, 'name'];
    items.forEach((item, i) => {
      if (!isMapping(item) || typeof item.name !== 'string') return;
      if (what === 'device' && item.name === 'status') {
        report(namePath(i), 'the device name "status" is reserved (the status topic uses it)');
      }
      const earlier = first.get(item.name);
      if (earlier === undefined) first.set(item.name, i);
      else report(namePath(i), `duplicate ${what} name "${item.name}" (first at ${formatPath(namePath(earlier))})`);
    });
  };
  checkList(devices, ['devices'], 'device');
  devices.forEach((device, i) => {
    if (isMapping(device) && Array.isArray(device.tags)) checkList(device.tags, ['devices', i, 'tags'], 'tag');
  });
  return problems;
}

function normalise(core: CoreConfig, devices: readonly DeviceConfig[], absFile: string): FloorgateConfig {
  const baseDir = path.dirname(absFile);
  const dataDir = path.resolve(baseDir, core.gateway.data_dir);
  const tls = core.mqtt.tls;
  const resolveFile = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  return {
    source: absFile,
    gateway: { ...core.gateway, data_dir: dataDir },
    log: core.log,
    mqtt: {
      ...core.mqtt,
      ...(tls && { tls: { ...tls, ca: resolveFile(tls.ca), cert: resolveFile(tls.cert), key: resolveFile(tls.key) } }),
    },
    buffer: core.buffer,
    http: core.http,
    clock: core.clock,
    devices: devices.map((device) => resolveDirs(device, dataDir)),
  };
}

function resolveDirs(device: DeviceConfig, dataDir: string): DeviceConfig {
  const out: Record<string, unknown> = { ...device };
  for (const [key, value] of Object.entries(device)) {
    if (key.endsWith('_dir') && typeof value === 'string') out[key] = path.resolve(dataDir, value);
  }
  return out as unknown as DeviceConfig;
}

function located(problems: readonly SourceProblem[], lines: LineCounter, file: string): ConfigProblem[] {
  return [...problems]
    .sort((a, b) => a.offset - b.offset)
    .map((p) => {
      const { line, col } = lines.linePos(p.offset);
      return { file, line: Math.max(line, 1), col: Math.max(col, 1), path: formatPath(p.path), message: p.message };
    });
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Freezes the config for good, each string in it a copy of its own: the YAML readers' strings are
 * slices of the whole text, and one kept tag name would keep all of it (0.7 MB at 10,000 tags).
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    const fields = value as Record<string, unknown>;
    for (const key in fields) if (typeof fields[key] === 'string') fields[key] = ownCopy(fields[key] as string);
    // Frozen before its children: an object met again (a YAML alias) is not walked twice.
    Object.freeze(value);
    for (const key in fields) deepFreeze(fields[key]);
  }
  return value;
}

/** V8 copies slices shorter than 13 characters anyway; a JSON round trip makes a flat string. */
const ownCopy = (s: string): string => (s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string));
