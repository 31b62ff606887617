/**
 * Devices on one serial port share one physical line (reference: "several devices may share one
 * port; floorgate serialises the bus"). That only works for an addressed bus, with one set of
 * line settings and a distinct address per device; anything else would garble every frame.
 */
import type { DeviceConfig, SerialLine } from './types.js';
import type { SourceMap, SourceProblem } from './yaml-source.js';

const LINE_KEYS = ['baud_rate', 'parity', 'data_bits', 'stop_bits'] as const satisfies readonly (keyof SerialLine)[];

type OnLine = DeviceConfig & SerialLine & { readonly unit_id?: number };

/** `devices[i]` undefined = that device did not validate (already reported). */
export function checkSharedLines(devices: readonly (DeviceConfig | undefined)[], map: SourceMap): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const firstOnPort = new Map<string, number>();
  const report = (i: number, key: string, message: string) => {
    const path = ['devices', i, key];
    problems.push({ offset: map.offsetOf(path, 'value'), path, message });
  };
  devices.forEach((d, i) => {
    if (d === undefined || !('baud_rate' in d)) return;
    const device = d as OnLine;
    const first = firstOnPort.get(device.port);
    if (first === undefined) {
      firstOnPort.set(device.port, i);
      return;
    }
    const other = devices[first] as OnLine;
    if (device.unit_id === undefined || other.unit_id === undefined) {
      report(i, 'port', `${device.port} is already used by device "${other.name}"; only addressed devices (with unit_id) can share a line`);
      return;
    }
    for (const key of LINE_KEYS) {
      if (device[key] !== other[key]) {
        report(i, key, `device "${other.name}" on the same port ${device.port} has ${key} ${other[key]}; devices sharing a line must agree`);
      }
    }
    // Compare with every earlier device on this port, not just the first.
    const clash = devices.slice(0, i).find((e) => e !== undefined && 'baud_rate' in e && (e as OnLine).port === device.port && (e as OnLine).unit_id === device.unit_id);
    if (clash) report(i, 'unit_id', `device "${clash.name}" on the same port ${device.port} already has unit_id ${device.unit_id}`);
  });
  return problems;
}
