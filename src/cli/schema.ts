/**
 * `floorgate schema`: the JSON Schema of the config file, for editors (reference §1). Built
 * from every registered driver's schema; the descriptions are the comments of the reference
 * config that ships with floorgate (config/floorgate.example.yaml).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadContext } from '../assembly.js';
import { exampleComments } from '../config/example-comments.js';
import { configJsonSchema } from '../config/json-schema.js';
import { PACKAGE_ROOT } from '../package-info.js';
import { EXIT } from './exit.js';

const EXAMPLE_CONFIG = path.join(PACKAGE_ROOT, 'config', 'floorgate.example.yaml');

export function runSchema(out: (text: string) => void): number {
  const descriptions = exampleComments(fs.readFileSync(EXAMPLE_CONFIG, 'utf8'));
  out(JSON.stringify(configJsonSchema(loadContext, descriptions), null, 2));
  return EXIT.ok;
}
