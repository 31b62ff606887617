/**
 * At open, last_seq is taken from the rows still stored: once the newest messages were
 * acknowledged and deleted, their seqs are handed out again, for other readings.
 */
export default {
  name: 'reuse-seqs-after-restart',
  breaks: '§4.9 a seq is never reused: last_seq restored lower than the last seq assigned',
  edits: [{
    file: 'src/buffer/open-store.ts',
    find: '      lastSeq: stream.lastSeq,\n',
    replace: '      lastSeq: maxSeq,\n',
  }],
  catchers: [
    { file: 'test/guarantees/restart.test.ts' },
    { file: 'test/buffer/model.test.ts', test: 'never reuses a seq' },
    { file: 'test/faults/kill9.test.ts', test: 'fast:', dist: true },
  ],
};
