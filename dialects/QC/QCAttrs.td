//===- QCAttrs.td - qc attributes --------------------------*- tablegen -*-===//

#ifndef QC_ATTRS_TD
#define QC_ATTRS_TD

include "QC/QCBase.td"
include "mlir/IR/EnumAttr.td"

def QC_HistogramAttr : QC_Attr<"Histogram", "histogram"> {
  let summary = "a histogram of observed values over [lo, hi)";
  let description = [{
    `counts` holds equal-width bins spanning `[lo, hi]`; the last bin is
    closed. Calibration methods that search a clipping range (percentile,
    entropy/KL, MSE) read it; PyTorch, ONNX Runtime and TensorRT use 2048
    bins.

    ```mlir
    #qc.histogram<lo = -4.0, hi = 4.0, counts = [1, 10, 40, 10, 1]>
    ```
  }];
  let parameters = (ins QC_F64Parameter:$lo, QC_F64Parameter:$hi,
                        QC_I64ListParameter:$counts);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumBins() const { return getCounts().size(); }
    double getLoValue() const { return getLo().convertToDouble(); }
    double getHiValue() const { return getHi().convertToDouble(); }
    double getBinWidth() const {
      return (getHiValue() - getLoValue()) / getNumBins();
    }
  }];
}

def QC_StatsAttr : QC_Attr<"Stats", "stats"> {
  let summary = "statistics calibration gathered for one tensor";
  let description = [{
    What `qc-calibrate` writes onto a `qc.observe`: how many values were seen,
    their range (one `min`/`max` pair per tensor, or one per slice along
    `axis` for per-channel statistics), and optionally a histogram. Range
    selection (min/max, percentile, entropy, MSE) turns these into the
    parameters of a `!quant.uniform` type.

    ```mlir
    #qc.stats<count = 4096, min = [-2.5], max = [3.0]>
    #qc.stats<count = 512, axis = 1, min = [-1.0, -0.5], max = [1.0, 2.0]>
    #qc.stats<count = 4096, min = [-2.5], max = [3.0],
              histogram = <lo = -2.5, hi = 3.0, counts = [7, 4000, 89]>>
    ```
  }];
  let parameters = (ins "int64_t":$count,
                        OptionalParameter<"std::optional<int64_t>">:$axis,
                        QC_F64ListParameter:$min, QC_F64ListParameter:$max,
                        OptionalParameter<"::mlir::qc::HistogramAttr">:$histogram);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isPerChannel() const { return getAxis().has_value(); }
    /// Largest magnitude seen in slice `i`, what symmetric schemes need.
    double getAbsMax(size_t i) const;
  }];
}

def QC_ExternalAttr : QC_Attr<"External", "external"> {
  let summary = "a weight whose bytes stay in a model file";
  let description = [{
    The value of an `ml_program.global` whose contents live in a file at a
    byte offset, in the global's element type, row-major. The importer writes
    these so that a model is never printed into IR; the CPU pipeline
    (`qc-bind-external-weights`) turns each load of such a global into a
    view of a memory-mapped file that the runtime passes in.

    ```mlir
    ml_program.global private @"blk.0.attn_q.weight"(
        #qc.external<path = "/models/stories260K.bin", offset = 8220>)
        : tensor<64x64xf32>
    ```
  }];
  let parameters = (ins StringRefParameter<"path of the file">:$path,
                        "uint64_t":$offset);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}


def QC_DynamicGranularity : I32EnumAttr<"DynamicGranularity",
    "how activations quantized at run time share a scale", [
      I32EnumAttrCase<"PerToken", 0, "per_token">,
      I32EnumAttrCase<"PerTensor", 1, "per_tensor">]> {
  let cppNamespace = "::mlir::qc";
}

#endif // QC_ATTRS_TD
