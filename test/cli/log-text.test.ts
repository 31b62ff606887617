/** The demo's log as text: what the real logger writes, turned into one line of words each. */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { logAsText } from '../../src/cli/log-text.js';

describe('logAsText', () => {
  it('turns each JSON line of the logger into `floorgate: LEVEL: [device: ]message`', async () => {
    const err = new PassThrough();
    const lines: string[] = [];
    err.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    const log = createLogger('warn', logAsText(err));
    log.info('not shown at warn');
    log.warn({ reason: 'not synchronised' }, 'the wall clock is not trusted');
    log.child({ device: 'press-1' }).error('connection refused');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines).toEqual(['floorgate: warning: the wall clock is not trusted', 'floorgate: error: press-1: connection refused']);
  });
});
