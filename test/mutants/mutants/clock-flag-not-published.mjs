/** The JSON format leaves the clock flag out: a consumer takes readings of an untrusted clock for true. */
export default {
  name: 'clock-flag-not-published',
  breaks: '§4.12 readings stamped by an untrusted clock go out flagged',
  edits: [{
    file: 'src/forward/json-format.ts',
    find: " + (msg.clock ? CLOCK_MEMBERS[msg.clock] : '')",
    replace: '',
  }],
  catchers: [
    { file: 'test/clock/wire.test.ts', test: 'JSON' },
    { file: 'test/faults/clock.test.ts', dist: true },
  ],
};
