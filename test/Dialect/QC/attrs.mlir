// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --emit-bytecode | quant-opt | FileCheck %s

// Statistics keep every bit of a double: values that have no short decimal
// spelling come back in hex.
// CHECK-LABEL: func private @stats
// CHECK-SAME: qc.exact = #qc.stats<count = 2, min = [0.30000000000000004], max = [1.7976931348623157E+308]>
// CHECK-SAME: qc.histogram = #qc.histogram<lo = 0.000000e+00, hi = 1.000000e-03, counts = [3]>
// CHECK-SAME: qc.per_channel = #qc.stats<count = 3, axis = 2, min = [-1.500000e+00, 2.000000e+00, 1.000000e-01], max = [0.000000e+00, 2.000000e+00, 1.000000e+30]>
// CHECK-SAME: qc.per_tensor = #qc.stats<count = 1, min = [0.000000e+00], max = [0.000000e+00]>
// CHECK-SAME: qc.with_histogram = #qc.stats<count = 9, min = [-4.000000e+00], max = [4.000000e+00], histogram = <lo = -4.000000e+00, hi = 4.000000e+00, counts = [0, 9, 0]>>
func.func private @stats() attributes {
  qc.exact = #qc.stats<count = 2, min = [0.30000000000000004], max = [0x7FEFFFFFFFFFFFFF]>,
  qc.per_tensor = #qc.stats<count = 1, min = [0.0], max = [0.0]>,
  qc.per_channel = #qc.stats<count = 3, axis = 2, min = [-1.5, 2.0, 0.1], max = [0.0, 2.0, 1.0e30]>,
  qc.with_histogram = #qc.stats<count = 9, min = [-4.0], max = [4.0],
                                histogram = <lo = -4.0, hi = 4.0, counts = [0, 9, 0]>>,
  qc.histogram = #qc.histogram<lo = 0.0, hi = 0.001, counts = [3]>
}
