/**
 * The clock becomes trusted and nothing is corrected: readings taken while it was 3 days behind
 * go out 3 days off, marked as if nothing happened to them.
 */
export default {
  name: 'clock-correction-skipped',
  breaks: '§4.12 readings of this boot taken while the clock was untrusted are corrected once it is trusted',
  edits: [{
    file: 'src/runtime.ts',
    find: '      onTrusted: (offset) => this.correct(offset),',
    replace: '      onTrusted: () => {},',
  }],
  catchers: [
    { file: 'test/faults/clock.test.ts', dist: true },
  ],
};
