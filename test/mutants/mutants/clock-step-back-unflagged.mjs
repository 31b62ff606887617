/**
 * After the clock steps back, readings go out unflagged with timestamps earlier than readings
 * already published: a tag's time runs backwards and nothing says so.
 */
export default {
  name: 'clock-step-back-unflagged',
  breaks: '§4.12 a step back never makes published timestamps run backwards without a flag',
  edits: [{
    file: 'src/clock/clock.ts',
    find: '    if (wall < this.highWater) return { stamp: { flag: ClockFlag.stepped, offset }, readings };\n',
    replace: '',
  }],
  catchers: [
    { file: 'test/clock/clock.test.ts' },
  ],
};
