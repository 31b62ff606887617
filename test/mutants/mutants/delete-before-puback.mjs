/** The forwarder acknowledges a message to the buffer when it publishes it, not on PUBACK/PUBCOMP. */
export default {
  name: 'delete-before-puback',
  breaks: '§4.2 at-least-once: a message leaves the buffer before the broker acknowledged it',
  edits: [{
    file: 'src/forward/forwarder.ts',
    find: '    s.client.publish(topic, payload, this.publishOpts, (err) => {\n',
    replace: '    this.store.ack(seq);\n    s.client.publish(topic, payload, this.publishOpts, (err) => {\n',
  }],
  catchers: [{ file: 'test/forward/faults.test.ts', test: 'stop() is bounded on a dead link' }],
};
