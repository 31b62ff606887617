import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needTool, onPath } from '../helpers/tools.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT_TEMPLATE = path.join(REPO, 'systemd/floorgate.service');
const isRoot = needTool('root', process.getuid?.() === 0, 'install.sh --root into an image with accounts');
const hasSystemdAnalyze = needTool('systemd-analyze', onPath('systemd-analyze'), 'systemd-analyze verify of the unit');
const hasShellcheck = needTool('shellcheck', onPath('shellcheck'), 'shellcheck of install.sh');

let work: string;
let checkout: string;

/**
 * A built checkout in miniature: the real install.sh and unit, a stand-in dist, and a lockfile
 * that marks one plain and one scoped package as devDependencies (with a .bin link into one).
 */
function makeCheckout(dir: string): void {
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  write('dist/src/cli/main.js', '#!/usr/bin/env -S node --max-semi-space-size=1 --stack-size=900\nconsole.log("floorgate v1", process.argv.slice(2).join(" "));\n');
  write('dist/test/bench/run.js', '// benchmarks are not installed\n');
  write('config/floorgate.example.yaml', 'gateway:\n  id: line1-gw01\n');
  write('config/demo.yaml', 'gateway:\n  id: demo-gw\n');
  write('package.json', JSON.stringify({ name: 'floorgate', version: '0.1.0', dependencies: { 'prod-dep': '1.0.0' }, devDependencies: { 'dev-dep': '1.0.0', '@scope/dev-tool': '1.0.0' } }));
  write('package-lock.json', JSON.stringify({
    name: 'floorgate', lockfileVersion: 3,
    packages: {
      '': { name: 'floorgate' },
      'node_modules/prod-dep': { version: '1.0.0' },
      'node_modules/prod-dep/node_modules/helper': { version: '2.0.0' },
      'node_modules/dev-dep': { version: '1.0.0', dev: true },
      'node_modules/@scope/dev-tool': { version: '1.0.0', dev: true },
    },
  }));
  write('node_modules/prod-dep/index.js', 'module.exports = 1;\n');
  write('node_modules/prod-dep/cli.js', '\n');
  write('node_modules/prod-dep/node_modules/helper/index.js', 'module.exports = 2;\n');
  write('node_modules/dev-dep/index.js', '\n');
  write('node_modules/@scope/dev-tool/cli.js', '\n');
  write('node_modules/.package-lock.json', '{}');
  fs.mkdirSync(path.join(dir, 'node_modules/.bin'));
  fs.symlinkSync('../prod-dep/cli.js', path.join(dir, 'node_modules/.bin/prod-cli'));
  fs.symlinkSync('../@scope/dev-tool/cli.js', path.join(dir, 'node_modules/.bin/dev-tool'));
  fs.mkdirSync(path.join(dir, 'systemd'));
  fs.copyFileSync(path.join(REPO, 'systemd/install.sh'), path.join(dir, 'systemd/install.sh'));
  fs.copyFileSync(UNIT_TEMPLATE, path.join(dir, 'systemd/floorgate.service'));
}

