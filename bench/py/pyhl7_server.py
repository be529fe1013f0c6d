#!/usr/bin/env python3
"""python-hl7's asyncio MLLP server (hl7.mllp.start_hl7_server, Message.create_ack), the peer
of bench/run: answers AA to every message. Prints its port on the first line of stdout; runs
until killed.
"""
import asyncio

from hl7.mllp import start_hl7_server


async def main():
    async def handle(reader, writer):
        try:
            while not writer.is_closing():
                msg = await reader.readmessage()
                writer.writemessage(msg.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    server = await start_hl7_server(handle, "127.0.0.1", 0, encoding="latin-1")
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
