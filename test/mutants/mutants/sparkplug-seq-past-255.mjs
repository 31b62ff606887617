/** The Sparkplug seq runs on past 255 instead of wrapping to 0. */
export default {
  name: 'sparkplug-seq-past-255',
  breaks: '§3 Sparkplug B: seq runs 0–255 and wraps across births and data',
  edits: [{
    file: 'src/forward/sparkplug-session.ts',
    find: '    this.seq = (this.seq + 1) & 0xff;\n',
    replace: '    this.seq = (this.seq + 1) & 0x1ff;\n',
  }],
  catchers: [{ file: 'test/sparkplug/session.test.ts', test: 'wraps across births and data' }],
};
