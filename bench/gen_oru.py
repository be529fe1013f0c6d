#!/usr/bin/env python3
"""Writes a deterministic stream of ORU^R01 messages (about 3.5 KB each, 20-40 OBX) to stdout,
until SIZE bytes (default 100 MB). Used by bench/run until `hl7 simulate` exists (issue 3)."""
import random
import sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000_000
rng = random.Random(42)
out = sys.stdout.buffer
tests = [("718-7", "Hemoglobin", "g/dL", "12.0-16.0"), ("4544-3", "Hematocrit", "%", "36-46"),
         ("6690-2", "Leukocytes", "10*3/uL", "4.5-11.0"), ("777-3", "Platelets", "10*3/uL", "150-400"),
         ("2345-7", "Glucose", "mg/dL", "70-99"), ("2951-2", "Sodium", "mmol/L", "135-145"),
         ("2823-3", "Potassium", "mmol/L", "3.5-5.1"), ("2160-0", "Creatinine", "mg/dL", "0.6-1.3")]
written = 0
n = 0
while written < size:
    n += 1
    segs = [
        f"MSH|^~\\&|LAB|GENERAL HOSPITAL|EHR|GENERAL HOSPITAL|2024031509{n % 60:02d}00||ORU^R01^ORU_R01|MSG{n:09d}|P|2.5.1|||AL|NE||UNICODE UTF-8",
        f"PID|1||{rng.randrange(10**7):07d}^^^GH^MR~{rng.randrange(10**9):09d}^^^SSA^SS||DOE^JANE^Q^^^^L||19{rng.randrange(40, 99)}0{rng.randrange(1, 9)}1{rng.randrange(0, 9)}|F|||123 MAIN ST^^SPRINGFIELD^IL^62701^USA||(217)555-0{rng.randrange(100, 999)}",
        f"PV1|1|I|ICU^0{rng.randrange(1, 9)}^A^GH||||1234^WELBY^MARCUS^^^DR^MD|||MED||||||||V{n:08d}",
        f"ORC|RE|ORD{n:08d}^EHR|FIL{n:08d}^LAB||CM",
        f"OBR|1|ORD{n:08d}^EHR|FIL{n:08d}^LAB|24323-8^Comprehensive metabolic panel^LN|||20240315083000|||||||||1234^WELBY^MARCUS^^^DR^MD||||||20240315090000|||F",
    ]
    for i in range(rng.randrange(20, 41)):
        code, name, unit, rr = tests[i % len(tests)]
        v = round(rng.uniform(1, 200), 1)
        flag = "H" if v > 150 else ("L" if v < 5 else "N")
        segs.append(f"OBX|{i + 1}|NM|{code}^{name}^LN||{v}|{unit}^{unit}^UCUM|{rr}|{flag}|||F|||20240315085500||||GH-ANALYZER-{i % 4}")
    if n % 5 == 0:
        segs.append("NTE|1||Specimen slightly hemolyzed\\.br\\Results may be affected \\T\\ repeated")
    msg = ("\r".join(segs) + "\r").encode()
    out.write(msg)
    written += len(msg)
