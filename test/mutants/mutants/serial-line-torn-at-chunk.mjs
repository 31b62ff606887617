/** The start of a line that arrived in an earlier chunk is forgotten: a line split across reads is cut. */
export default {
  name: 'serial-line-torn-at-chunk',
  breaks: '§2 raw serial: a line is one reading however the bytes arrive, never cut or lost',
  edits: [{
    file: 'drivers/serial/lines.ts',
    find: "    const text = this.pending + chunk.toString('latin1');\n",
    replace: "    const text = chunk.toString('latin1');\n",
  }],
  catchers: [{ file: 'drivers/serial/test/lines.test.ts', test: 'however the bytes are chunked' }],
};
