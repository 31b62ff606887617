#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=512 --v8-pool-size=1
/**
 * The command line: parses arguments and hands over to the module that does the work.
 * Exit codes (reference §1): 0 ok, 1 runtime failure, 64 usage error, 69 simulators not installed,
 * 77 permission denied, 78 configuration error.
 *
 * The shebang's flags size Node for a gateway, not a desktop. By default V8 lets the young
 * generation grow to 2 × 16 MB and, on a machine with 8 GB or more, the old space to several
 * times the live heap before a full GC: that tripled floorgate's RSS. A 1 MB semi-space means
 * a scavenge every ~200 ms at 10,000 readings/s, cheap now that a reading leaves ~500 B of
 * garbage instead of ~900 B: in interleaved A/B runs (10,000 tags/1 s) it cost no CPU against
 * 2 MB (0.0049–0.0054 against 0.0048–0.0056 s per 1,000 readings) and saved ~3.5 MB of RSS.
 * The 512 MB old-space cap keeps V8's growth factor near 1.4 and is ~15× the heap of 10,000
 * tags. One V8 worker thread instead of four: floorgate's work is on the main thread, and each
 * worker keeps its own malloc arena (~5 MB of RSS). --optimize-for-size is gone (issue 19): it
 * cost ~45 % more CPU per reading (0.0077 against 0.0053 s per 1,000 at 10,000 tags) for
 * ~2 MB less RSS (10,000 tags: 87 against 89–90 MB, target 99; 1,000 tags in the memory bench:
 * 69.2–69.8 against 71.1–72.3 MB, target 71.1, so that target now wants ~1 MB found elsewhere;
 * a lower old-space cap does not give it back). install.sh and the benchmarks take the flags
 * from this line. Figures: README, Performance.
 */
import { parseArgs } from 'node:util';
import { EXIT } from './exit.js';
import { errorText } from '../error-text.js';
import { refuseWithoutSimulators } from './simulator-packages.js';

/** An option of a command: what parseArgs needs, and what the command's --help says of it. */
interface Option {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  multiple?: boolean;
  /** The value's placeholder in the help (--port N). */
  arg?: string;
  help: string;
}

