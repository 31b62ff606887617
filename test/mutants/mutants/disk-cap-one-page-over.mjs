/** The budget allows the database file one page more than max_bytes leaves for it. */
export default {
  name: 'disk-cap-one-page-over',
  breaks: '§4.5 bounded disk: the buffer never grows past max_bytes',
  edits: [{
    file: 'src/buffer/budget.ts',
    find: '  const maxPages = Math.floor((maxBytes - WAL_HEADER - walFrames * frameBytes) / pageSize);\n',
    replace: '  const maxPages = Math.floor((maxBytes - WAL_HEADER - walFrames * frameBytes) / pageSize) + 1;\n',
  }],
  catchers: [{ file: 'test/buffer/budget.test.ts', test: 'planBudget' }],
};
