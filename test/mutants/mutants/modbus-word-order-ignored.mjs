/** 32- and 64-bit values are read with their registers in wire order whatever byte_order says. */
export default {
  name: 'modbus-word-order-ignored',
  breaks: '§2 byte_order: a CDAB or DCBA value is read with its registers in reverse order',
  edits: [{
    file: 'drivers/modbus/codec.ts',
    find: 'function load(regs: ArrayLike<number>, index: number, width: number, order: ByteOrder): void {\n'
      + '  const reverse = width > 1 && reversesWords(order);\n',
    replace: 'function load(regs: ArrayLike<number>, index: number, width: number, order: ByteOrder): void {\n'
      + '  const reverse = false;\n',
  }],
  catchers: [
    { file: 'drivers/modbus/test/codec.test.ts', test: 'known vectors' },
    { file: 'drivers/modbus/test/pymodbus.test.ts', test: 'every byte order' },
  ],
};
