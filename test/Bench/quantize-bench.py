# The quantization benchmark, run tiny so that it cannot rot: the table and
# the JSON keep their shape. Speed itself is never asserted.
# RUN: quantc-bench-quantize --size 256 --reps 1 --threads 2 --json %t.json > %t.table
# RUN: FileCheck %s < %t.table
# RUN: %python %s %t.json %t.table

# CHECK: quantize 256 x 256 float32, MB/s of float32 (median of 1)
# CHECK: | format | ours 1T | llama.cpp 1T | ratio | ours 2T | llama.cpp 2T | ratio | ours imatrix | llama.cpp | ratio | dequant MB/s |
# CHECK-NEXT: | -{{-+}} | -{{-+}}: |
# CHECK: | f16 | {{[0-9.]+}} | 2446 | {{[0-9.]+}}x | {{[0-9.]+}} | 4836 | {{[0-9.]+}}x | — | — | — | {{[0-9.]+}} |
# CHECK: | q4_0 | {{[0-9.]+}} | 3906 | {{[0-9.]+}}x | {{[0-9.]+}} | 6201 | {{[0-9.]+}}x | {{[0-9.]+}} | 158 | {{[0-9.]+}}x | {{[0-9.]+}} |
# CHECK: | q8_1 | {{[0-9.]+}} | — | — | {{[0-9.]+}} | — | — | — | — | — | {{[0-9.]+}} |

import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)
with open(sys.argv[2]) as f:
    table_rows = [line for line in f if line.startswith("| ")][2:]  # past the header and rule

assert report["benchmark"] == "quantize"
assert (report["rows"], report["cols"], report["reps"], report["threads"]) == (256, 256, 1, 2)
assert report["isa"] in ("scalar", "avx2", "avx512")
assert report["peer"]["name"] == "llama.cpp"
assert report["peer"]["commit"] == "c392e5094deaf2d1a7c18683214f007fad3fe42b"

formats = report["formats"]
names = [entry["format"] for entry in formats]
# Every format with a codec, once each; the table has the same rows.
assert len(names) == len(set(names)) == len(table_rows)
for name in ("f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_1"):
    assert name in names, name

for entry in formats:
    runs = [entry["quantize_1t"], entry["quantize_threads"]]
    if entry["quantize_imatrix"] is not None:
        runs.append(entry["quantize_imatrix"])
    for run in runs:
        assert run["ours"] > 0, entry
        if run["peer"] is None:
            assert run["ratio"] is None, entry
        else:
            assert abs(run["ratio"] - run["ours"] / run["peer"]) < 1e-3 * run["ratio"] + 1e-3, entry
    assert entry["dequantize_1t"]["ours"] > 0, entry

by_name = {entry["format"]: entry for entry in formats}
assert by_name["f16"]["quantize_imatrix"] is None
assert by_name["q4_0"]["quantize_imatrix"]["peer"] == 158.5
# Importance-blind formats (llama.cpp's q8_0 ignores it) get no imatrix run.
assert by_name["q8_0"]["quantize_imatrix"] is None
assert by_name["q4_K"]["quantize_imatrix"]["peer"] == 36.6
print("bench report ok:", len(formats), "formats")
