/**
 * The parts put together: the protocols floorgate speaks (drivers/index.ts) and the limits the
 * config is checked against, given to the config loader as data. The CLI and the tests start
 * here; nothing below them imports this file, so the core names no protocol.
 */
import { drivers } from '../drivers/index.js';
import { MIN_BUFFER_BYTES } from './buffer/budget.js';
import { loadConfig, loadConfigText, type LoadContext, type LoadResult } from './config/load.js';
import { MAX_MESSAGE_BYTES } from './forward/message-size.js';
import { MIN_MESSAGE_BYTES } from './message/encode.js';

export { drivers };

export const loadContext: LoadContext = {
  drivers,
  limits: { minBufferBytes: MIN_BUFFER_BYTES, minMessageBytes: MIN_MESSAGE_BYTES, maxMessageBytes: MAX_MESSAGE_BYTES },
};

/** A config file, checked against every registered driver. */
export function loadFloorgateConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  return loadConfig(file, loadContext, env);
}

/** Config text (tests, `file` only names it in problems and anchors relative paths). */
export function loadFloorgateConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  return loadConfigText(text, file, loadContext, env);
}
