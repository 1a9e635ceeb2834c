// 16-bit float formats in checkpoints: bfloat16 (llm.c version 5 files, safetensors BF16) and
// IEEE half (safetensors F16). Kiln computes in float32 and converts at the file boundary.

enum BFloat16 {
    /// The bfloat16 nearest to `x`, ties to even: the bits of PyTorch's `x.to(torch.bfloat16)`
    /// (c10::BFloat16 `round_to_nearest_even`), which wrote every llm.c version 5 file. Adding
    /// 0x7FFF plus the lowest kept bit and truncating rounds half-way cases to the even neighbour;
    /// a carry out of the mantissa moves to the next exponent, and past the largest finite value
    /// it gives infinity, as IEEE rounding does. NaN is handled first because that addition could
    /// carry a NaN whose payload sits in the low half into infinity; PyTorch returns its canonical
    /// quiet NaN 0x7FC0, sign dropped, and so does this.
    @inline(__always)
    static func bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let u = x.bitPattern
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    /// The float32 with the same value: bfloat16 is the upper half of a float32.
    @inline(__always)
    static func float(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}

enum Float16Bits {
    /// The float32 with the value of IEEE binary16 `h` (exact: every half is a float).
    /// Written out rather than using `Float16`, which Swift lacks on some platforms (macOS x86-64).
    static func float(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            // Infinity or NaN, payload kept.
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            // Rebias the exponent from 15 to 127.
            return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }
}
