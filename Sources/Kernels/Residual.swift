// Residual connection (llm.c residual_forward/backward).
//
//   a, b, out: (N)   out = a + b

public enum Residual {
    public static func forward(out: UnsafeMutableBufferPointer<Float>, a: UnsafeBufferPointer<Float>,
                               b: UnsafeBufferPointer<Float>, N: Int, threads: Int) {
        precondition(out.count >= N && a.count >= N && b.count >= N)
        guard N > 0, let y = out.baseAddress, let x1 = a.baseAddress, let x2 = b.baseAddress else { return }
        Parallel.forEachChunk((N + 15) / 16, threads: threads, grain: 4096) { _, blocks in
            var i = blocks.lowerBound * 16
            let end = Swift.min(N, blocks.upperBound * 16)
            while i + 16 <= end { store16(load16(x1 + i) + load16(x2 + i), y + i); i += 16 }
            while i < end { y[i] = x1[i] + x2[i]; i += 1 }
        }
    }

    /// Accumulates: da += dout, db += dout.
    public static func backward(da: UnsafeMutableBufferPointer<Float>, db: UnsafeMutableBufferPointer<Float>,
                                dout: UnsafeBufferPointer<Float>, N: Int, threads: Int) {
        precondition(da.count >= N && db.count >= N && dout.count >= N)
        guard N > 0, let g1 = da.baseAddress, let g2 = db.baseAddress, let g = dout.baseAddress else { return }
        Parallel.forEachChunk((N + 15) / 16, threads: threads, grain: 4096) { _, blocks in
            var i = blocks.lowerBound * 16
            let end = Swift.min(N, blocks.upperBound * 16)
            while i + 16 <= end {
                let d = load16(g + i)
                store16(load16(g1 + i) + d, g1 + i)
                store16(load16(g2 + i) + d, g2 + i)
                i += 16
            }
            while i < end { g1[i] += g[i]; g2[i] += g[i]; i += 1 }
        }
    }

    /// Reference, in Double.
    public static func naiveForward(_ a: [Double], _ b: [Double]) -> [Double] {
        zip(a, b).map { $0 + $1 }
    }
}
