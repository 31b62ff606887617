import type { DriverModule, PlanLine } from '../../src/driver/contract.js';
import { tagWidth } from './codec.js';
import { isBitArea, planCycles } from './planner.js';
import { lineLoads, requestCost } from './line-load.js';
import { parseModbusQuickly } from './quick-parse.js';
import {
  modbusRtuDeviceSchema, modbusTcpDeviceSchema, type ModbusDevice, type ModbusRtuDevice, type ModbusTag, type ModbusTcpDevice,
} from './schema.js';

/**
 * `floorgate check --plan`: the reads of one poll cycle, per poll interval, shortest first; on a
 * serial line with what each costs of the line's time.
 */
function planLines(device: ModbusDevice): PlanLine[] {
  const lines: PlanLine[] = [];
  for (const { interval, requests } of planCycles(device.tags, device)) {
    for (const r of requests) {
      const unit = isBitArea(r.area) ? 'bit' : 'register';
      const cost = 'baud_rate' in device ? `; ${requestCost(device, r)}` : '';
      lines.push({
        text: `every ${interval}ms: ${r.area} ${r.start}..${r.start + r.count - 1} ` +
          `(${r.count} ${unit}${r.count === 1 ? '' : 's'}${cost}) -> ${r.tags.map((t) => t.name).join(', ')}`,
      });
    }
  }
  return lines;
}

/** `floorgate probe`: "holding 100", "holding 20..23", "holding 5 bit 3", "coil 0". */
function tagAddress(t: ModbusTag): string {
  const width = tagWidth(t);
  const where = width === 1 ? `${t.area} ${t.address}` : `${t.area} ${t.address}..${t.address + width - 1}`;
  return t.bit === undefined ? where : `${where} bit ${t.bit}`;
}

/** `floorgate probe`: why a Modbus TCP device that accepted the connection answered no read. */
function tcpNoReadingHint(device: ModbusTcpDevice): string {
  return `check unit_id (now ${device.unit_id}): behind a gateway it is the id of the unit on the serial side (a wrong ` +
    'one times out or answers exception 10/11), a device addressed directly over TCP may want 255 or 0; ' +
    'and whether another master (SCADA, HMI, a second gateway) holds the only connection the device allows';
}

/** `floorgate probe`: why a Modbus RTU unit answered no read. */
function rtuNoReadingHint(device: ModbusRtuDevice): string {
  return `check unit_id (now ${device.unit_id}) and that the unit is powered, then the line: baud_rate, parity and ` +
    'stop_bits as the device has them, A and B not swapped, one master on the bus';
}

export const modbusTcp: DriverModule<ModbusTcpDevice> = {
  name: 'modbus_tcp',
  schema: modbusTcpDeviceSchema,
  parseQuickly: (raw) => parseModbusQuickly(modbusTcpDeviceSchema, raw),
  async create(device, ctx) {
    // The driver loads only when a Modbus device is configured.
    const [{ ModbusDriver }, { openTcpLink }] = await Promise.all([import('./driver.js'), import('./tcp-link.js')]);
    return new ModbusDriver(device, ctx, (signal) => openTcpLink(device, signal));
  },
  address: tagAddress,
  noReadingHint: tcpNoReadingHint,
  plan: planLines,
  simulator: {
    name: 'modbus',
    defaultPort: 5020,
    async start(opts) {
      const sim = await (await import('./sim.js')).startModbusSim({ host: opts.host, port: opts.port, unitId: opts.unitId, map: opts.config });
      return { where: `${opts.host}:${sim.port}`, port: sim.port, requests: () => sim.requests(), close: () => sim.close() };
    },
  },
};

export const modbusRtu: DriverModule<ModbusRtuDevice> = {
  name: 'modbus_rtu',
  schema: modbusRtuDeviceSchema,
  parseQuickly: (raw) => parseModbusQuickly(modbusRtuDeviceSchema, raw),
  async create(device, ctx) {
    const [{ ModbusDriver }, { RtuUnit }] = await Promise.all([import('./driver.js'), import('./rtu-link.js')]);
    // Devices on the same port share one open line (rtu-bus.ts); each driver keeps its unit's state.
    return new ModbusDriver(device, ctx, new RtuUnit(device, ctx.log, { serialLineBusy: ctx.serialLineBusy }).open);
  },
  address: tagAddress,
  noReadingHint: rtuNoReadingHint,
  plan: planLines,
  lineLoads,
  lineSimulator: {
    name: 'modbus',
    async start(opts) {
      const sim = await (await import('./rtu-sim.js')).startModbusRtuSim({
        path: opts.path, baudRate: opts.baudRate, units: opts.units ?? [1], map: opts.config,
      });
      return { where: opts.path, requests: () => sim.requests(), close: () => sim.close() };
    },
  },
};