interface Command {
  usage: string;
  summary: string;
  options: Record<string, Option>;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

const DEFAULT_CONFIG = '/etc/floorgate/floorgate.yaml';
const configOption = {
  config: { type: 'string', short: 'c', default: DEFAULT_CONFIG, arg: 'FILE', help: `the configuration (default ${DEFAULT_CONFIG})` },
} as const;
const out = (line: string) => process.stdout.write(line + '\n');
/** Usage errors: stderr, so a script reading stdout never takes one for output. */
const err = (line: string) => process.stderr.write(line + '\n');
/** Help is wrapped to this many columns: a terminal's 80 to 100, a journal viewer's width. */
const COLUMNS = 100;

const commands: Record<string, Command> = {
  run: {
    usage: 'floorgate run [-c FILE]',
    summary: 'run the gateway daemon (JSON logs on stdout; SIGHUP reloads, SIGTERM stops)',
    options: configOption,
    run: async (v) => (await import('./run.js')).runDaemon(String(v.config)),
  },
  check: {
    usage: 'floorgate check [-c FILE] [--plan]',
    summary: 'validate the configuration; --plan also prints the requests sent each cycle',
    options: {
      ...configOption,
      plan: { type: 'boolean', default: false, help: "also print each device's requests per cycle and each serial line's load" },
    },
    run: async (v) => (await import('./check.js')).runCheck(String(v.config), { plan: Boolean(v.plan), out }),
  },
  probe: {
    usage: 'floorgate probe [-c FILE] [--device NAME]',
    summary: 'connect to each device, read every tag once and print a table; publishes nothing',
    options: { ...configOption, device: { type: 'string', arg: 'NAME', help: 'only this device (default: every device)' } },
    run: async (v) => (await import('./probe.js')).runProbe(String(v.config), { device: v.device as string | undefined, out, err }),
  },
  demo: {
    usage: 'floorgate demo [--duration D]',
    summary: 'simulated PLC + embedded MQTT broker + the gateway, printing what arrives upstream',
    options: { duration: { type: 'string', arg: 'D', help: 'stop after this long, e.g. 30s, 2m (default: until Ctrl-C)' } },
    run: async (v) => refuseWithoutSimulators('demo', err)
      ?? (await import('./demo.js')).runDemo({ duration: v.duration as string | undefined, out, err }),
  },
  sim: {
    usage: 'floorgate sim modbus|opcua|serial [options]',
    summary: 'run a simulated PLC or instrument on its own (TCP port, or a serial path such as a socat pty)',
    options: {
      host: { type: 'string', default: '127.0.0.1', arg: 'H', help: 'the address to listen on (default 127.0.0.1)' },
      port: { type: 'string', arg: 'N', help: 'the TCP port; 0 picks a free one (default 5020 for Modbus, 4840 for OPC UA)' },
      unit: { type: 'string', arg: 'N[,N…]', help: 'Modbus unit id(s) to answer as; a list only with --rtu' },
      config: { type: 'string', short: 'c', arg: 'FILE', help: 'a register map or address space (YAML/JSON; default: the built-in one)' },
      rtu: { type: 'string', arg: 'PATH', help: 'Modbus RTU on this serial path instead of Modbus TCP' },
      path: { type: 'string', arg: 'PATH', help: 'the serial path of a serial instrument (sim serial)' },
      baud: { type: 'string', arg: 'N', help: 'the serial line\'s baud rate' },
    },
    run: async (v, pos) => refuseWithoutSimulators('sim', err) ?? (await import('./sim.js')).runSim(pos[0], {
      host: String(v.host), port: v.port as string | undefined, unit: v.unit as string | undefined,
      config: v.config as string | undefined, rtu: v.rtu as string | undefined, path: v.path as string | undefined,
      baud: v.baud as string | undefined, out, err,
    }),
  },
  buffer: {
    usage: 'floorgate buffer stats [-c FILE]',
    summary: "the buffer's depth, bytes, oldest/newest reading and drops (works while the daemon runs)",
    options: configOption,
    run: async (v, pos) => (await import('./buffer-stats.js')).runBufferStats(pos[0], String(v.config), out, err),
  },
  status: {
    usage: 'floorgate status [-c FILE] [--url URL]',
    summary: 'the health of the running daemon, from its HTTP listener (--url: ask there)',
    options: {
      ...configOption,
      url: { type: 'string', arg: 'URL', help: "the listener's base URL (default: the address the daemon published, else http.listen)" },
    },
    run: async (v) => (await import('./status.js')).runStatus(String(v.config), out, v.url as string | undefined),
  },
  browse: {
    usage: 'floorgate browse [-c FILE] --device NAME [--node ID]',
    summary: "an OPC UA device's address space",
    options: {
      ...configOption,
      device: { type: 'string', arg: 'NAME', help: 'the OPC UA device to browse (required)' },
      node: { type: 'string', arg: 'ID', help: 'start at this node id (default: the Objects folder)' },
    },
    run: async (v) => {
      if (typeof v.device !== 'string') return usageError('browse', '--device NAME is required');
      return (await import('./browse.js')).runBrowse(String(v.config), { device: v.device, node: v.node as string | undefined, out, err });
    },
  },
  audit: {
    usage: 'floorgate audit --url URL [options]',
    summary: 'subscribe upstream and report gaps and duplicates in seq, per gateway',
    options: {
      url: { type: 'string', arg: 'URL', help: 'the broker to subscribe at, e.g. mqtt://broker:1883 (required)' },
      prefix: { type: 'string', default: 'floorgate', arg: 'P', help: 'the topic prefix of JSON messages (default floorgate)' },
      format: { type: 'string', default: 'json', arg: 'F', help: 'json or sparkplug_b (default json)' },
      gateway: { type: 'string', multiple: true, arg: 'ID', help: 'only this gateway; repeat for more (default: every gateway)' },
      duration: { type: 'string', arg: 'D', help: 'stop after this long, e.g. 90s, 10m (default: until Ctrl-C)' },
      since: { type: 'string', arg: 'SEQ', help: 'count gaps from this seq on (default: the first seq seen)' },
      'client-id': { type: 'string', arg: 'ID', help: 'the persistent MQTT session (default floorgate-audit-<host>-<hash of the topics>)' },
      json: { type: 'boolean', default: false, help: 'print the report as JSON' },
    },
    run: async (v) => (await import('./audit.js')).auditCommand(v, out),
  },
  schema: {
    usage: 'floorgate schema',
    summary: 'print the JSON Schema of the config file, for editor completion and checks as you type',
    options: {},
    run: async () => (await import('./schema.js')).runSchema(out),
  },
  version: {
    usage: 'floorgate version',
    summary: "print floorgate's version (also -V, --version)",
    options: {},
    run: async () => {
      out((await import('../package-info.js')).VERSION);
      return EXIT.ok;
    },
  },
};

function usageError(name: string, why: string): number {
  err(`floorgate ${name}: ${why}\nusage: ${commands[name].usage}`);
  return EXIT.usage;
}

/** `text` in lines of at most COLUMNS, the first after `lead`, the others indented as deep. */
function wrap(lead: string, text: string): string {
  const lines = [lead];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (lines[last].length + 1 + word.length > COLUMNS && lines[last].trim() !== '') lines.push(' '.repeat(lead.length) + word);
    else lines[last] += (lines[last].length === lead.length ? '' : ' ') + word;
  }
  return lines.join('\n');
}

/** Aligned two-column entries: the names, then what each is, wrapped. */
function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => wrap(`  ${name.padEnd(width)}  `, text));
}

function help(): string {
  const rows = Object.values(commands).map((c): [string, string] => [c.usage.split(' ').slice(1).filter((w) => /^[a-z]+$/.test(w)).join(' '), c.summary]);
  return ['usage: floorgate COMMAND [options]', '', ...table(rows), '', 'floorgate COMMAND --help describes its options.'].join('\n');
}

function commandHelp(command: Command): string {
  const rows = Object.entries({ ...command.options, help: { type: 'boolean', short: 'h', help: 'this help' } as Option })
    .map(([name, o]): [string, string] => [`${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`, o.help]);
  return [`usage: ${command.usage}`, '', wrap('', command.summary), '', 'options:', ...table(rows)].join('\n');
}

/** What parseArgs takes: the options without their help. */
function parseOptions(options: Record<string, Option>) {
  return Object.fromEntries(Object.entries(options).map(([name, { arg: _arg, help: _help, ...parse }]) => [name, parse]));
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (!first) {
    err(help());
    return EXIT.usage;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    out(help());
    return EXIT.ok;
  }
  const name = first === '-V' || first === '--version' ? 'version' : first;
  const command = commands[name];
  if (!command) {
    err(`floorgate: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...parseOptions(command.options), help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    return usageError(name, (error as Error).message);
  }
  if (parsed.values.help) {
    out(commandHelp(command));
    return EXIT.ok;
  }
  return command.run(parsed.values, parsed.positionals);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    // A bug, not an operator's mistake: say so in one line; the stack only when asked for.
    process.stderr.write(`floorgate: internal error: ${errorText(err)}\n`);
    if (process.env.FLOORGATE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = EXIT.failure;
  },
);
