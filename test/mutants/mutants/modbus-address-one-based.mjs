/** A read asks for the register after the one configured: 1-based numbers sent as protocol addresses. */
export default {
  name: 'modbus-address-one-based',
  breaks: '§2 a Modbus address is the 0-based protocol address within its area',
  edits: [{
    file: 'drivers/modbus/pdu.ts',
    find: '  return fixed(framing, unit, fc, start, count, 1 + readByteCount(fc, count));\n',
    replace: '  return fixed(framing, unit, fc, start + 1, count, 1 + readByteCount(fc, count));\n',
  }],
  catchers: [{ file: 'drivers/modbus/test/pymodbus.test.ts', test: 'every byte order' }],
};