function install(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('bash', [path.join(checkout, 'systemd/install.sh'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The node the installed service runs, as seen inside a root (newRoot links it there). */
const IMAGE_NODE = '/usr/bin/node';

/** An image root that has a node at IMAGE_NODE (a link to this machine's: it runs here). */
function newRoot(name: string): string {
  const dir = newBareRoot(name);
  fs.mkdirSync(path.join(dir, 'usr/bin'), { recursive: true });
  fs.symlinkSync(process.execPath, path.join(dir, IMAGE_NODE));
  return dir;
}

function newBareRoot(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  return dir;
}

/** install.sh into an image root, running that root's node. */
const installInto = (root: string, ...args: string[]) => install('--root', root, '--node', IMAGE_NODE, ...args);

const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8);
const owner = (p: string) => `${fs.statSync(p).uid}:${fs.statSync(p).gid}`;
const exists = (p: string) => fs.existsSync(p);

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'floorgate-install-'));
  checkout = path.join(work, 'checkout');
  makeCheckout(checkout);
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('install.sh --root into an empty directory', () => {
  let root: string;
  let first: ReturnType<typeof install>;
  let second: ReturnType<typeof install>;

  beforeAll(() => {
    root = newRoot('bare');
    first = installInto(root);
    second = installInto(root);
  });

  it('installs everything on the first run', () => {
    expect(first.status).toBe(0);
    expect(first.out).toContain('installed the application in /opt/floorgate');
    expect(first.out).toContain('wrote /usr/local/bin/floorgate');
    expect(first.out).toContain('wrote /etc/floorgate/floorgate.yaml from the example');
    expect(first.out).toContain('wrote /etc/systemd/system/floorgate.service');
    // No passwd file in the root: the account is described, not created.
    expect(first.out).toMatch(/has no etc\/passwd: not creating user floorgate \(would run: useradd --system --user-group --groups dialout/);
  });

  it('enables the unit in the image as systemctl enable would: its WantedBy= link', () => {
    expect(first.out).toContain('enabled floorgate.service in the image');
    const link = path.join(root, 'etc/systemd/system/multi-user.target.wants/floorgate.service');
    expect(fs.readlinkSync(link)).toBe('/etc/systemd/system/floorgate.service');
    // And ExecStart= names the node the image has.
    const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/floorgate.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node /m);
  });

  it('changes nothing on the second run, and says so', () => {
    expect(second.status).toBe(0);
    expect(second.out).toContain('floorgate is already installed and up to date: nothing changed');
    expect(second.out).not.toMatch(/^ {2}(installed|upgraded|wrote|set up|enabled)/m);
  });

  it('copies the application without devDependencies, test builds or dangling links', () => {
    const app = path.join(root, 'opt/floorgate');
    for (const f of ['dist/src/cli/main.js', 'package.json', 'package-lock.json', 'config/floorgate.example.yaml', 'config/demo.yaml',
      'node_modules/prod-dep/index.js', 'node_modules/prod-dep/node_modules/helper/index.js', 'node_modules/.bin/prod-cli']) {
      expect(exists(path.join(app, f)), f).toBe(true);
    }
    for (const f of ['dist/test', 'node_modules/dev-dep', 'node_modules/@scope', 'node_modules/.bin/dev-tool', 'node_modules/.package-lock.json', 'systemd']) {
      expect(fs.existsSync(path.join(app, f)) || isSymlink(path.join(app, f)), f).toBe(false);
    }
    expect(fs.readdirSync(path.join(root, 'opt'))).toEqual(['floorgate']);
  });

  it('points the unit and the wrapper at the installed copy, run by node itself with the flags of its shebang', () => {
    const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/floorgate.service'), 'utf8');
    const execStart = unit.split('\n').filter((l) => l.startsWith('ExecStart='));
    expect(execStart).toHaveLength(1);
    expect(execStart[0]).toMatch(/^ExecStart=\/\S*\/node --max-semi-space-size=1 --stack-size=900 \/opt\/floorgate\/dist\/src\/cli\/main\.js run -c \/etc\/floorgate\/floorgate\.yaml$/);
    // Apart from ExecStart, the installed unit is the template.
    const template = fs.readFileSync(UNIT_TEMPLATE, 'utf8');
    expect(unit.replace(/^ExecStart=.*$/m, '')).toBe(template.replace(/^ExecStart=.*$/m, ''));
    const wrapper = path.join(root, 'usr/local/bin/floorgate');
    expect(fs.readFileSync(wrapper, 'utf8')).toMatch(/^#!\/bin\/sh\nexec \/\S*\/node --max-semi-space-size=1 --stack-size=900 \/opt\/floorgate\/dist\/src\/cli\/main\.js "\$@"\n$/);
    expect(mode(wrapper)).toBe('755');
  });

  it('creates the config and state directories with tight modes', () => {
    expect(mode(path.join(root, 'etc/floorgate'))).toBe('750');
    expect(mode(path.join(root, 'etc/floorgate/floorgate.yaml'))).toBe('640');
    expect(fs.readFileSync(path.join(root, 'etc/floorgate/floorgate.yaml'), 'utf8')).toBe('gateway:\n  id: line1-gw01\n');
    expect(mode(path.join(root, 'var/lib/floorgate'))).toBe('700');
  });

  it('never overwrites an existing config, and upgrades the application in place', () => {
    const config = path.join(root, 'etc/floorgate/floorgate.yaml');
    fs.writeFileSync(config, 'gateway:\n  id: edited-by-the-operator\n');
    const main = path.join(checkout, 'dist/src/cli/main.js');
    const v1 = fs.readFileSync(main, 'utf8');
    fs.writeFileSync(main, v1.replace('v1', 'v2'));
    try {
      const upgrade = installInto(root);
      expect(upgrade.status).toBe(0);
      expect(upgrade.out).toContain('upgraded the application in /opt/floorgate');
      expect(upgrade.out).not.toContain('floorgate.yaml from the example');
      expect(fs.readFileSync(path.join(root, 'opt/floorgate/dist/src/cli/main.js'), 'utf8')).toContain('floorgate v2');
      expect(fs.readFileSync(config, 'utf8')).toBe('gateway:\n  id: edited-by-the-operator\n');
      // The staging and the previous copy are gone.
      expect(fs.readdirSync(path.join(root, 'opt'))).toEqual(['floorgate']);
      expect(installInto(root).out).toContain('nothing changed');
    } finally {
      fs.writeFileSync(main, v1);
    }
  });

  it('repairs a directory whose mode was loosened', () => {
    fs.chmodSync(path.join(root, 'var/lib/floorgate'), 0o755);
    const repair = installInto(root);
    expect(repair.out).toContain('set up /var/lib/floorgate (700');
    expect(mode(path.join(root, 'var/lib/floorgate'))).toBe('700');
  });

  it.skipIf(!hasSystemdAnalyze)('installs a unit that systemd-analyze verifies, with a low exposure score', () => {
    const unit = path.join(root, 'etc/systemd/system/floorgate.service');
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
    expect(verify.stderr + verify.stdout).toBe('');
    expect(verify.status).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8', timeout: 30_000 });
    const score = Number(/Overall exposure level for floorgate\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
    expect(score).toBeLessThanOrEqual(2.0);
  });
});

describe.skipIf(!isRoot)('install.sh --root into an image with accounts', () => {
  it('creates the floorgate system user in dialout and hands it the state directory', () => {
    const root = newRoot('image');
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
    fs.writeFileSync(path.join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
    fs.writeFileSync(path.join(root, 'etc/gshadow'), 'root:*::\ndialout:*::\n', { mode: 0o640 });

    const first = installInto(root);
    expect(first.status).toBe(0);
    expect(first.out).toContain('created system user floorgate (member of dialout)');
    const user = fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('floorgate:'))!;
    const [, , uid, gid, , home, shell] = user.split(':');
    expect([home, shell]).toEqual(['/var/lib/floorgate', '/usr/sbin/nologin']);
    expect(Number(uid)).toBeLessThan(1000); // a system account
    expect(fs.readFileSync(path.join(root, 'etc/group'), 'utf8')).toMatch(/^dialout:x:20:floorgate$/m);

    expect(owner(path.join(root, 'var/lib/floorgate'))).toBe(`${uid}:${gid}`);
    expect(owner(path.join(root, 'etc/floorgate'))).toBe(`0:${gid}`);
    expect(owner(path.join(root, 'etc/floorgate/floorgate.yaml'))).toBe(`0:${gid}`);

    const second = installInto(root);
    expect(second.out).toContain('nothing changed');
    expect(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8').match(/^floorgate:/gm)).toHaveLength(1);
  });

  it('adds an existing floorgate user to dialout', () => {
    const root = newRoot('image-old-user');
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nfloorgate:x:990:990::/var/lib/floorgate:/usr/sbin/nologin\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\ndialout:x:20:pi\nfloorgate:x:990:\n');
    fs.writeFileSync(path.join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\nfloorgate:!:19000::::::\n', { mode: 0o640 });
    fs.writeFileSync(path.join(root, 'etc/gshadow'), 'root:*::\ndialout:*::pi\nfloorgate:!::\n', { mode: 0o640 });
    const run = installInto(root);
    expect(run.status).toBe(0);
    expect(run.out).toContain('added user floorgate to group dialout');
    expect(fs.readFileSync(path.join(root, 'etc/group'), 'utf8')).toMatch(/^dialout:x:20:pi,floorgate$/m);
    expect(owner(path.join(root, 'var/lib/floorgate'))).toBe('990:990');
  });
});

describe('install.sh arguments and preconditions', () => {
  it('honours --prefix in the files and in ExecStart', () => {
    const root = newRoot('prefix');
    const run = installInto(root, '--prefix', '/srv/floorgate/');
    expect(run.status).toBe(0);
    expect(exists(path.join(root, 'srv/floorgate/dist/src/cli/main.js'))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'etc/systemd/system/floorgate.service'), 'utf8'))
      .toMatch(/^ExecStart=\S+ --max-semi-space-size=1 --stack-size=900 \/srv\/floorgate\/dist\/src\/cli\/main\.js run/m);
  });

  it('refuses a checkout that was not built, before touching anything', () => {
    const root = newBareRoot('unbuilt');
    const main = path.join(checkout, 'dist/src/cli/main.js');
    fs.renameSync(main, `${main}.away`);
    try {
      const run = installInto(root);
      expect(run.status).toBe(1);
      expect(run.out).toMatch(/is not built: run npm ci && npm run build first/);
      expect(fs.readdirSync(root)).toEqual([]);
    } finally {
      fs.renameSync(`${main}.away`, main);
    }
  });

  it('refuses an image without the node its service would run, before touching anything', () => {
    const root = newBareRoot('no-node');
    const run = installInto(root);
    expect(run.status).toBe(1);
    expect(run.out).toContain(`/usr/bin/node does not exist in ${root}: install Node.js 20 or newer in the image, or pass --node PATH`);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('rejects unknown options with usage (64) and odd paths', () => {
    const bad = install('--frobnicate');
    expect(bad.status).toBe(64);
    expect(bad.out).toContain('usage:');
    const spaced = installInto(newRoot('spaced'), '--prefix', '/opt/floor gate');
    expect(spaced.status).toBe(1);
    expect(spaced.out).toContain('must not contain spaces');
  });

  it.skipIf(!hasShellcheck)('is shellcheck-clean', () => {
    const r = spawnSync('shellcheck', [path.join(REPO, 'systemd/install.sh')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('the unit template', () => {
  const directives = new Map<string, string[]>();
  beforeAll(() => {
    for (const line of fs.readFileSync(UNIT_TEMPLATE, 'utf8').split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2]]);
    }
  });

  it('carries the settings reference §5 and the ops brief ask for', () => {
    const expected: Record<string, string> = {
      Type: 'notify', ExecStart: '/usr/bin/floorgate run -c /etc/floorgate/floorgate.yaml', ExecReload: '/bin/kill -HUP $MAINPID',
      Restart: 'always', RestartSec: '2', WatchdogSec: '30', TimeoutStopSec: '15', User: 'floorgate', Group: 'floorgate',
      SupplementaryGroups: 'dialout', StateDirectory: 'floorgate', StateDirectoryMode: '0700', ConfigurationDirectory: 'floorgate',
      NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6',
      RestrictNamespaces: 'yes', LockPersonality: 'yes', SystemCallFilter: '@system-service', CapabilityBoundingSet: '',
      DevicePolicy: 'closed', UMask: '0077', LimitCORE: '0', LimitNOFILE: '4096', MemoryMax: '768M', RuntimeDirectory: 'floorgate', RuntimeDirectoryMode: '0755',
    };
    for (const [key, value] of Object.entries(expected)) expect(directives.get(key), key).toEqual([value]);
    expect(directives.get('DeviceAllow')).toEqual(expect.arrayContaining(['char-ttyUSB rw', 'char-ttyS rw', 'char-ttyACM rw']));
  });

  it('does not set MemoryDenyWriteExecute (V8 JIT needs W+X pages) nor PrivateDevices (it would hide serial ports)', () => {
    expect(directives.has('MemoryDenyWriteExecute')).toBe(false);
    expect(directives.has('PrivateDevices')).toBe(false);
  });
});

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
