/**
 * The drivers a floorgate knows, by name, and the capabilities the CLI asks them for. The list
 * itself is drivers/index.ts (one line per protocol); the composition root (src/cli/, tests)
 * hands it down, so nothing else in the core imports a protocol.
 */
import type { ZodType } from 'zod';
import type { DeviceConfig, DriverModule, LineLoad, LineSimulator, NetworkSimulator } from './contract.js';

export class DriverRegistry {
  private readonly byName: ReadonlyMap<string, DriverModule>;

  constructor(modules: readonly DriverModule[]) {
    this.byName = new Map(modules.map((m) => [m.name, m]));
    if (this.byName.size !== modules.length) throw new Error('two drivers registered under one name');
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  get(name: string): DriverModule | undefined {
    return this.byName.get(name);
  }

  /** The module of a validated device: the loader refused unknown drivers, so absence is a bug. */
  of(device: DeviceConfig): DriverModule {
    const module = this.byName.get(device.driver);
    if (!module) throw new Error(`no driver registered as ${device.driver}`);
    return module;
  }

  /** The schema the config loader validates a device of this driver with. */
  schemaOf(name: string): ZodType<DeviceConfig> | undefined {
    return this.byName.get(name)?.schema;
  }

  /** The driver's quick parse of a common device (DriverModule.parseQuickly); undefined: validate it with schemaOf. */
  parseQuickly(name: string, raw: Readonly<Record<string, unknown>>): DeviceConfig | undefined {
    return this.byName.get(name)?.parseQuickly?.(raw);
  }

  /** The load of every shared line, each module asked about its own devices only. */
  lineLoads(devices: readonly DeviceConfig[]): LineLoad[] {
    return [...this.byName.values()].flatMap((m) => {
      const own = devices.filter((d) => d.driver === m.name);
      return own.length > 0 && m.lineLoads ? m.lineLoads(own) : [];
    });
  }

  /** Names of the protocols with a simulator on a TCP port or on a serial line. */
  simulatorNames(): string[] {
    return [...new Set([...this.byName.values()].flatMap((m) => [m.simulator?.name, m.lineSimulator?.name]))]
      .filter((n): n is string => n !== undefined);
  }

  networkSimulator(name: string): NetworkSimulator | undefined {
    return [...this.byName.values()].find((m) => m.simulator?.name === name)?.simulator;
  }

  lineSimulator(name: string): LineSimulator | undefined {
    return [...this.byName.values()].find((m) => m.lineSimulator?.name === name)?.lineSimulator;
  }
}
