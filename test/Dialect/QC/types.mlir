// RUN: quant-opt %s | quant-opt | FileCheck %s

// Every block format of the registry spells and round-trips.
// CHECK: !qc.packed<4096x4096, q4_0>
// CHECK-SAME: !qc.packed<1x32, q4_1>
// CHECK-SAME: !qc.packed<2x32, q5_0>
// CHECK-SAME: !qc.packed<2x32, q5_1>
// CHECK-SAME: !qc.packed<2x32, q8_0>
// CHECK-SAME: !qc.packed<2x32, q8_1>
// CHECK-SAME: !qc.packed<2x256, q2_K>
// CHECK-SAME: !qc.packed<2x256, q3_K>
// CHECK-SAME: !qc.packed<2x256, q4_K>
// CHECK-SAME: !qc.packed<2x256, q5_K>
// CHECK-SAME: !qc.packed<2x256, q6_K>
// CHECK-SAME: !qc.packed<2x256, q8_K>
// CHECK-SAME: !qc.packed<2x32, iq4_nl>
// CHECK-SAME: !qc.packed<2x256, iq4_xs>
// CHECK-SAME: !qc.packed<2x256, tq1_0>
// CHECK-SAME: !qc.packed<2x256, tq2_0>
// CHECK-SAME: !qc.packed<512, q4_K>
// CHECK-SAME: !qc.packed<2x3x4x64, q8_0>
func.func private @all_formats(
  !qc.packed<4096x4096, q4_0>, !qc.packed<1x32, q4_1>, !qc.packed<2x32, q5_0>,
  !qc.packed<2x32, q5_1>, !qc.packed<2x32, q8_0>, !qc.packed<2x32, q8_1>,
  !qc.packed<2x256, q2_K>, !qc.packed<2x256, q3_K>, !qc.packed<2x256, q4_K>,
  !qc.packed<2x256, q5_K>, !qc.packed<2x256, q6_K>, !qc.packed<2x256, q8_K>,
  !qc.packed<2x32, iq4_nl>, !qc.packed<2x256, iq4_xs>, !qc.packed<2x256, tq1_0>,
  !qc.packed<2x256, tq2_0>, !qc.packed<512, q4_K>, !qc.packed<2x3x4x64, q8_0>)
