import type { DriverModule } from '../../src/driver.js';
import type { OpcuaTag } from '../../src/config/types.js';
import { opcuaDeviceSchema } from './schema.js';

export const opcua: DriverModule = {
  name: 'opcua',
  schema: opcuaDeviceSchema,
  isPushTag: (_device, tag) => (tag as OpcuaTag).mode === 'subscribe',
  async create() {
    throw new Error('the opcua driver is not available in this version: the device validates but cannot be polled yet');
  },
};
