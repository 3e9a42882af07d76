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

#endif // QC_TYPES_TD
