import type { DriverModule } from '../../src/driver.js';
import type { SerialDevice } from '../../src/config/types.js';
import { serialDeviceSchema } from './schema.js';

export const serial: DriverModule = {
  name: 'serial',
  schema: serialDeviceSchema,
  isPushTag: (device) => (device as SerialDevice).request === undefined,
  async create() {
    throw new Error('the serial driver is not available in this version: the device validates but cannot be read yet');
  },
};
