/// Disjoint sets over document numbers 0..<count, with path halving. A union links the larger
/// root under the smaller one, so every set's root is its smallest member: the document that
/// comes first in the input, which is the one dedup keeps. Four bytes per document.
public struct UnionFind: Sendable {
    var parent: [UInt32]

    public init(count: Int) {
        precondition(count >= 0 && count <= Int(UInt32.max))
        parent = Array(0..<UInt32(count))
    }

    public var count: Int { parent.count }

    /// The root of `x`'s set.
    public mutating func find(_ x: UInt32) -> UInt32 {
        parent.withUnsafeMutableBufferPointer { p in
            var x = x
            while p[Int(x)] != x {
                let grand = p[Int(p[Int(x)])]
                p[Int(x)] = grand
                x = grand
            }
            return x
        }
    }

    /// Joins the sets of `a` and `b`; false when they were already one.
    @discardableResult
    public mutating func union(_ a: UInt32, _ b: UInt32) -> Bool {
        let ra = find(a)
        let rb = find(b)
        if ra == rb { return false }
        if ra < rb { parent[Int(rb)] = ra } else { parent[Int(ra)] = rb }
        return true
    }
}
