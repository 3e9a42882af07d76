// The smallest module qc-calibrate accepts with an activation observer: an
// importer-shaped @forward (vocabulary 3, context 4), no tokenizer recorded.
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %k: tensor<1x4x2xf32>,
                     %v: tensor<1x4x2xf32>, %logits: tensor<?x3xf32>)
      -> (tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>) {
    %0 = qc.observe %logits "logits" : tensor<?x3xf32>
    return %0, %k, %v : tensor<?x3xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>
  }
}
