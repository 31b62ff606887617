/**
 * `run` no longer locks its data dir: a second daemon on the same config opens the same
 * buffer, hands out the same seqs for other readings and fights the first for the client id.
 */
export default {
  name: 'second-daemon-shares-data-dir',
  breaks: '§4.8 one daemon per data dir',
  edits: [{
    file: 'src/cli/run.ts',
    find: '    lock = lockDataDir(loaded.config.gateway.data_dir);\n',
    replace: '    lock = { release: () => {} };\n',
  }],
  catchers: [{ file: 'test/e2e/one-daemon.test.ts', dist: true }],
};
