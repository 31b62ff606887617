/** Report by exception holds back a change of quality: a device going bad is never published. */
export default {
  name: 'bad-transition-not-published',
  breaks: '§4.6 a failing device is its quality bad upstream, once per transition',
  edits: [{
    file: 'src/scheduler/report-filter.ts',
    find: '    if (!prev || prev.quality !== reading.quality) return true;\n',
    replace: '    if (!prev) return true;\n',
  }],
  catchers: [
    { file: 'test/scheduler/report-filter.test.ts', test: 'once per transition' },
    { file: 'test/faults/device-link.test.ts', dist: true },
  ],
};
