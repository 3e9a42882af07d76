//===- QCTypes.td - qc types -------------------------------*- tablegen -*-===//

#ifndef QC_TYPES_TD
#define QC_TYPES_TD

include "QC/QCBase.td"

def QC_PackedType : QC_Type<"Packed", "packed"> {
  let summary = "a tensor stored in a llama.cpp block format";
  let description = [{
    Block formats are not per-element types: a `q4_K` row is 256-element
    super-blocks of bytes (scales, mins and packed nibbles together). This
    type keeps the logical shape and names the format; lowering turns it into
    a byte buffer of `rows * row_bytes` plus format-aware code. Blocks run
    along the last (reduction) dimension, which the block size must divide,
    as in GGUF. Block size, bytes per block and bits per weight come from the
    format registry in `lib/Numerics`.

    ```mlir
    !qc.packed<4096x4096, q4_K>   // 4096 rows of 16 super-blocks, 144 B each
    !qc.packed<64x32, q8_0>
    ```
  }];
  let parameters = (ins QC_StaticShapeParameter:$shape,
                        QC_FormatParameter:$format);
  let assemblyFormat = "`<` $shape `,` $format `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    const ::quantc::FormatInfo &getFormatInfo() const;
    int64_t getRank() const { return getShape().size(); }
    int64_t getNumElements() const;
    /// Elements along the blocked (last) dimension.
    int64_t getRowLength() const { return getShape().back(); }
    int64_t getNumRows() const { return getNumElements() / getRowLength(); }
    /// Bytes of the packed payload, exactly as GGUF stores it.
    uint64_t getSizeInBytes() const;
  }];
}


def QC_GroupedType : QC_Type<"Grouped", "grouped"> {
  let summary = "an integer weight matrix with affine parameters per group of a row";
  let description = [{
    quantc's integer weight formats: a `rows x cols` matrix (the logical
    shape, like `!qc.packed`) whose rows are split into groups of `group`
    columns (one group per row when `group` is absent), each group with a
    float32 scale. The storage type names width and mapping:

    - `si2`..`si8`: symmetric, zero point 0, narrow range (`si8` is
      [-127, 127]): W8A8's per-channel weights, GPTQ's `sym=True`;
    - `ui2`..`ui8`: asymmetric with a zero point per group, as GPTQ and AWQ
      int4 checkpoints store them.

    Lowering sees three planes of one byte buffer (bit-packed codes, scales,
    zero points); the layout and the quantize/dequantize maps are
    `quantc::GroupedFormat` in `lib/Numerics/GroupedAffine.h`. The last group
    of a row may be ragged.

    ```mlir
    !qc.grouped<32x64, si8>              // per output channel int8
    !qc.grouped<64x172, ui4, group = 32> // int4, groups of 32 (ragged last)
    ```
  }];
  let parameters = (ins QC_StaticShapeParameter:$shape,
                        "::mlir::IntegerType":$storageType,
                        DefaultValuedParameter<"int64_t", "0">:$groupSize);
  let assemblyFormat = [{
    `<` $shape `,` $storageType (`,` `group` `=` $groupSize^)? `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    ::quantc::GroupedFormat getFormat() const;
    int64_t getNumRows() const { return getShape().front(); }
    int64_t getRowLength() const { return getShape().back(); }
    uint64_t getSizeInBytes() const;
  }];
}

#endif // QC_TYPES_TD
