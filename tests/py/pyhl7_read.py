#!/usr/bin/env python3
"""Reads `hl7 simulate --to hl7` output on stdin (messages of \\r-ended segments, one per line)
and parses every message with python-hl7, decoding per MSH-18. Touches every segment, field and
OBX-5, checks MSH-9 and MSH-10, and prints `N messages` on success; exits 1 naming the message
that python-hl7 could not read."""
import sys

import hl7

ENCODINGS = {"8859/1": "latin-1", "UNICODE UTF-8": "utf-8", "UNICODE": "utf-8", "": "utf-8", "ASCII": "utf-8"}

count = 0
for n, raw in enumerate(sys.stdin.buffer.read().split(b"\n"), 1):
    if not raw.strip():
        continue
    header = raw.split(b"\r", 1)[0].split(b"|")
    charset = header[17].decode("ascii") if len(header) > 17 else ""
    try:
        msg = hl7.parse(raw.decode(ENCODINGS.get(charset, "utf-8")))
        assert str(msg[0][0]) == "MSH", "first segment is not MSH"
        assert str(msg[0][9]), "MSH-9 is empty"
        assert str(msg[0][10]), "MSH-10 is empty"
        for seg in msg:
            for field in seg:
                str(field)
        for obx in msg.segments("OBX") if any(str(s[0]) == "OBX" for s in msg) else []:
            msg.unescape(str(obx[5]))
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        print(f"message {n}: python-hl7 could not read it: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    count += 1
print(f"{count} messages")
