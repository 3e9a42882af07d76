// RUN: quant-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{statistics count must be positive, got 0}}
func.func private @zero_count() attributes {a = #qc.stats<count = 0, min = [0.0], max = [1.0]>}

// -----

// expected-error @+1 {{statistics of slice 0 have min 2.000000e+00 > max 1.000000e+00}}
func.func private @min_above_max() attributes {a = #qc.stats<count = 1, min = [2.0], max = [1.0]>}

// -----

// expected-error @+1 {{statistics of slice 1 are not finite (min nan, max 1.000000e+00)}}
func.func private @nan_min() attributes {a = #qc.stats<count = 1, axis = 0, min = [0.0, 0x7FF8000000000000], max = [1.0, 1.0]>}

// -----

// expected-error @+1 {{statistics of slice 0 are not finite (min 0.000000e+00, max INF)}}
func.func private @inf_max() attributes {a = #qc.stats<count = 1, min = [0.0], max = [0x7FF0000000000000]>}

// -----

// expected-error @+1 {{statistics have 2 min and 1 max values}}
func.func private @ragged() attributes {a = #qc.stats<count = 1, axis = 0, min = [0.0, 1.0], max = [1.0]>}

// -----

// expected-error @+1 {{per-tensor statistics have one min/max pair, got 2 (set axis for per-channel)}}
func.func private @per_tensor_two() attributes {a = #qc.stats<count = 1, min = [0.0, 1.0], max = [1.0, 2.0]>}

// -----

// expected-error @+1 {{statistics need at least one min/max pair}}
func.func private @empty() attributes {a = #qc.stats<count = 1, min = [], max = []>}

// -----

// expected-error @+1 {{statistics axis must be non-negative, got -2}}
func.func private @negative_axis() attributes {a = #qc.stats<count = 1, axis = -2, min = [0.0], max = [1.0]>}

// -----

// expected-error @+1 {{a histogram is per-tensor; it cannot accompany per-channel statistics}}
func.func private @channel_histogram() attributes {a = #qc.stats<count = 1, axis = 0, min = [0.0], max = [1.0], histogram = <lo = 0.0, hi = 1.0, counts = [1]>>}

// -----

// expected-error @+1 {{histogram range [1.000000e+00, 1.000000e+00] must be finite with lo < hi}}
func.func private @empty_range() attributes {a = #qc.histogram<lo = 1.0, hi = 1.0, counts = [1]>}

// -----

// expected-error @+1 {{histogram range [0.000000e+00, INF] must be finite with lo < hi}}
func.func private @infinite_range() attributes {a = #qc.histogram<lo = 0.0, hi = 0x7FF0000000000000, counts = [1]>}

// -----

// expected-error @+1 {{histogram needs at least one bin}}
func.func private @no_bins() attributes {a = #qc.histogram<lo = 0.0, hi = 1.0, counts = []>}

// -----

// expected-error @+1 {{histogram bin 1 has negative count -3}}
func.func private @negative_bin() attributes {a = #qc.histogram<lo = 0.0, hi = 1.0, counts = [1, -3]>}

// -----

// expected-error @+3 {{unexpected decimal integer literal for a floating point value}}
// expected-note @+2 {{add a trailing dot to make the literal a float}}
// expected-error @+1 {{failed to parse QC_StatsAttr parameter 'min'}}
func.func private @integer_min() attributes {a = #qc.stats<count = 1, min = [0], max = [1.0]>}

// -----

// expected-error @+1 {{struct is missing required parameter: max}}
func.func private @missing_max() attributes {a = #qc.stats<count = 1, min = [0.0]>}
