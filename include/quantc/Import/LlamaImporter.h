//===- LlamaImporter.h - a Llama checkpoint as linalg-on-tensors -*- C++ -*-===//
//
// Builds the whole Llama forward pass as one `func.func @forward` in
// linalg/tensor/arith/math, with every weight an `ml_program.global` whose
// value is a `#qc.external` reference into the checkpoint (never printed).
//
// The entry point processes a run of T tokens (T dynamic) at positions
// pos..pos+T-1 against a KV cache held by the caller:
//
//   func.func @forward(%tokens: tensor<?xi32>, %pos: index,
//                      %k_cache: tensor<LxSxKVxf32>, %v_cache: tensor<LxSxKVxf32>,
//                      %logits: tensor<?xVxf32>)
//       -> (tensor<?xVxf32>, tensor<LxSxKVxf32>, tensor<LxSxKVxf32>)
//
// L layers, S the context length, KV = kv heads x head size, V the
// vocabulary. Results are the destinations updated (destination-passing
// style), so bufferization writes in place and the C interface is
// `forward(tokens, pos, k_cache, v_cache, logits)`. The caller guarantees
// token ids < V and pos + T <= S (the runtime checks both).
//
// Module attributes name where the model came from: `qc.source`,
// `qc.source_kind`, and `qc.tokenizer` when a vocabulary is known.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_IMPORT_LLAMAIMPORTER_H
#define QUANTC_IMPORT_LLAMAIMPORTER_H

#include "quantc/IO/LlamaSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir {
class DialectRegistry;
class MLIRContext;
} // namespace mlir

namespace quantc {

/// The dialects an imported module uses.
void registerImportDialects(mlir::DialectRegistry &registry);

/// Builds the module; the context must have the import dialects loaded or
/// loadable. Never fails on a spec that `loadLlamaSpec` accepted.
mlir::OwningOpRef<mlir::ModuleOp> importLlama(mlir::MLIRContext &context,
                                              const io::LlamaSpec &spec);

} // namespace quantc

#endif // QUANTC_IMPORT_LLAMAIMPORTER_H
