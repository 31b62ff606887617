/** Committed messages deleted to make room (drop_oldest) or for age are not counted. */
export default {
  name: 'drop-without-counting',
  breaks: '§4.5 every reading dropped is counted and logged',
  edits: [{
    file: 'src/buffer/transaction.ts',
    find: 'if (reason) this.drop(reason, readings, n',
    replace: 'if (reason && false) this.drop(reason, readings, n',
  }],
  catchers: [{ file: 'test/buffer/caps.test.ts', test: 'fills the cap' }],
};
