//===- Projections.h - the projections of a model and their weights -*- C++ -*-===//
//
// What the weight-rewriting passes (qc-smoothquant, qc-awq, qc-gptq) share:
// finding each projection (a linalg.matmul whose weight is a float constant
// or global), reading and replacing its weight's values, choosing its
// scheme from keep-float globs and per-weight overrides as qc-quantize
// does, and finding where a per-channel scale of a projection's input can be
// folded (the norm weight that produces it, or the projection whose output
// it multiplies).
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_LIB_TRANSFORMS_PROJECTIONS_H
#define QUANTC_LIB_TRANSFORMS_PROJECTIONS_H

#include "QC/QCOps.h"

#include "quantc/IO/MappedFile.h"
#include "quantc/Numerics/Scheme.h"
#include "quantc/Numerics/WeightTarget.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MLProgram/IR/MLProgram.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/GlobPattern.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mlir::qc {

/// Splits a comma-separated list, keeping commas inside glob braces
/// (`blk.{0,1}.*`).
SmallVector<StringRef> splitList(StringRef text);

/// The narrow tensor an elementwise f32 widening reads, when `value` is one
/// (how `quantc import` feeds f16/bf16 weights to f32 ops); null otherwise.
Value getWidenedSource(Value value);

/// A weight's values and where they live.
struct WeightRef {
  /// The constant global, or null for an arith.constant.
  ml_program::GlobalOp global;
  arith::ConstantOp constant;
  std::string name;
  RankedTensorType type;
};

/// One projection: y = x W^T (weight [N, K]) or y = x W (weight [K, N]).
struct ProjectionSite {
  linalg::MatmulOp matmul;
  /// Its input activation, looking through qc.observe.
  Value input;
  WeightRef weight;
  /// The weight is stored [K, N].
  bool transposed = false;
  /// Names globs match: the weight's, and `output.weight` for a classifier
  /// tied to the token embedding.
  SmallVector<std::string, 2> names;
  int64_t rows() const; // N, output channels
  int64_t cols() const; // K, input channels
};

/// Every projection of every function, in program order. Matmuls that are
/// not projections of a float constant weight are skipped (qc-quantize is
/// where those are refused).
std::vector<ProjectionSite> findProjections(ModuleOp module);

/// Projections that read one input (q, k and v read the attention norm's
/// output), in program order.
struct InputGroup {
  Value input;
  SmallVector<ProjectionSite *> sites;
  /// The input's channels (every site's K).
  int64_t cols = 0;
};
std::vector<InputGroup> groupByInput(ArrayRef<ProjectionSite *> sites);

/// Reads float weights (f32/f16/bf16, `#qc.external` or dense) as f32,
/// mapping each file once.
class WeightStore {
public:
  /// The values of `weight` in its stored layout, row-major; diagnostics go
  /// to `where`.
  FailureOr<std::vector<float>> read(const WeightRef &weight, Operation *where);
  /// A projection's weight as [N, K] rows (transposed when stored [K, N]).
  FailureOr<std::vector<float>> readRows(const ProjectionSite &site);
  /// Replaces the values of a constant (global or arith.constant) with
  /// `values` (row-major in its stored layout), as dense elements of its
  /// own element type.
  static void write(WeightRef &weight, ArrayRef<float> values);
  /// write() for a projection's [N, K] rows.
  static void writeRows(ProjectionSite &site, ArrayRef<float> rows);

private:
  std::map<std::string, std::shared_ptr<const quantc::io::MappedFile>> files;
};

/// The constant a value is (through widenings and qc.observe), or a null
/// WeightRef.
WeightRef getWeightRef(Value value, SymbolTable &symbols);

/// Chooses each projection's scheme as qc-quantize does: the first override
/// whose glob matches one of its names, else keep-float, else the scheme.
class SchemeSelector {
public:
  /// Parses the options; on failure returns the message.
  static FailureOr<SchemeSelector> parse(StringRef scheme, StringRef keepFloat,
                                         StringRef overrides,
                                         std::string &error);
  /// Null when the projection stays float.
  const quantc::Scheme *select(const ProjectionSite &site) const;
  const quantc::Scheme &getScheme() const { return scheme; }

private:
  quantc::Scheme scheme;
  std::vector<std::pair<llvm::GlobPattern, quantc::Scheme>> overrides;
  std::vector<llvm::GlobPattern> keepFloat;
};

/// The weight-only target `scheme` stores a row of `cols` in, after
/// llama.cpp's fallbacks; nullopt when the scheme is not weight-only
/// integer/block storage or falls back to a float format.
std::optional<quantc::WeightTarget> getWeightTarget(const quantc::Scheme &scheme,
                                                    int64_t cols);

/// Where a per-channel scale of a projection input can be absorbed: input
/// channel j divided by s_j without adding an op.
struct ScaleFold {
  enum class Kind { None, NormWeight, ProducerRows } kind = Kind::None;
  /// NormWeight: the 1-D weight the producing op multiplies by.
  WeightRef norm;
  /// ProducerRows: the projection whose output channel j the producing op
  /// multiplies channel j by.
  linalg::MatmulOp producer;
  /// Why there is none, for diagnostics.
  std::string reason;
};

/// Finds how `input`'s channels can be divided by a scale: its producer is
/// an elementwise linalg.generic whose result is a product with (a) a 1-D
/// constant indexed by the channel (RMSNorm/LayerNorm weight), or (b) the
/// output of a projection read by nothing else (SwiGLU's up projection).
/// Every user of `input` must be a projection in `readers` (the scale
/// changes all of them).
ScaleFold findScaleFold(Value input, ArrayRef<linalg::MatmulOp> readers,
                        SymbolTable &symbols);

/// Float weights being rewritten: each read once, edited in memory, and
/// written back (as dense values) by commit().
class WeightEdits {
public:
  /// A projection's weight as [N, K] rows.
  FailureOr<std::vector<float> *> rows(ProjectionSite &site);
  /// A 1-D weight (a norm's).
  FailureOr<std::vector<float> *> vector(const WeightRef &weight,
                                         Operation *where);
  void commit();

private:
  struct Edit {
    WeightRef weight;
    ProjectionSite *site = nullptr;
    std::vector<float> values;
  };
  WeightStore store;
  std::map<Operation *, Edit> edits;
};

/// Multiplies column j of every weight in `group` by scales[j] and divides
/// the input's channel j by it where `fold` says, so the float function is
/// unchanged. `sites` holds every projection (the fold's producer among
/// them).
LogicalResult applyInputScale(const InputGroup &group, ArrayRef<float> scales,
                              const ScaleFold &fold,
                              std::vector<ProjectionSite> &sites,
                              WeightEdits &edits);

/// True when the weight is also read outside projections (a classifier
/// tied to the token embedding): rewriting its values would change the
/// embedding too.
bool isTiedWeight(const ProjectionSite &site);

} // namespace mlir::qc

#endif // QUANTC_LIB_TRANSFORMS_PROJECTIONS_H
