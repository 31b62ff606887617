import type { DeviceConfig, ModbusRtuDevice, ModbusTag, ModbusTcpDevice, TagConfig } from '../../src/config/types.js';
import type { DriverModule, PlanLine } from '../../src/driver.js';
import { tagWidth } from './codec.js';
import { isBitArea, planRequests } from './planner.js';
import { modbusRtuDeviceSchema, modbusTcpDeviceSchema } from './schema.js';

/** `floorgate check --plan`: the reads of one poll cycle, per poll interval, shortest first. */
function planLines(device: DeviceConfig): PlanLine[] {
  const { tags } = device as ModbusTcpDevice | ModbusRtuDevice;
  const intervals = [...new Set(tags.map((t) => t.poll_interval))].sort((a, b) => a - b);
  const lines: PlanLine[] = [];
  for (const interval of intervals) {
    const inGroup = tags.filter((t) => t.poll_interval === interval);
    for (const r of planRequests(inGroup, device as ModbusTcpDevice)) {
      const unit = isBitArea(r.area) ? 'bit' : 'register';
      lines.push({
        text: `every ${interval}ms: ${r.area} ${r.start}..${r.start + r.count - 1} ` +
          `(${r.count} ${unit}${r.count === 1 ? '' : 's'}) -> ${r.tags.map((t) => t.name).join(', ')}`,
      });
    }
  }
  return lines;
}

/** `floorgate probe`: "holding 100", "holding 20..23", "holding 5 bit 3", "coil 0". */
function tagAddress(tag: TagConfig): string {
  const t = tag as ModbusTag;
  const width = tagWidth(t);
  const where = width === 1 ? `${t.area} ${t.address}` : `${t.area} ${t.address}..${t.address + width - 1}`;
  return t.bit === undefined ? where : `${where} bit ${t.bit}`;
}

export const modbusTcp: DriverModule = {
  name: 'modbus_tcp',
  schema: modbusTcpDeviceSchema,
  async create(device, ctx) {
    // The driver loads only when a Modbus device is configured.
    const [{ ModbusDriver }, { openTcpLink }] = await Promise.all([import('./driver.js'), import('./tcp-link.js')]);
    const tcp = device as ModbusTcpDevice;
    return new ModbusDriver(tcp, ctx, (signal) => openTcpLink(tcp, signal));
  },
  address: tagAddress,
  plan: planLines,
};

export const modbusRtu: DriverModule = {
  name: 'modbus_rtu',
  schema: modbusRtuDeviceSchema,
  async create(device, ctx) {
    const [{ ModbusDriver }, { RtuUnit }] = await Promise.all([import('./driver.js'), import('./rtu-link.js')]);
    const rtu = device as ModbusRtuDevice;
    // Devices on the same port share one open line (rtu-bus.ts); each driver keeps its unit's state.
    return new ModbusDriver(rtu, ctx, new RtuUnit(rtu, ctx.log).open);
  },
  address: tagAddress,
  plan: planLines,
};
