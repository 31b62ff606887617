"""An independent Modbus TCP server for the cross-check in pymodbus.test.ts.

Run with Debian's /usr/bin/python3 (pymodbus 3.0.0rc1). Serves, for each byte order, one block of
values built with pymodbus' own BinaryPayloadBuilder, at holding register 100 * index (input
registers hold the ABCD block too), plus a few coils and discrete inputs. Listens on a free
loopback port and prints {"port": N} once it serves. Exits on its own after a minute, so a
crashed test run leaves nothing behind.

Options, for devices that behave less kindly:
  --unit N               answer unit id N only (others get exception 0x0B), like a device
                         addressed directly over TCP that insists on 255
  --close-after-reply    close the connection after every reply, like some PLCs and gateways
"""
import argparse
import asyncio
import json
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.server.async_io import ModbusConnectedRequestHandler, ModbusTcpServer

# byte order name -> (byteorder within a register, word order)
ORDERS = {
    "ABCD": (Endian.Big, Endian.Big),
    "BADC": (Endian.Little, Endian.Big),
    "CDAB": (Endian.Big, Endian.Little),
    "DCBA": (Endian.Little, Endian.Little),
}

# Offsets inside each block; pymodbus.test.ts expects the same layout.
#  +0 int16  +1 uint16  +2 int32  +4 uint32  +6 float32  +8 int64  +12 uint64  +16 float64  +20 string(5 regs)


def block(byteorder, wordorder):
    b = BinaryPayloadBuilder(byteorder=byteorder, wordorder=wordorder)
    b.add_16bit_int(-1234)
    b.add_16bit_uint(54321)
    b.add_32bit_int(-123456789)
    b.add_32bit_uint(3000000000)
    b.add_32bit_float(123.456)
    b.add_64bit_int(-1234567890123456789)
    b.add_64bit_uint(18446744073709551000)
    b.add_64bit_float(-98765.4321)
    b.add_string("FLOORGATE")
    return b.to_registers()


class CloseAfterReply(ModbusConnectedRequestHandler):
    def _send_(self, data):
        self.transport.write(data)
        self.transport.close()


async def main(args):
    holding = [0] * 500
    for i, (byteorder, wordorder) in enumerate(ORDERS.values()):
        regs = block(byteorder, wordorder)
        holding[100 * i : 100 * i + len(regs)] = regs
    store = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, holding),
        ir=ModbusSequentialDataBlock(0, block(Endian.Big, Endian.Big) + [0] * 10),
        co=ModbusSequentialDataBlock(0, [False, True, True, False, True] + [False] * 11),
        di=ModbusSequentialDataBlock(0, [True, False, False, True] + [False] * 12),
        zero_mode=True,
    )
    context = (ModbusServerContext(slaves=store, single=True) if args.unit is None
               else ModbusServerContext(slaves={args.unit: store}, single=False))
    server = ModbusTcpServer(context, address=("127.0.0.1", 0),
                             handler=CloseAfterReply if args.close_after_reply else None)
    serving = asyncio.ensure_future(server.serve_forever())
    await server.serving
    print(json.dumps({"port": server.server.sockets[0].getsockname()[1]}), flush=True)
    try:
        await asyncio.wait_for(serving, timeout=60)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", type=int)
    parser.add_argument("--close-after-reply", action="store_true")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
