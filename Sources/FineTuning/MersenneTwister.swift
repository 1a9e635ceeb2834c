/// MT19937, the generator llm.c's data loader shuffles with (`llmc/rand.h`, the same as PyTorch's
/// CPU generator and numpy's legacy `RandomState`): `--data-order llmc` must visit the batches in
/// exactly llm.c's order, so this is the textbook algorithm, not a faster one.
public struct MersenneTwister: Equatable, Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// Matsumoto–Nishimura `init_genrand` seeding.
    public init(seed: UInt32) {
        state[0] = seed
        for j in 1..<624 {
            state[j] = 1_812_433_253 &* (state[j - 1] ^ (state[j - 1] >> 30)) &+ UInt32(j)
        }
    }

    public mutating func next() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    /// llm.c's `random_permutation`: for i from count−1 down to 1, j = next() mod (i+1), swap.
    public mutating func permutation(_ count: Int) -> [Int] {
        var a = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = Int(next() % UInt32(i + 1))
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}
