/** A Modbus TCP reply is taken whatever its transaction id: a late reply to an earlier request becomes this one's values. */
export default {
  name: 'modbus-stale-reply-accepted',
  breaks: '§4.7 a reply is matched to its request by transaction id; another one is never read as its values',
  edits: [{
    file: 'drivers/modbus/tcp-link.ts',
    find: '    if (frame.readUInt16BE(0) !== inflight.tid) {\n'
      + '      inflight.ignoredReply = true;\n'
      + '      return;\n'
      + '    }\n',
    replace: '',
  }],
  catchers: [
    { file: 'drivers/modbus/test/tcp-link.test.ts', test: 'transaction id' },
    { file: 'drivers/modbus/test/faults.test.ts', test: 'a wrong transaction id' },
  ],
};
