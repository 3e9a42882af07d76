# The GPTQ benchmark, run tiny so that it cannot rot: the table and the JSON
# keep their shape, and GPTQ's output error stays below round-to-nearest's.
# Speed itself is never asserted.
# RUN: quantc-bench-gptq --rows 32 --cols 256 --tokens 3000 --targets ui4:g128,q4_K,si8 --json %t.json > %t.table
# RUN: FileCheck %s < %t.table
# RUN: %python %s %t.json %t.table

# CHECK: GPTQ of a 32 x 256 layer, 3000 calibration tokens, {{[0-9]+}} threads; bar 30 s (Hessian + solve)
# CHECK: | target | hessian_s | gptq_s | total_s | total / bar | gptq / dgemm | ms per column | error GPTQ / RTN |
# CHECK-NEXT: | --- | ---: |
# CHECK-NEXT: | ui4:g128 | {{[0-9.]+}} | {{[0-9.]+}} | {{[0-9.]+}} | {{[0-9.]+}}x | {{[0-9.]+}}x | {{[0-9.]+}} | 0.{{[0-9]+}} |
# CHECK-NEXT: | q4_K |
# CHECK-NEXT: | si8 |

import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)
with open(sys.argv[2]) as f:
    # The JSON line closes the table output too.
    assert json.loads(f.read().strip().splitlines()[-1]) == report

assert report["benchmark"] == "gptq"
assert (report["rows"], report["cols"], report["tokens"]) == (32, 256, 3000)
assert report["threads"] >= 1 and report["bar_s"] == 30
assert report["hessian_s"] > 0
names = [entry["target"] for entry in report["targets"]]
assert names == ["ui4:g128", "q4_K", "si8"], names
for entry in report["targets"]:
    assert entry["gptq_s"] > 0, entry
    assert abs(entry["total_s"] - report["hessian_s"] - entry["gptq_s"]) < 1e-3 * entry["total_s"] + 1e-3, entry
    assert abs(entry["bar_ratio"] - entry["total_s"] / 30) < 1e-3, entry
    assert entry["damp_retries"] == 0, entry
    assert 0 < entry["error_gptq"] < entry["error_rtn"], entry
print("gptq bench report ok:", len(names), "targets")
