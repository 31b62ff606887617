/** A PUBACK deletes the next message (seq + 1), which may not have reached the broker yet. */
export default {
  name: 'ack-deletes-wrong-message',
  breaks: '§4.2 at-least-once: an acknowledgement deletes a message other than the one acknowledged',
  edits: [{
    file: 'src/forward/forwarder.ts',
    find: '        this.store.ack(seq);\n      } catch (e) {\n',
    replace: '        this.store.ack(seq + 1);\n      } catch (e) {\n',
  }],
  catchers: [{ file: 'test/forward/steady.test.ts', test: 'per_device, QoS 1' }],
};
