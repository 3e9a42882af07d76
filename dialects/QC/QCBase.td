//===- QCBase.td - The qc dialect and its shared ODS helpers -*- tablegen -*-===//

#ifndef QC_BASE_TD
#define QC_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def QC_Dialect : Dialect {
  let name = "qc";
  let cppNamespace = "::mlir::qc";
  let summary = "quantc's quantization dialect, beside upstream `quant`";
  let description = [{
    The `qc` dialect holds what upstream `quant` lacks: calibration
    (`qc.observe` and the `#qc.stats` it accumulates), llama.cpp block formats
    as a packed weight type (`!qc.packed<4096x4096, q4_K>`), and
    quantize/dequantize ops that round half to even and clamp exactly like
    quantc's numerics library. Integer parameters (per-tensor, per-axis and
    sub-channel) are upstream `!quant.uniform` types; `qc` never re-invents
    them.

    ```mlir
    %a = qc.observe %x "fc1.in" stats(#qc.stats<count = 4096, min = [-2.5], max = [3.0]>) : tensor<4x64xf32>
    %q = qc.quantize %w : tensor<64x32xf32> -> tensor<64x32x!quant.uniform<i8:f32:1, {...}>>
    %p = qc.quantize %v : tensor<8x256xf32> -> !qc.packed<8x256, q4_K>
    %d = qc.dequantize %p : !qc.packed<8x256, q4_K> -> tensor<8x256xf32>
    ```
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
}

class QC_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QC_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class QC_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<QC_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

class QC_Op<string mnemonic, list<Trait> traits = []>
    : Op<QC_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Parameters with exact, bracketed spellings.
//===----------------------------------------------------------------------===//

// Printed so that it parses back to the same double (hex where needed).
def QC_F64Parameter : APFloatParameter<"a 64-bit float"> {
  let parser = "::mlir::qc::parseF64($_parser)";
  let printer = "::mlir::qc::printF64($_printer, $_self)";
}

// `[1.0, -2.5]`; held as a dense f64 array so the attribute can be uniqued.
def QC_F64ListParameter : AttrOrTypeParameter<"::mlir::DenseF64ArrayAttr",
                                              "a list of floats"> {
  let parser = "::mlir::qc::parseF64List($_parser)";
  let printer = "::mlir::qc::printF64List($_printer, $_self)";
}

def QC_I64ListParameter : ArrayRefParameter<"int64_t", "a list of integers"> {
  let parser = "::mlir::qc::parseI64List($_parser)";
  let printer = "::mlir::qc::printI64List($_printer, $_self)";
}

// `4096x4096`: static sizes only, as a weight's logical shape is.
def QC_StaticShapeParameter : ArrayRefParameter<"int64_t", "a static shape"> {
  let parser = "::mlir::qc::parseStaticShape($_parser)";
  let printer = "::mlir::qc::printStaticShape($_printer, $_self)";
}

// A storage format named as the registry in lib/Numerics spells it.
def QC_FormatParameter : AttrOrTypeParameter<"::quantc::Format",
    "a storage format from quantc's format registry"> {
  let parser = "::mlir::qc::parseFormat($_parser)";
  let printer = "::mlir::qc::printFormat($_printer, $_self)";
}

#endif // QC_BASE_TD
