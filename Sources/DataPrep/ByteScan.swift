/// Word-at-a-time byte tests (SWAR: eight bytes in a UInt64), for the scanners that look for rare
/// bytes in long text. Each answers "is there such a byte in the word" exactly; the byte-by-byte
/// loop that follows a hit finds which one.
enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// True when some byte of `w` is below `n` (valid for n ≤ 128).
    @inline(__always)
    static func hasByte(below n: UInt8, in w: UInt64) -> Bool {
        (w &- ones &* UInt64(n)) & ~w & highs != 0
    }

    /// True when some byte of `w` equals `b`.
    @inline(__always)
    static func hasByte(_ b: UInt8, in w: UInt64) -> Bool {
        hasByte(below: 1, in: w ^ (ones &* UInt64(b)))
    }
}
