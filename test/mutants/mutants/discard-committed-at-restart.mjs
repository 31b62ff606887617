/** Opening the buffer loses its newest three committed messages. */
export default {
  name: 'discard-committed-at-restart',
  breaks: '§4.4 crash safety: a restart loses committed readings',
  edits: [{
    file: 'src/buffer/open-store.ts',
    find: "    const maxSeq = (db.prepare('SELECT max(seq) FROM messages')",
    replace: "    db.prepare('DELETE FROM messages WHERE seq > (SELECT max(seq) FROM messages) - 3').run();\n"
      + "    const maxSeq = (db.prepare('SELECT max(seq) FROM messages')",
  }],
  catchers: [
    { file: 'test/guarantees/restart.test.ts' },
    { file: 'test/buffer/commit.test.ts', test: 'close() commits what is queued' },
    { file: 'test/faults/kill9.test.ts', test: 'fast:', dist: true },
  ],
};
