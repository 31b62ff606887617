/**
 * Simulated devices for `floorgate sim` and `floorgate demo`, loaded only when asked for.
 * Each returns a running simulator; close() stops it.
 */
export interface RunningSimulator {
  readonly port: number;
  /** Requests served so far. */
  requests(): number;
  close(): Promise<void>;
}

export interface SimulatorOptions {
  host: string;
  /** 0 = a free port. */
  port: number;
  unitId?: number;
  /** A register map / address space file; absent = the built-in demo map. */
  config?: string;
}

export const simulators: Record<string, (opts: SimulatorOptions) => Promise<RunningSimulator>> = {
  modbus: async (opts) => (await import('../../drivers/modbus/sim.js')).startModbusSim({
    host: opts.host, port: opts.port, unitId: opts.unitId, map: opts.config,
  }),
  opcua: async (opts) => (await import('../../drivers/opcua/sim.js')).startOpcuaSim({
    host: opts.host, port: opts.port, config: opts.config,
  }),
};
