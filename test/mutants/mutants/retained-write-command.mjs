/** A retained `…/set` message is written to the PLC like a live command (at every reconnect). */
export default {
  name: 'retained-write-command',
  breaks: 'README, Writes: a retained command is refused, so it cannot fire again at every reconnect',
  edits: [{
    file: 'src/commands/json-commands.ts',
    find: '    if (retained) {\n',
    replace: '    if (retained && false) {\n',
  }],
  catchers: [{ file: 'test/commands/json-writes.test.ts', test: 'ignores the retained command', dist: true }],
};
