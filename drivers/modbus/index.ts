import type { DriverModule } from '../../src/driver.js';
import { modbusRtuDeviceSchema, modbusTcpDeviceSchema } from './schema.js';

export const modbusTcp: DriverModule = {
  name: 'modbus_tcp',
  schema: modbusTcpDeviceSchema,
  async create() {
    throw new Error('not wired yet');
  },
};

export const modbusRtu: DriverModule = {
  name: 'modbus_rtu',
  schema: modbusRtuDeviceSchema,
  async create() {
    throw new Error('the modbus_rtu driver is not available in this version: the device validates but cannot be polled yet');
  },
};
