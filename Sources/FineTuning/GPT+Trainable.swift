import GPTModel

extension GPT: TrainableModel {
    /// Weight decay on the matrices and embeddings (the 2-D tensors, as llm.c's CUDA trainer and
    /// nanoGPT configure it); none on biases and LayerNorm parameters.
    public var decayRanges: [(range: Range<Int>, decay: Bool)] {
        ParameterTensor.allCases.map { (table.range($0), $0.isMatrix) }
    }
}
