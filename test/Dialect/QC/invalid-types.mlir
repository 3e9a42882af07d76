// RUN: quant-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{row length 172 is not a multiple of the q4_K block size 256}}
func.func private @ragged_row(!qc.packed<64x172, q4_K>)

// -----

// expected-error @+1 {{row length 48 is not a multiple of the q8_0 block size 32}}
func.func private @ragged_q8(!qc.packed<4x48, q8_0>)

// -----

// expected-error @+1 {{packed tensor dimensions must be positive, got 0}}
func.func private @zero_dim(!qc.packed<0x256, q4_K>)

// -----

// expected-error @+1 {{'f16' is not a block format; use a tensor of f16}}
func.func private @float_format(!qc.packed<4x256, f16>)

// -----

// expected-error @+2 {{unknown storage format 'q9_K'; known formats: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q8_1 q2_K q3_K q4_K q5_K q6_K q8_K iq4_nl iq4_xs tq1_0 tq2_0}}
// expected-error @+1 {{failed to parse QC_PackedType parameter 'format'}}
func.func private @unknown_format(!qc.packed<4x256, q9_K>)

// -----

// K-quants keep llama.cpp's upper-case K.
// expected-error @+2 {{unknown storage format 'q4_k'}}
// expected-error @+1 {{failed to parse QC_PackedType parameter 'format'}}
func.func private @lower_case_k(!qc.packed<4x256, q4_k>)

// -----

// expected-error @+2 {{expected static shape}}
// expected-error @+1 {{failed to parse QC_PackedType parameter 'shape'}}
func.func private @dynamic_dim(!qc.packed<?x256, q4_K>)

// -----

// expected-error @+1 {{packed tensor has too many elements}}
func.func private @overflow(!qc.packed<4294967296x4294967296x256, q4_K>)

// -----

// expected-error @+1 {{storage type 'i4' must say its mapping: si<N> (symmetric) or ui<N> (asymmetric)}}
func.func private @signless_grouped(!qc.grouped<8x32, i4>)

// -----

// expected-error @+1 {{storage width of 9 bits is outside the supported 2..8}}
func.func private @wide_grouped(!qc.grouped<8x32, si9>)

// -----

// expected-error @+1 {{grouped weights are matrices (rank 2), got rank 3}}
func.func private @rank3_grouped(!qc.grouped<2x8x32, si8>)

// -----

// expected-error @+1 {{group size must be positive, got -4}}
func.func private @negative_group(!qc.grouped<8x32, ui4, group = -4>)
