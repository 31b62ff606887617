/** `sync: full` opens the file with synchronous=NORMAL: commits reach the OS, not the disk. */
export default {
  name: 'sync-full-without-fsync',
  breaks: '§4.4 with sync: full, a committed reading survives power loss',
  edits: [{
    file: 'src/buffer/open-database.ts',
    find: "db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);",
    replace: "db.pragma('synchronous = NORMAL');",
  }],
  catchers: [
    { file: 'test/buffer/file.test.ts', test: 'sync: normal sets synchronous=NORMAL' },
    { file: 'test/faults/power-loss.test.ts', dist: true },
  ],
};
