/**
 * At open, the seq floor is ignored: a buffer file that is not the one written last (moved
 * aside as corrupt, deleted, restored from a copy) starts again from its own last_seq, and new
 * readings go out under seqs a consumer already holds for other readings.
 */
export default {
  name: 'seq-restarted-after-corrupt-file',
  breaks: '§4.9 seq never goes back, not after a corrupt, deleted or restored buffer file',
  edits: [{
    file: 'src/buffer/open-store.ts',
    find: 'lastSeq: writtenLast ? fileLastSeq : Math.max(fileLastSeq, floor.reserved) }',
    replace: 'lastSeq: fileLastSeq }',
  }],
  catchers: [
    { file: 'test/buffer/seq-floor.test.ts', test: 'corrupt file moved aside' },
    { file: 'test/e2e/seq-continuity.test.ts', dist: true },
  ],
};
