# The Python package drives quant-opt and surfaces its diagnostics.
# RUN: %python %s | FileCheck %s

import quantc

IR = """
func.func @fc(%x: tensor<4x64xf32>, %out: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                     outs(%out : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}
"""

# CHECK: qc.observe %{{.*}} "fc/matmul_0/in0" : tensor<4x64xf32>
# CHECK: qc.observe %{{.*}} "fc/matmul_0/in1" axis(1) : tensor<64x32xf32>
print(quantc.quant_opt(IR, "--qc-insert-observers"))

# CHECK: refused: quant-opt exit 1
# CHECK-SAME: row length 172 is not a multiple of the q4_K block size 256
try:
    quantc.quant_opt("func.func private @f(!qc.packed<64x172, q4_K>)")
except quantc.QuantcError as error:
    print(f"refused: {error.tool} exit {error.returncode}", error.diagnostics.replace("\n", " "))
