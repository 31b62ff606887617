/**
 * `floorgate check --plan` and the status page: what the Modbus RTU devices sharing a serial
 * line ask of it. A line carries one request at a time, so a schedule whose reads need more of
 * the line's time than there is cannot be kept however fast the devices answer; this says so
 * before the plant finds out from overruns.
 *
 * The load is each poll interval's time on the line divided by that interval, summed over the
 * line's devices: with a single interval, one cycle's wire time over it. Time on the line is
 * exact for the configured plan (rtu-timing.ts): requests, replies and the silent interval
 * before each frame. The device's answer time, timeouts, retries and writes come on top;
 * floorgate_serial_line_busy_ratio measures them.
 */
import type { LineLoad, PlanLine } from '../../src/driver/contract.js';
import { lineSettings } from '../../src/serial/line-settings.js';
import { planCycles, type ReadRequest } from './planner.js';
import { readExchangeMs, readFrameBytes, silentIntervalMs } from './rtu-timing.js';
import type { ModbusRtuDevice } from './schema.js';

/** "8 + 245 bytes, 270.8 ms on the line": the cost of one read of `device`'s plan. */
export function requestCost(device: ModbusRtuDevice, r: ReadRequest): string {
  const { request, reply } = readFrameBytes(r.area, r.count);
  return `${request} + ${reply} bytes, ${readExchangeMs(device, r.area, r.count).toFixed(1)} ms on the line`;
}

/** One LineLoad per port, in the order the ports first appear. */
export function lineLoads(devices: readonly ModbusRtuDevice[]): LineLoad[] {
  const byPort = new Map<string, ModbusRtuDevice[]>();
  for (const d of devices) byPort.set(d.port, [...(byPort.get(d.port) ?? []), d]);
  return [...byPort.values()].map(lineLoad);
}

function lineLoad(devices: readonly ModbusRtuDevice[]): LineLoad {
  // The config loader made every device on a port agree on the line settings.
  const line = devices[0];
  const perInterval = new Map<number, { requests: number; ms: number }>();
  for (const device of devices) {
    for (const { interval, requests } of planCycles(device.tags, device)) {
      const cycle = perInterval.get(interval) ?? { requests: 0, ms: 0 };
      cycle.requests += requests.length;
      for (const r of requests) cycle.ms += readExchangeMs(line, r.area, r.count);
      perInterval.set(interval, cycle);
    }
  }
  const intervals = [...perInterval.keys()].sort((a, b) => a - b);
  const plan: PlanLine[] = intervals.map((interval) => {
    const { requests, ms } = perInterval.get(interval)!;
    return { text: `every ${interval}ms: ${requests} request${requests === 1 ? '' : 's'}, ${ms.toFixed(1)} ms on the line` };
  });
  return {
    line: line.port,
    title: `serial line ${line.port} (${lineSettings(line)}, t3.5 ${silentIntervalMs(line).toFixed(2)} ms)`,
    devices: devices.map((d) => d.name),
    plan,
    load: intervals.reduce((sum, interval) => sum + perInterval.get(interval)!.ms / interval, 0),
  };
}
