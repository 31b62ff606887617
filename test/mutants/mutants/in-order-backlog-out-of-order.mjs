/** With replay: in_order, live messages go out while backlog is still waiting. */
export default {
  name: 'in-order-backlog-out-of-order',
  breaks: '§4.3 order: with replay: in_order, messages are first sent in seq order',
  edits: [{
    file: 'src/forward/forwarder.ts',
    find: '      if (s.backlog.peek(last)) return this.mayReplay() ? s.backlog : null;\n',
    replace: '      if (s.live.peek(last)) return s.live;\n'
      + '      if (s.backlog.peek(last)) return this.mayReplay() ? s.backlog : null;\n',
  }],
  catchers: [{ file: 'test/forward/outage.test.ts', test: 'in_order' }],
};
