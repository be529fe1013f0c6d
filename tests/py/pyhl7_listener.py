#!/usr/bin/env python3
"""An MLLP listener built only from python-hl7 (hl7.mllp.start_hl7_server and
Message.create_ack), the interop peer of tests/it/send.rs.

usage: pyhl7_listener.py CODE [N] [CERT KEY]

Binds 127.0.0.1 on a free port and prints the port on the first line of stdout. Answers each
message with msg.create_ack(CODE) (CODE is AA, AE, ...), then prints `got <MSH-10>` on stdout.
Exits after N messages (once their ACKs are written), or when stdin reaches end of input, so
the test that started it never leaves it behind. With CERT and KEY (PEM files) it serves MLLP
over TLS with Python's ssl module (OpenSSL), the TLS peer of `hl7 send --tls`.
"""
import asyncio
import os
import ssl
import sys

import hl7  # noqa: F401  (python-hl7; the import fails early when it is missing)
from hl7.mllp import start_hl7_server

CODE = sys.argv[1] if len(sys.argv) > 1 else "AA"
LIMIT = int(sys.argv[2]) if len(sys.argv) > 2 else None
TLS = None
if len(sys.argv) > 4:
    TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS.load_cert_chain(sys.argv[3], sys.argv[4])


async def main():
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    count = 0

    async def handle(reader, writer):
        nonlocal count
        try:
            while not writer.is_closing():
                msg = await reader.readmessage()
                control_id = str(msg.segment("MSH")(10))
                writer.writemessage(msg.create_ack(ack_code=CODE))
                await writer.drain()
                print(f"got {control_id}", flush=True)
                count += 1
                if LIMIT is not None and count >= LIMIT:
                    done.set()
        except asyncio.IncompleteReadError:
            pass  # the sender closed the connection
        finally:
            writer.close()

    # End when the test closes our stdin, so a failed test never leaves us behind.
    def on_stdin():
        if not os.read(0, 4096):
            loop.remove_reader(0)
            done.set()

    loop.add_reader(0, on_stdin)
    server = await start_hl7_server(handle, "127.0.0.1", 0, ssl=TLS)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await done.wait()


asyncio.run(main())
