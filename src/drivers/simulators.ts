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

/** A simulated device on a serial line (a pty end from `socat`, or a real port). */
export interface RunningLineSimulator {
  readonly path: string;
  requests(): number;
  close(): Promise<void>;
}

export interface LineSimulatorOptions {
  path: string;
  baudRate?: number;
  /** Modbus RTU: the unit ids answered. */
  units?: number[];
  /** A register map (Modbus) file; absent = the built-in demo map. */
  config?: string;
}

export const lineSimulators: Record<string, (opts: LineSimulatorOptions) => Promise<RunningLineSimulator>> = {
  modbus: async (opts) => {
    const sim = await (await import('../../drivers/modbus/rtu-sim.js')).startModbusRtuSim({
      path: opts.path, baudRate: opts.baudRate, units: opts.units ?? [1], map: opts.config,
    });
    return { path: opts.path, requests: () => sim.requests(), close: () => sim.close() };
  },
  serial: async (opts) => {
    const sim = await (await import('../../drivers/serial/sim.js')).startSerialSim({ path: opts.path, baudRate: opts.baudRate });
    return { path: opts.path, requests: () => sim.linesSent(), close: () => sim.close() };
  },
};
