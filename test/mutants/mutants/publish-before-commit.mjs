/**
 * The commit listeners are told inside the transaction, before COMMIT: the forwarder reads the
 * rows its own connection can already see and publishes them. A commit that then fails (disk
 * full) leaves upstream holding messages the buffer never had, under seqs it will hand out again.
 */
export default {
  name: 'publish-before-commit',
  breaks: '§4.1 write-ahead: a message is published before the buffer committed it',
  edits: [{
    file: 'src/buffer/sqlite-buffer.ts',
    find: '    if (t.deleteAcked() && (!this.ageDue || t.expire())) t.insertPending();\n',
    replace: '    if (t.deleteAcked() && (!this.ageDue || t.expire())) t.insertPending();\n'
      + '    for (const listener of this.listeners) listener(t.draft.lastSeq);\n',
  }],
  catchers: [{ file: 'test/guarantees/write-ahead.test.ts' }],
};
