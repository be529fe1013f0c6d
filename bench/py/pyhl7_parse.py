#!/usr/bin/env python3
"""python-hl7's parse speed, the reference of bench/run: reads the first LIMIT bytes' worth of
whole messages of FILE (messages start at "MSH|" after a newline, as `hl7 simulate` writes
them), parses each with hl7.parse and reads every OBX-5 as text. Prints MB/s and the counts.

usage: pyhl7_parse.py FILE [LIMIT]
"""
import sys
import time

import hl7

path = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
with open(path, "rb") as f:
    data = f.read(limit + 2_000_000)
msgs = []
size = 0
for raw in data.split(b"\nMSH|"):
    if not raw.startswith(b"MSH|"):
        raw = b"MSH|" + raw
    if size + len(raw) > limit and msgs:
        break
    msgs.append(raw.rstrip(b"\n").decode("latin-1"))
    size += len(raw) + 1
start = time.perf_counter()
values = 0
for text in msgs:
    m = hl7.parse(text)
    for seg in m:
        if str(seg[0]) == "OBX":
            values += len(str(seg[5])) if len(seg) > 5 else 0
secs = time.perf_counter() - start
print(f"{size / 1e6 / secs:.2f} MB/s {len(msgs)} messages {values} value bytes {secs:.2f} s")
