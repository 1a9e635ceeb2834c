// Causal multi-head self-attention (llm.c attention_forward/backward; FORMATS.md §7.4).
//
//   qkv: (B, T, 3C)   each row is [q | k | v], head h at channels [h*hs, (h+1)*hs), hs = C/NH
//   att: (B, NH, T, T) softmax weights; zero outside the allowed keys
//   out: (B, T, C)    heads concatenated in head order
//   documentIDs: (B, T) or none
//
// Query t attends to keys t2 <= t (causal) that lie in the same document. A document is a
// maximal run of equal ids within a row, so packed examples get a block-diagonal mask; without
// ids the whole row is one document. Scores are scaled by 1/sqrt(hs).
//
// The products QKᵀ and AV are sgemm calls per (b, h) and block of query rows that read q, k
// and v in place through their leading dimension 3C, so nothing is copied; the masked softmax
// runs in Swift in parallel over the B*NH*T rows.

import Foundation

public enum Attention {
    /// Index of the first token of the document that holds row `t` (0 without ids).
    @inline(__always)
    static func documentStart(_ ids: UnsafePointer<Int32>?, _ t: Int) -> Int {
        guard let ids else { return 0 }
        var s = t
        while s > 0 && ids[s - 1] == ids[t] { s -= 1 }
        return s
    }

