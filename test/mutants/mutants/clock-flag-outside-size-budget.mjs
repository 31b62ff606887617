/**
 * The message-size budget measures the envelope without the clock flag: a full message of an
 * untrusted clock is a few bytes over mqtt.max_message_bytes, and the broker drops the connection.
 */
export default {
  name: 'clock-flag-outside-size-budget',
  breaks: '§4.10 no message exceeds mqtt.max_message_bytes, clock flag included',
  edits: [{
    file: 'src/forward/message-size.ts',
    find: ', clock: LONGEST_CLOCK_FLAG };',
    replace: ' };',
  }],
  catchers: [
    { file: 'test/forward/split.test.ts', test: 'the budget is tight' },
  ],
};
