/** The seq floor's committed mark is written only at a clean stop, never while seq moves. */
export default {
  name: 'committed-mark-only-at-stop',
  breaks: '§4.9 seq never reused: an old copy of the buffer restored after a crash goes on above the floor',
  edits: [{
    file: 'src/buffer/seq-floor.ts',
    find: '    if (lastSeq <= this.state.committed || (!now && this.mono() - this.markedAt < MARK_INTERVAL_MS)) return;\n',
    replace: '    if (lastSeq <= this.state.committed || !now) return;\n',
  }],
  catchers: [{ file: 'test/buffer/seq-floor.test.ts', test: 'an old copy restored after a crash' }],
};
