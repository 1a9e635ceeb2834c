// Softmax and cross-entropy over a padded vocabulary, with per-token loss weights
// (llm.c softmax_forward + crossentropy_forward + crossentropy_softmax_backward; FORMATS.md §7.4).
//
//   logits: (N, Vp)   only the first V columns are real tokens; pad columns get no probability
//                     and no gradient, so pad rows of the tied wte never learn
//   targets: (N)      0 <= target < V where the weight is not 0; ignored where it is 0
//   weights: (N)      loss weight per token, or none for all 1 (a loss mask is 0/1 weights)
//   losses: (N)       -log softmax(logits[n, 0..<V])[target], 0 where the weight is 0
//   lse: (N)          log-sum-exp of each row, kept for the backward pass instead of the
//                     (N, Vp) probabilities (412 MB at d12, B=8, T=256)

import Foundation

public enum SoftmaxCrossEntropy {
    public static func forward(losses: UnsafeMutableBufferPointer<Float>, lse: UnsafeMutableBufferPointer<Float>,
                               logits: UnsafeBufferPointer<Float>, targets: UnsafeBufferPointer<Int32>,
                               weights: UnsafeBufferPointer<Float>?, N: Int, V: Int, Vp: Int, threads: Int) {
        precondition(V > 0 && Vp >= V && logits.count >= N * Vp && targets.count >= N)
        precondition(losses.count >= N && lse.count >= N && (weights.map { $0.count >= N } ?? true))
        guard N > 0, let l = logits.baseAddress, let tg = targets.baseAddress, let ls = losses.baseAddress,
              let lz = lse.baseAddress else { return }
        let w = weights?.baseAddress
        Parallel.forEachChunk(N, threads: threads) { _, rows in
            for n in rows {
                // Rows with weight 0 (masked prompt tokens) cost nothing: no softmax, no gradient.
                if let w, w[n] == 0 { ls[n] = 0; lz[n] = 0; continue }
                let t = Int(tg[n])
                precondition(t >= 0 && t < V, "target \(t) outside the vocabulary (\(V))")
                let row = l + n * Vp
                let z = logSumExp(row, V)
                lz[n] = z
                ls[n] = z - row[t]
            }
        }
    }

    /// log Σ_{i<V} e^{row[i]}, subtracting the maximum first so that no exponent overflows.
    @inline(__always)
    static func logSumExp(_ row: UnsafePointer<Float>, _ V: Int) -> Float {
        let lowest = -Float.greatestFiniteMagnitude
        var m = F16(repeating: lowest), i = 0
        while i + 16 <= V { m = vmax(m, load16(row + i)); i += 16 }
        if i < V { m = vmax(m, loadPartial(row + i, V - i, fill: lowest)) }
        var mx = m[0]
        for j in 1..<16 { mx = Swift.max(mx, m[j]) }
        let vm = F16(repeating: mx)
        var acc = F16()
        i = 0
        while i + 16 <= V { acc += SIMDMath.exp(load16(row + i) - vm); i += 16 }
        var s = acc.sum()
        while i < V { s += SIMDMath.exp(row[i] - mx); i += 1 }
        return mx + Foundation.log(s)
    }

    /// Turns the logits into their gradients, in place: for i < V,
    /// dlogits[n][i] = scale · weight[n] · (softmax[i] - 1{i = target[n]}), and 0 for pad columns.
    /// This overwrites rather than accumulates: the logits are the start of the backward chain,
    /// and reusing their buffer saves an (N, Vp) allocation. `lse` comes from `forward`.
    public static func backward(logits: UnsafeMutableBufferPointer<Float>, lse: UnsafeBufferPointer<Float>,
                                targets: UnsafeBufferPointer<Int32>, weights: UnsafeBufferPointer<Float>?,
                                scale: Float, N: Int, V: Int, Vp: Int, threads: Int) {
        precondition(V > 0 && Vp >= V && logits.count >= N * Vp && targets.count >= N && lse.count >= N)
        precondition(weights.map { $0.count >= N } ?? true)
        guard N > 0, let l = logits.baseAddress, let tg = targets.baseAddress, let lz = lse.baseAddress else { return }
        let w = weights?.baseAddress
        Parallel.forEachChunk(N, threads: threads) { _, rows in
            for n in rows {
                let row = l + n * Vp
                let f = scale * (w?[n] ?? 1)
                if f == 0 {
                    row.update(repeating: 0, count: Vp)
                    continue
                }
                let vf = F16(repeating: f), vz = F16(repeating: lz[n])
                var i = 0
                while i + 16 <= V { store16(vf * SIMDMath.exp(load16(row + i) - vz), row + i); i += 16 }
                while i < V { row[i] = f * SIMDMath.exp(row[i] - lz[n]); i += 1 }
                (row + V).update(repeating: 0, count: Vp - V)
                row[Int(tg[n])] -= f
            }
        }
    }

    /// Reference, in Double: the per-token losses (0 where the weight is 0).
    public static func naiveForward(logits: [Double], targets: [Int32], weights: [Double]?,
                                    N: Int, V: Int, Vp: Int) -> [Double] {
        (0..<N).map { n in
            if let weights, weights[n] == 0 { return 0 }
            let row = logits[n * Vp ..< n * Vp + V]
            let mx = row.max() ?? 0
            let z = mx + Foundation.log(row.map { Foundation.exp($0 - mx) }.reduce(0, +))
            return z - logits[n * Vp + Int(targets[n])]
        }
    }
}
