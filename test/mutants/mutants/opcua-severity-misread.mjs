/** An OPC UA status is judged by its top bit alone: Uncertain reads as good and Bad as uncertain. */
export default {
  name: 'opcua-severity-misread',
  breaks: "§2 OPC UA quality follows the StatusCode's severity: Good good, Uncertain uncertain, Bad bad",
  edits: [{
    file: 'drivers/opcua/values.ts',
    find: '  const severity = status.value >>> 30;\n',
    replace: '  const severity = status.value >>> 31;\n',
  }],
  catchers: [
    { file: 'drivers/opcua/test/values.test.ts', test: 'quality from the status severity' },
    { file: 'drivers/opcua/test/driver.test.ts', test: 'does not exist' },
  ],
};
