#!/usr/bin/env python3
"""python-hl7's asyncio MLLP client (hl7.mllp.open_hl7_connection), the peer of bench/run:
sends the messages of FILE one at a time over one connection, waits for each ACK, N messages
in all (cycling through the file). Prints messages per second.

usage: pyhl7_client.py HOST:PORT FILE N
"""
import asyncio
import sys
import time

import hl7
from hl7.mllp import open_hl7_connection

addr, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
with open(path, "rb") as f:
    data = f.read(20_000_000)
texts = []
for raw in data.split(b"\nMSH|"):
    if not raw.startswith(b"MSH|"):
        raw = b"MSH|" + raw
    texts.append(raw.rstrip(b"\n").decode("latin-1"))
    if len(texts) > min(n, 1000):
        break
# parsed once, before the clock starts (python-hl7 messages are large objects: a thousand
# distinct ones, cycled, keep this process small)
msgs = [hl7.parse(t) for t in texts[:-1] or texts]


async def main():
    reader, writer = await open_hl7_connection(host, int(port), encoding="latin-1")
    start = time.perf_counter()
    for i in range(n):
        writer.writemessage(msgs[i % len(msgs)])
        await writer.drain()
        ack = await reader.readmessage()
        if str(ack.segment("MSA")[1]) not in ("AA", "CA"):
            sys.exit(f"message {i + 1} not accepted: {ack}")
    secs = time.perf_counter() - start
    writer.close()
    print(f"{n / secs:.0f} msg/s {n} messages {secs:.2f} s")


asyncio.run(main())
