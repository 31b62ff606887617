/**
 * The correction ignores the boot: readings of an earlier boot, whose monotonic clock was another
 * one, are shifted as if taken in this one and lose their unsynced flag.
 */
export default {
  name: 'clock-corrects-earlier-boot',
  breaks: '§4.12 readings of an earlier boot stay flagged and uncorrected',
  edits: [{
    file: 'src/buffer/restamp.ts',
    find: 'WHERE seq > ? AND boot = ${boot} AND clock = ?',
    replace: 'WHERE seq > ? AND clock = ?',
  }, {
    file: 'src/buffer/restamp.ts',
    find: 'AND boot = ${boot} AND clock = @from',
    replace: 'AND clock = @from',
  }],
  catchers: [
    { file: 'test/clock/restamp.test.ts' },
    { file: 'test/faults/clock.test.ts', dist: true },
  ],
};
