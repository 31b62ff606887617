/** Deleting acknowledged messages counts them as dropped (full): drops that did not happen. */
export default {
  name: 'count-phantom-drop',
  breaks: '§4.5 the drop count is exact: only readings really dropped are counted',
  edits: [{
    file: 'src/buffer/transaction.ts',
    find: 'this.deleteRange(queue[this.ackCursor], queue[end], null)',
    replace: "this.deleteRange(queue[this.ackCursor], queue[end], 'full')",
  }],
  catchers: [{ file: 'test/buffer/stats.test.ts', test: 'sees the last commit while the buffer is open' }],
};
