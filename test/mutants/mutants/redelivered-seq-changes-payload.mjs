/**
 * Opening the buffer renumbers the stored backlog from 1: a message delivered before the restart
 * but not yet acknowledged is delivered again under another seq, and seqs already delivered
 * come again with other readings.
 */
export default {
  name: 'redelivered-seq-changes-payload',
  breaks: '§4.2/§4.9 at-least-once: a seq delivered again carries a different payload',
  edits: [{
    file: 'src/buffer/open-store.ts',
    find: "    const maxSeq = (db.prepare('SELECT max(seq) FROM messages')",
    replace: "    db.prepare('UPDATE messages SET seq = seq - (SELECT min(seq) FROM messages) + 1').run();\n"
      + "    const maxSeq = (db.prepare('SELECT max(seq) FROM messages')",
  }],
  catchers: [
    { file: 'test/guarantees/restart.test.ts' },
    { file: 'test/faults/kill9.test.ts', test: 'fast:', dist: true },
  ],
};
