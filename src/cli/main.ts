#!/usr/bin/env -S node --max-semi-space-size=2 --max-old-space-size=512 --optimize-for-size --v8-pool-size=1
/**
 * The command line: parses arguments and hands over to the module that does the work.
 * Exit codes (reference §1): 0 ok, 1 runtime failure, 64 usage error, 77 permission denied, 78 configuration error.
 *
 * The shebang's flags size Node for a gateway, not a desktop. By default V8 lets the young
 * generation grow to 2 × 16 MB and, on a machine with 8 GB or more, the old space to several
 * times the live heap before a full GC: that tripled floorgate's RSS. A 2 MB semi-space costs
 * more frequent scavenges (~15 % more CPU per reading; 1 MB would cost ~35 %). The 512 MB
 * old-space cap keeps V8's growth factor near 1.4 and is ~15× the heap of 10,000 tags;
 * --optimize-for-size lets the old space grow 2 MB instead of 8 MB between full GCs (~3 MB less
 * RSS, ~15 % more CPU). One V8 worker thread instead of four: floorgate's work is on the main
 * thread, and each worker keeps its own malloc arena (~5 MB of RSS). install.sh and the
 * benchmarks take the flags from this line. Figures: README, Performance.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT } from './exit.js';
import { errorText } from '../error-text.js';

interface Command {
  usage: string;
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | string[] | undefined>, positionals: string[]): Promise<number>;
}

const DEFAULT_CONFIG = '/etc/floorgate/floorgate.yaml';
const configOption = { config: { type: 'string', short: 'c', default: DEFAULT_CONFIG } } as const;
const out = (line: string) => process.stdout.write(line + '\n');

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
    options: { ...configOption, plan: { type: 'boolean', default: false } },
    run: async (v) => (await import('./check.js')).runCheck(String(v.config), { plan: Boolean(v.plan), out }),
  },
  probe: {
    usage: 'floorgate probe [-c FILE] [--device NAME]',
    summary: 'connect to each device, read every tag once and print a table; publishes nothing',
    options: { ...configOption, device: { type: 'string' } },
    run: async (v) => (await import('./probe.js')).runProbe(String(v.config), { device: v.device as string | undefined, out }),
  },
  demo: {
    usage: 'floorgate demo [--duration D]',
    summary: 'simulated PLC + embedded MQTT broker + the gateway, printing what arrives upstream',
    options: { duration: { type: 'string' } },
    run: async (v) => (await import('./demo.js')).runDemo({ duration: v.duration as string | undefined, out }),
  },
  sim: {
    usage: 'floorgate sim modbus|opcua|serial [--port N | --rtu PATH | --path PATH] [--unit N[,N…]] [--config FILE]',
    summary: 'run a simulated PLC or instrument on its own (TCP port, or a serial path such as a socat pty)',
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      unit: { type: 'string' },
      config: { type: 'string', short: 'c' },
      rtu: { type: 'string' },
      path: { type: 'string' },
      baud: { type: 'string' },
    },
    run: async (v, pos) => (await import('./sim.js')).runSim(pos[0], {
      host: String(v.host), port: v.port as string | undefined, unit: v.unit as string | undefined,
      config: v.config as string | undefined, rtu: v.rtu as string | undefined, path: v.path as string | undefined,
      baud: v.baud as string | undefined, out,
    }),
  },
  buffer: {
    usage: 'floorgate buffer stats [-c FILE]',
    summary: "the buffer's depth, bytes, oldest/newest reading and drops (works while the daemon runs)",
    options: configOption,
    run: async (v, pos) => (await import('./buffer-stats.js')).runBufferStats(pos[0], String(v.config), out),
  },
  status: {
    usage: 'floorgate status [-c FILE] [--url URL]',
    summary: 'the health of the running daemon, from its HTTP listener (--url: ask there)',
    options: { ...configOption, url: { type: 'string' } },
    run: async (v) => (await import('./status.js')).runStatus(String(v.config), out, v.url as string | undefined),
  },
  browse: {
    usage: 'floorgate browse [-c FILE] --device NAME [--node ID]',
    summary: "an OPC UA device's address space",
    options: { ...configOption, device: { type: 'string' }, node: { type: 'string' } },
    run: async (v) => {
      if (typeof v.device !== 'string') return usageError('browse', '--device NAME is required');
      return (await import('./browse.js')).runBrowse(String(v.config), { device: v.device, node: v.node as string | undefined, out });
    },
  },
  audit: {
    usage: 'floorgate audit --url URL [--prefix P | --format sparkplug_b] [--gateway ID …] [--duration D] [--since SEQ] [--client-id ID] [--json]',
    summary: 'subscribe upstream and report gaps and duplicates in seq, per gateway',
    options: {
      url: { type: 'string' },
      prefix: { type: 'string', default: 'floorgate' },
      format: { type: 'string', default: 'json' },
      gateway: { type: 'string', multiple: true },
      duration: { type: 'string' },
      json: { type: 'boolean', default: false },
      since: { type: 'string' },
      'client-id': { type: 'string' },
    },
    run: async (v) => (await import('./audit.js')).auditCommand(v, out),
  },
};

function usageError(name: string, why: string): number {
  process.stderr.write(`floorgate ${name}: ${why}\nusage: ${commands[name].usage}\n`);
  return EXIT.usage;
}

function help(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines = Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return ['usage: floorgate COMMAND [options]', '', ...lines, '', 'floorgate COMMAND --help shows one command.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version') {
    out((await import('../package-info.js')).VERSION);
    return EXIT.ok;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`floorgate: unknown command "${name}"\n\n${help()}\n`);
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`floorgate ${name}: ${(err as Error).message}\nusage: ${command.usage}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    out(`usage: ${command.usage}\n\n${command.summary}`);
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
