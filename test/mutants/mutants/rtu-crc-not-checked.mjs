/** An RTU reply is taken whatever its CRC says: a corrupted frame becomes a value. */
export default {
  name: 'rtu-crc-not-checked',
  breaks: '§4.7 a CRC error is a bad reading that says so, never a value',
  edits: [{
    file: 'drivers/modbus/rtu-frame.ts',
    find: '  return frame.length >= 4 && frame.readUInt16LE(frame.length - 2) === crc16(frame.subarray(0, -2));\n',
    replace: '  return frame.length >= 4;\n',
  }],
  catchers: [{ file: 'drivers/modbus/test/rtu-faults.test.ts', test: 'CRC errors' }],
};