    /// `rowBlock`: queries are taken in blocks of this many rows, and a block's products stop at
    /// its last row's keys, so the products skip most of the masked upper triangle (at T = 256
    /// with blocks of 64 they do 62.5% of the full square's work).
    public static func forward(out: UnsafeMutableBufferPointer<Float>, att: UnsafeMutableBufferPointer<Float>,
                               qkv: UnsafeBufferPointer<Float>, documentIDs: UnsafeBufferPointer<Int32>?,
                               B: Int, T: Int, C: Int, NH: Int, threads: Int, rowBlock: Int = 64) {
        precondition(B >= 0 && T > 0 && NH > 0 && C % NH == 0 && rowBlock > 0)
        precondition(out.count >= B * T * C && att.count >= B * NH * T * T && qkv.count >= B * T * 3 * C)
        precondition(documentIDs.map { $0.count >= B * T } ?? true)
        guard B > 0, let y = out.baseAddress, let a = att.baseAddress, let x = qkv.baseAddress else { return }
        let ids = documentIDs?.baseAddress
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        // Scores of rows r0..<r1 against keys 0..<r1; the softmax below masks and zero-fills.
        for b in 0..<B {
            for h in 0..<NH {
                let q = x + b * T * C3 + h * hs, p = a + (b * NH + h) * T * T
                for r0 in stride(from: 0, to: T, by: rowBlock) {
                    let r1 = Swift.min(T, r0 + rowBlock)
                    BLAS.sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: hs, alpha: scale,
                               a: q + r0 * C3, lda: C3, b: q + C, ldb: C3, beta: 0, c: p + r0 * T, ldc: T)
                }
            }
        }
        Parallel.forEachChunk(B * NH * T, threads: threads, grain: 16) { _, rows in
            for r in rows {
                let t = r % T, b = r / (NH * T)
                let row = a + r * T
                let lo = documentStart(ids.map { $0 + b * T }, t)
                softmaxInPlace(row + lo, t + 1 - lo)
                row.update(repeating: 0, count: lo)
                (row + t + 1).update(repeating: 0, count: T - t - 1)
            }
        }
        for b in 0..<B {
            for h in 0..<NH {
                let v = x + b * T * C3 + 2 * C + h * hs, p = a + (b * NH + h) * T * T
                for r0 in stride(from: 0, to: T, by: rowBlock) {
                    let r1 = Swift.min(T, r0 + rowBlock)
                    BLAS.sgemm(transA: false, transB: false, m: r1 - r0, n: hs, k: r1, alpha: 1,
                               a: p + r0 * T, lda: T, b: v, ldb: C3, beta: 0, c: y + (b * T + r0) * C + h * hs, ldc: C)
                }
            }
        }
    }

    /// Softmax of n scores in place, subtracting the maximum first.
    @inline(__always)
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var mx = -Float.greatestFiniteMagnitude
        for i in 0..<n { mx = Swift.max(mx, p[i]) }
        let vm = F16(repeating: mx)
        var acc = F16(), i = 0
        while i + 16 <= n { let e = SIMDMath.exp(load16(p + i) - vm); store16(e, p + i); acc += e; i += 16 }
        var s = acc.sum()
        if i < n {
            let e = SIMDMath.exp(loadPartial(p + i, n - i) - vm)
            for j in 0..<(n - i) { s += e[j] }
            storePartial(e, p + i, n - i)
        }
        let inv = F16(repeating: 1 / s)
        i = 0
        while i + 16 <= n { store16(load16(p + i) * inv, p + i); i += 16 }
        while i < n { p[i] *= inv[0]; i += 1 }
    }

    /// Accumulates into dqkv (+=). `datt` (B, NH, T, T) is scratch and is overwritten.
    /// With P the weights and dP = dout · Vᵀ: dV += Pᵀ · dout, dS = P ∘ (dP - rowsum(P ∘ dP)),
    /// dQ += scale · dS · K, dK += scale · dSᵀ · Q. Row blocks as in `forward`.
    public static func backward(dqkv: UnsafeMutableBufferPointer<Float>, datt: UnsafeMutableBufferPointer<Float>,
                                dout: UnsafeBufferPointer<Float>, qkv: UnsafeBufferPointer<Float>,
                                att: UnsafeBufferPointer<Float>, B: Int, T: Int, C: Int, NH: Int, threads: Int,
                                rowBlock: Int = 64) {
        precondition(B >= 0 && T > 0 && NH > 0 && C % NH == 0 && rowBlock > 0)
        precondition(dqkv.count >= B * T * 3 * C && qkv.count >= B * T * 3 * C && dout.count >= B * T * C)
        precondition(datt.count >= B * NH * T * T && att.count >= B * NH * T * T)
        guard B > 0, let dx = dqkv.baseAddress, let da = datt.baseAddress, let dy = dout.baseAddress,
              let x = qkv.baseAddress, let a = att.baseAddress else { return }
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<B {
            for h in 0..<NH {
                let v = x + b * T * C3 + 2 * C + h * hs, dv = dx + b * T * C3 + 2 * C + h * hs
                let g = dy + b * T * C + h * hs, p = a + (b * NH + h) * T * T, dp = da + (b * NH + h) * T * T
                for r0 in stride(from: 0, to: T, by: rowBlock) {
                    let r1 = Swift.min(T, r0 + rowBlock)
                    BLAS.sgemm(transA: false, transB: true, m: r1 - r0, n: r1, k: hs, alpha: 1,
                               a: g + r0 * C, lda: C, b: v, ldb: C3, beta: 0, c: dp + r0 * T, ldc: T)
                    BLAS.sgemm(transA: true, transB: false, m: r1, n: hs, k: r1 - r0, alpha: 1,
                               a: p + r0 * T, lda: T, b: g + r0 * C, ldb: C, beta: 1, c: dv, ldc: C3)
                }
            }
        }
        // Masked entries have P = 0, so dS is 0 there without consulting the mask again; only
        // columns 0...t of row t are read, all of which the block's product wrote.
        Parallel.forEachChunk(B * NH * T, threads: threads, grain: 16) { _, rows in
            for r in rows {
                let t = r % T
                let n = t + 1
                let p = a + r * T, dp = da + r * T
                var acc = F16(), i = 0
                while i + 16 <= n { acc += load16(p + i) * load16(dp + i); i += 16 }
                var s = acc.sum()
                while i < n { s += p[i] * dp[i]; i += 1 }
                let vs = F16(repeating: s), vscale = F16(repeating: scale)
                i = 0
                while i + 16 <= n { store16(vscale * load16(p + i) * (load16(dp + i) - vs), dp + i); i += 16 }
                while i < n { dp[i] = scale * p[i] * (dp[i] - s); i += 1 }
                (dp + n).update(repeating: 0, count: T - n)
            }
        }
        for b in 0..<B {
            for h in 0..<NH {
                let q = x + b * T * C3 + h * hs, dq = dx + b * T * C3 + h * hs
                let ds = da + (b * NH + h) * T * T
                for r0 in stride(from: 0, to: T, by: rowBlock) {
                    let r1 = Swift.min(T, r0 + rowBlock)
                    BLAS.sgemm(transA: false, transB: false, m: r1 - r0, n: hs, k: r1, alpha: 1,
                               a: ds + r0 * T, lda: T, b: q + C, ldb: C3, beta: 1, c: dq + r0 * C3, ldc: C3)
                    BLAS.sgemm(transA: true, transB: false, m: r1, n: hs, k: r1 - r0, alpha: 1,
                               a: ds + r0 * T, lda: T, b: q + r0 * C3, ldb: C3, beta: 1, c: dq + C, ldc: C3)
                }
            }
        }
    }

    /// Attention of `n` new positions per sequence against a key/value cache (generation).
    ///
    ///   qkv: (B, n, 3C) for the new positions    kCache, vCache: (B, maxT, C)
    ///   out: (B, n, C)     scratch: at least threads * maxT floats
    ///
    /// Positions `start ..< start+n` of each sequence are appended to the caches, then new
    /// position p attends to cached positions 0...p, exactly as the full forward would.
    public static func forwardCached(out: UnsafeMutableBufferPointer<Float>, qkv: UnsafeBufferPointer<Float>,
                                     kCache: UnsafeMutableBufferPointer<Float>, vCache: UnsafeMutableBufferPointer<Float>,
                                     scratch: UnsafeMutableBufferPointer<Float>,
                                     start: Int, n: Int, B: Int, maxT: Int, C: Int, NH: Int, threads: Int) {
        precondition(start >= 0 && n >= 0 && start + n <= maxT && NH > 0 && C % NH == 0)
        precondition(out.count >= B * n * C && qkv.count >= B * n * 3 * C)
        precondition(kCache.count >= B * maxT * C && vCache.count >= B * maxT * C && scratch.count >= threads * maxT)
        guard B > 0, n > 0, let y = out.baseAddress, let x = qkv.baseAddress, let kc = kCache.baseAddress,
              let vc = vCache.baseAddress, let sc = scratch.baseAddress else { return }
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Float(hs).squareRoot()
        for b in 0..<B {
            for t in 0..<n {
                let row = x + (b * n + t) * C3, at = (b * maxT + start + t) * C
                (kc + at).update(from: row + C, count: C)
                (vc + at).update(from: row + 2 * C, count: C)
            }
        }
        Parallel.forEachChunk(B * n * NH, threads: threads) { chunk, items in
            let w = sc + chunk * maxT
            for item in items {
                let h = item % NH, bt = item / NH, b = bt / n, t = bt % n
                let len = start + t + 1
                let q = x + bt * C3 + h * hs
                for j in 0..<len { w[j] = scale * dot(q, kc + (b * maxT + j) * C + h * hs, hs) }
                softmaxInPlace(w, len)
                let o = y + bt * C + h * hs
                o.update(repeating: 0, count: hs)
                for j in 0..<len { axpy(o, w[j], vc + (b * maxT + j) * C + h * hs, hs) }
            }
        }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = F16(), i = 0
        while i + 16 <= n { acc += load16(a + i) * load16(b + i); i += 16 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y += alpha · x
    @inline(__always)
    static func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
        let va = F16(repeating: alpha)
        var i = 0
        while i + 16 <= n { store16(load16(y + i) + va * load16(x + i), y + i); i += 16 }
        while i < n { y[i] += alpha * x[i]; i += 1 }
    }

    /// Reference, in Double: the loops of the definition, with the mask written as "t2 <= t and
    /// every id from t2 to t equal".
    public static func naiveForward(qkv: [Double], documentIDs: [Int32]?, B: Int, T: Int, C: Int, NH: Int) -> [Double] {
        let hs = C / NH, C3 = 3 * C
        let scale = 1 / Double(hs).squareRoot()
        var out = [Double](repeating: 0, count: B * T * C)
        for b in 0..<B {
            for t in 0..<T {
                for h in 0..<NH {
                    var allowed: [Int] = []
                    for t2 in 0...t {
                        if let ids = documentIDs, !(t2...t).allSatisfy({ ids[b * T + $0] == ids[b * T + t] }) { continue }
                        allowed.append(t2)
                    }
                    let scores = allowed.map { t2 in
                        (0..<hs).reduce(0.0) { $0 + qkv[(b * T + t) * C3 + h * hs + $1] * qkv[(b * T + t2) * C3 + C + h * hs + $1] } * scale
                    }
                    let mx = scores.max() ?? 0
                    let e = scores.map { Foundation.exp($0 - mx) }
                    let z = e.reduce(0, +)
                    for (j, t2) in allowed.enumerated() {
                        for i in 0..<hs {
                            out[(b * T + t) * C + h * hs + i] += e[j] / z * qkv[(b * T + t2) * C3 + 2 * C + h * hs + i]
                        }
                    }
                }
            }
        }
        return out
    }
}
