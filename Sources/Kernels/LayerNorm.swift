// LayerNorm over the last dimension (llm.c layernorm_forward/backward; FORMATS.md §7.4).
//
//   inp, out: (N, C)     mean, rstd: (N)     weight, bias: (C)
//   out = (inp - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + 1e-5), var biased (÷C)

public enum LayerNorm {
    /// GPT-2's epsilon (PyTorch's LayerNorm default, HF layer_norm_epsilon).
    public static let eps: Float = 1e-5

    public static func forward(out: UnsafeMutableBufferPointer<Float>, mean: UnsafeMutableBufferPointer<Float>,
                               rstd: UnsafeMutableBufferPointer<Float>, inp: UnsafeBufferPointer<Float>,
                               weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>,
                               N: Int, C: Int, threads: Int) {
        precondition(C > 0 && out.count >= N * C && inp.count >= N * C && mean.count >= N && rstd.count >= N)
        precondition(weight.count >= C && bias.count >= C)
        guard N > 0, let o = out.baseAddress, let m = mean.baseAddress, let r = rstd.baseAddress,
              let x = inp.baseAddress, let w = weight.baseAddress, let b = bias.baseAddress else { return }
        let invC = 1 / Float(C)
        Parallel.forEachChunk(N, threads: threads, grain: 8) { _, rows in
            for n in rows {
                let xr = x + n * C, y = o + n * C
                // Two passes (mean, then squared deviations) rather than E[x²] - E[x]², which
                // cancels badly when |mean| is large against the spread.
                var acc = F16(), i = 0
                while i + 16 <= C { acc += load16(xr + i); i += 16 }
                var s = acc.sum()
                while i < C { s += xr[i]; i += 1 }
                let mu = s * invC
                let vmu = F16(repeating: mu)
                acc = F16(); i = 0
                while i + 16 <= C { let d = load16(xr + i) - vmu; acc += d * d; i += 16 }
                var v = acc.sum()
                while i < C { let d = xr[i] - mu; v += d * d; i += 1 }
                let rs = 1 / (v * invC + eps).squareRoot()
                let vrs = F16(repeating: rs)
                i = 0
                while i + 16 <= C {
                    store16((load16(xr + i) - vmu) * vrs * load16(w + i) + load16(b + i), y + i)
                    i += 16
                }
                while i < C { y[i] = (xr[i] - mu) * rs * w[i] + b[i]; i += 1 }
                m[n] = mu
                r[n] = rs
            }
        }
    }

    /// Accumulates dinp, dweight and dbias (+=). With xhat = (inp - mean) * rstd and
    /// g = dout * weight: dinp += rstd * (g - mean(g) - xhat * mean(g * xhat)).
    /// dinp is row-local and runs in parallel over rows; dweight/dbias sum over rows, so a second
    /// pass splits them by channels instead of keeping per-thread partial sums.
    public static func backward(dinp: UnsafeMutableBufferPointer<Float>, dweight: UnsafeMutableBufferPointer<Float>,
                                dbias: UnsafeMutableBufferPointer<Float>, dout: UnsafeBufferPointer<Float>,
                                inp: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
                                mean: UnsafeBufferPointer<Float>, rstd: UnsafeBufferPointer<Float>,
                                N: Int, C: Int, threads: Int) {
        precondition(C > 0 && dinp.count >= N * C && dout.count >= N * C && inp.count >= N * C)
        precondition(dweight.count >= C && dbias.count >= C && weight.count >= C && mean.count >= N && rstd.count >= N)
        guard N > 0, let dx = dinp.baseAddress, let dw = dweight.baseAddress, let db = dbias.baseAddress,
              let dy = dout.baseAddress, let x = inp.baseAddress, let w = weight.baseAddress,
              let m = mean.baseAddress, let r = rstd.baseAddress else { return }
        let invC = 1 / Float(C)
        Parallel.forEachChunk(N, threads: threads, grain: 8) { _, rows in
            for n in rows {
                let xr = x + n * C, gr = dy + n * C, dxr = dx + n * C
                let vmu = F16(repeating: m[n]), vrs = F16(repeating: r[n])
                var a1 = F16(), a2 = F16(), i = 0
                while i + 16 <= C {
                    let xh = (load16(xr + i) - vmu) * vrs
                    let g = load16(gr + i) * load16(w + i)
                    a1 += g
                    a2 += g * xh
                    i += 16
                }
                var sg = a1.sum(), sgx = a2.sum()
                while i < C {
                    let xh = (xr[i] - m[n]) * r[n], g = gr[i] * w[i]
                    sg += g
                    sgx += g * xh
                    i += 1
                }
                let mg = sg * invC, mgx = sgx * invC
                let vmg = F16(repeating: mg), vmgx = F16(repeating: mgx)
                i = 0
                while i + 16 <= C {
                    let xh = (load16(xr + i) - vmu) * vrs
                    let g = load16(gr + i) * load16(w + i)
                    store16(load16(dxr + i) + vrs * (g - vmg - xh * vmgx), dxr + i)
                    i += 16
                }
                while i < C {
                    let xh = (xr[i] - m[n]) * r[n], g = gr[i] * w[i]
                    dxr[i] += r[n] * (g - mg - xh * mgx)
                    i += 1
                }
            }
        }
        let blocks = (C + 15) / 16
        Parallel.forEachChunk(blocks, threads: threads) { _, range in
            let lo = range.lowerBound * 16, hi = Swift.min(C, range.upperBound * 16)
            for n in 0..<N {
                let xr = x + n * C, gr = dy + n * C
                let mu = m[n], rs = r[n]
                for i in lo..<hi {
                    dw[i] += (xr[i] - mu) * rs * gr[i]
                    db[i] += gr[i]
                }
            }
        }
    }

    /// Reference: the definition, in Double. Returns out (N, C).
    public static func naiveForward(inp: [Double], weight: [Double], bias: [Double], N: Int, C: Int) -> [Double] {
        var out = [Double](repeating: 0, count: N * C)
        for n in 0..<N {
            let row = inp[n * C ..< (n + 1) * C]
            let mean = row.reduce(0, +) / Double(C)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(C)
            let rstd = 1 / (variance + Double(eps)).squareRoot()
            for i in 0..<C { out[n * C + i] = (inp[n * C + i] - mean) * rstd * weight[i] + bias[i] }
        }
        return out
    }
}
