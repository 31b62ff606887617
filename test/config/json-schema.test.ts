/**
 * config/floorgate.schema.json against an independent validator (ajv, draft-07, as
 * yaml-language-server reads it) and against the loader: it is what `floorgate schema` prints,
 * every shipped config validates, and a typo `floorgate check` refuses is refused by both.
 * The YAML is read for ajv as an editor reads it (the `yaml` package, merge keys applied,
 * `${VAR}` not expanded), not through floorgate's loader.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFloorgateConfigText } from '../../src/assembly.js';
import { runSchema } from '../../src/cli/schema.js';
import { CLI, ROOT } from '../helpers/gateway.js';
import { driverReadmes, readmeSampleConfigs } from '../helpers/readme-samples.js';
import { BASE, KNOWN_DIFFERENCES, REFUSED_BY_BOTH, SECRET_FILE, TAKEN_BY_BOTH, type Variant } from './json-schema-cases.js';

const SCHEMA_FILE = path.join(ROOT, 'config/floorgate.schema.json');
const REGENERATE = 'config/floorgate.schema.json is not current: regenerate it with `npm run schema` and commit it';

const checkedIn = fs.readFileSync(SCHEMA_FILE, 'utf8');
// strictRequired off: `not: {required: [password, password_file]}` names keys on purpose.
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(JSON.parse(checkedIn) as object);

function schemaErrors(text: string): string[] {
  return validate(parse(text, { merge: true })) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

function loaderProblems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const loaded = loadFloorgateConfigText(text, '/etc/floorgate/floorgate.yaml', env);
  return loaded.ok ? [] : loaded.problems.map((p) => `${p.path}: ${p.message}`);
}

const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-schema-'));
const secretFile = path.join(secretDir, 'mqtt.password');
fs.writeFileSync(secretFile, 'secret\n', { mode: 0o600 });
afterAll(() => fs.rmSync(secretDir, { recursive: true, force: true }));

function apply(variant: Variant): string {
  if (!BASE.includes(variant.from)) throw new Error(`the base config has no ${JSON.stringify(variant.from)}`);
  return BASE.replace(variant.from, variant.to.replace(SECRET_FILE, secretFile));
}

describe('config/floorgate.schema.json', () => {
  it('is what the schema command generates from the zod schemas now', () => {
    let generated = '';
    runSchema((text) => { generated += `${text}\n`; });
    expect(checkedIn, REGENERATE).toBe(generated);
  });

  it('is what `floorgate schema` prints, exit 0', () => {
    const run = spawnSync(process.execPath, [CLI, 'schema'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout, REGENERATE).toBe(checkedIn);
  });

  it('describes keys with the reference config\'s comments', () => {
    type Described = { properties: Record<string, { description?: string }> };
    const schema = JSON.parse(checkedIn) as { properties: { mqtt: Described }; definitions: Record<string, Described> };
    const example = fs.readFileSync(path.join(ROOT, 'config/floorgate.example.yaml'), 'utf8');
    // The comment at the end of the key's line.
    expect(example).toMatch(/ keepalive: 30s +# 0 turns MQTT keep-alive off\n/);
    expect(schema.properties.mqtt.properties.keepalive.description).toBe('0 turns MQTT keep-alive off');
    // ... continued on the next line, further in.
    expect(schema.definitions.serial.properties.pattern.description).toBe('named groups become tags; every matching line is one reading per tag');
    // A key the example leaves commented out.
    expect(schema.definitions.serial.properties.stale_after.description).toMatch(/^listen only: tags go bad when no line matched/);
    // The comment lines above a key.
    expect(schema.properties.mqtt.properties.password_file.description).toMatch(/^\.\.\.or from a file readable only by floorgate's user/);
  });

  it.each(['config/floorgate.example.yaml', 'config/demo.yaml'])('%s validates and names the schema for editors', (file) => {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./floorgate.schema.json');
    expect(schemaErrors(text)).toEqual([]);
  });

  it('every sample of the drivers\' READMEs validates', () => {
    const samples = [...driverReadmes().keys()].flatMap(readmeSampleConfigs);
    expect(samples.length).toBeGreaterThan(3);
    for (const { readme, text } of samples) expect(schemaErrors(text), readme).toEqual([]);
  });

  it('the base config of the cases below is valid to both', () => {
    expect(loaderProblems(BASE)).toEqual([]);
    expect(schemaErrors(BASE)).toEqual([]);
  });

  it.each(REFUSED_BY_BOTH)('refused by floorgate check and by the schema: $what', (variant) => {
    const text = apply(variant);
    expect(loaderProblems(text)).not.toEqual([]);
    expect(schemaErrors(text)).not.toEqual([]);
  });

  it.each(TAKEN_BY_BOTH)('taken by floorgate check and by the schema: $what', (variant) => {
    const text = apply(variant);
    expect(loaderProblems(text, variant.env)).toEqual([]);
    expect(schemaErrors(text)).toEqual([]);
  });

  // docs/reference.md §2 lists these: when one stops differing, move it to the tables above.
  it.each(KNOWN_DIFFERENCES)('known difference, the loader $loader: $what', (variant) => {
    const text = apply(variant);
    expect(loaderProblems(text).length > 0).toBe(variant.loader === 'refuses');
    expect(schemaErrors(text).length > 0).toBe(variant.loader === 'takes');
  });
});
