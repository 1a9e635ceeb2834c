// Encoder: token embedding plus position embedding (llm.c encoder_forward/backward).
//
//   tokens, positions: (N)      N = B*T rows; 0 <= token < Vp, 0 <= position < maxT
//   wte: (Vp, C)   wpe: (maxT, C)
//   out: (N, C)    out[n] = wte[tokens[n]] + wpe[positions[n]]
//
// Positions are explicit so that packed sequences can restart them at each document.

public enum Encoder {
    public static func forward(out: UnsafeMutableBufferPointer<Float>,
                               tokens: UnsafeBufferPointer<Int32>, positions: UnsafeBufferPointer<Int32>,
                               wte: UnsafeBufferPointer<Float>, wpe: UnsafeBufferPointer<Float>,
                               N: Int, C: Int, threads: Int) {
        precondition(C > 0 && tokens.count >= N && positions.count >= N && out.count >= N * C)
        precondition(wte.count % C == 0 && wpe.count % C == 0)
        let rowsTE = wte.count / C, rowsPE = wpe.count / C
        guard N > 0, let o = out.baseAddress, let tok = tokens.baseAddress, let pos = positions.baseAddress,
              let wte = wte.baseAddress, let wpe = wpe.baseAddress else { return }
        Parallel.forEachChunk(N, threads: threads, grain: 16) { _, rows in
            for n in rows {
                let t = Int(tok[n]), p = Int(pos[n])
                precondition(t >= 0 && t < rowsTE, "token \(t) outside the embedding table (\(rowsTE) rows)")
                precondition(p >= 0 && p < rowsPE, "position \(p) outside the position table (\(rowsPE) rows)")
                let a = wte + t * C, b = wpe + p * C, y = o + n * C
                var i = 0
                while i + 16 <= C { store16(load16(a + i) + load16(b + i), y + i); i += 16 }
                while i < C { y[i] = a[i] + b[i]; i += 1 }
            }
        }
    }

    /// Accumulates: dwte[tokens[n]] += dout[n], dwpe[positions[n]] += dout[n].
    /// Rows of dwte are shared between tokens, so the work is split by channels, not by rows.
    public static func backward(dwte: UnsafeMutableBufferPointer<Float>, dwpe: UnsafeMutableBufferPointer<Float>,
                                dout: UnsafeBufferPointer<Float>,
                                tokens: UnsafeBufferPointer<Int32>, positions: UnsafeBufferPointer<Int32>,
                                N: Int, C: Int, threads: Int) {
        precondition(C > 0 && tokens.count >= N && positions.count >= N && dout.count >= N * C)
        precondition(dwte.count % C == 0 && dwpe.count % C == 0)
        let rowsTE = dwte.count / C, rowsPE = dwpe.count / C
        guard N > 0, let dte = dwte.baseAddress, let dpe = dwpe.baseAddress, let d = dout.baseAddress,
              let tok = tokens.baseAddress, let pos = positions.baseAddress else { return }
        // Channel blocks of 16 keep each thread's writes on its own cache lines.
        let blocks = (C + 15) / 16
        Parallel.forEachChunk(blocks, threads: threads) { _, range in
            let lo = range.lowerBound * 16, hi = Swift.min(C, range.upperBound * 16)
            for n in 0..<N {
                let t = Int(tok[n]), p = Int(pos[n])
                precondition(t >= 0 && t < rowsTE && p >= 0 && p < rowsPE)
                let g = d + n * C, a = dte + t * C, b = dpe + p * C
                for i in lo..<hi {
                    a[i] += g[i]
                    b[i] += g[i]
                }
            }
        }
    }

    /// Reference: the definition, in Double.
    public static func naiveForward(tokens: [Int32], positions: [Int32], wte: [Double], wpe: [Double],
                                    C: Int) -> [Double] {
        var out = [Double](repeating: 0, count: tokens.count * C)
        for n in 0..<tokens.count {
            for i in 0..<C {
                out[n * C + i] = wte[Int(tokens[n]) * C + i] + wpe[Int(positions[n]) * C + i]
            }
        }
        return out
    }
}
