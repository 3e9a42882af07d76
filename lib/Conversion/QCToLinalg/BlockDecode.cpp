//===- BlockDecode.cpp - llama.cpp block formats decoded in IR ------------===//
//
// Placeholder until the block decoders land (a parallel change replaces
// this file): no format has an IR decoder yet, so convert-qc-to-linalg
// reports every `!qc.packed` weight as unsupported instead of miscompiling.
//
//===----------------------------------------------------------------------===//

#include "BlockDecode.h"

using namespace mlir;

FailureOr<Value> mlir::qc::buildPackedDequantize(OpBuilder &, Location, Value,
                                                 qc::PackedType) {
  return failure();
}
