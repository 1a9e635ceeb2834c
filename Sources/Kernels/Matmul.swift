// Fully connected layer through OpenBLAS sgemm (llm.c matmul_forward/backward).
//
//   inp: (N, C)   weight: (OC, C), PyTorch's nn.Linear layout   bias: (OC) or none
//   out: (N, OC)  out[n][o] = bias[o] + sum_i inp[n][i] * weight[o][i]
//
// All three products are single sgemm calls on the whole (N = B*T) batch; BLAS threads them.

public enum Matmul {
    public static func forward(out: UnsafeMutableBufferPointer<Float>, inp: UnsafeBufferPointer<Float>,
                               weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
                               N: Int, C: Int, OC: Int, threads: Int) {
        precondition(C > 0 && OC > 0 && out.count >= N * OC && inp.count >= N * C && weight.count >= OC * C)
        precondition(bias.map { $0.count >= OC } ?? true)
        guard N > 0, let y = out.baseAddress, let x = inp.baseAddress, let w = weight.baseAddress else { return }
        var beta: Float = 0
        if let bias, let b = bias.baseAddress {
            // Start from the bias and let sgemm add the product (beta = 1): one pass over out
            // instead of a second read-modify-write pass after the product.
            Parallel.forEachChunk(N, threads: threads, grain: 16) { _, rows in
                for n in rows { (y + n * OC).update(from: b, count: OC) }
            }
            beta = 1
        }
        BLAS.sgemm(transA: false, transB: true, m: N, n: OC, k: C, alpha: 1, a: x, lda: C,
                   b: w, ldb: C, beta: beta, c: y, ldc: OC)
    }

    /// Accumulates (+=): dinp += dout · weight, dweight += doutᵀ · inp, dbias += column sums of dout.
    public static func backward(dinp: UnsafeMutableBufferPointer<Float>, dweight: UnsafeMutableBufferPointer<Float>,
                                dbias: UnsafeMutableBufferPointer<Float>?, dout: UnsafeBufferPointer<Float>,
                                inp: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                                N: Int, C: Int, OC: Int, threads: Int) {
        precondition(C > 0 && OC > 0 && dinp.count >= N * C && dout.count >= N * OC && inp.count >= N * C)
        precondition(dweight.count >= OC * C && weight.count >= OC * C && (dbias.map { $0.count >= OC } ?? true))
        guard N > 0, let dx = dinp.baseAddress, let dw = dweight.baseAddress, let dy = dout.baseAddress,
              let x = inp.baseAddress, let w = weight.baseAddress else { return }
        BLAS.sgemm(transA: false, transB: false, m: N, n: C, k: OC, alpha: 1, a: dy, lda: OC,
                   b: w, ldb: C, beta: 1, c: dx, ldc: C)
        BLAS.sgemm(transA: true, transB: false, m: OC, n: C, k: N, alpha: 1, a: dy, lda: OC,
                   b: x, ldb: C, beta: 1, c: dw, ldc: C)
        if let dbias, let db = dbias.baseAddress {
            columnSums(into: db, dy, N: N, C: OC, threads: threads)
        }
    }

    /// into[i] += sum_n a[n][i], split by columns so that threads never share an output.
    static func columnSums(into: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, N: Int, C: Int, threads: Int) {
        let blocks = (C + 15) / 16
        Parallel.forEachChunk(blocks, threads: threads, grain: 4) { _, range in
            var b = range.lowerBound
            while b < range.upperBound {
                let i = b * 16
                if i + 16 <= C {
                    var acc = F16()
                    for n in 0..<N { acc += load16(a + n * C + i) }
                    store16(load16(into + i) + acc, into + i)
                } else {
                    for j in i..<C {
                        var s: Float = 0
                        for n in 0..<N { s += a[n * C + j] }
                        into[j] += s
                    }
                }
                b += 1
            }
        }
    }

    /// Reference: the triple loop, in Double (llm.c matmul_forward_naive).
    public static func naiveForward(inp: [Double], weight: [Double], bias: [Double]?, N: Int, C: Int, OC: Int) -> [Double] {
        var out = [Double](repeating: 0, count: N * OC)
        for n in 0..<N {
            for o in 0..<OC {
                var s = bias?[o] ?? 0
                for i in 0..<C { s += inp[n * C + i] * weight[o * C + i] }
                out[n * OC + o] = s
            }
        }
        return out
    }
}
