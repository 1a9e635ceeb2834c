import MessagePassing

/// The processes that train one model together (data parallelism, as llm.c over MPI): every
/// replica holds the same parameters and optimizer state, computes the gradients of its own rows
/// of each step, and these sums over the replicas make every one of them take the same step.
/// Every replica must make the same calls in the same order (they are collectives).
public protocol ReplicaGroup: AnyObject {
    /// This replica's index, 0..<size; replica 0 writes the run's files.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces each element by its sum over the replicas.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Replaces each element by its largest value over the replicas.
    func maximum(_ values: UnsafeMutableBufferPointer<Double>) throws

    /// Starts `sum(values)` without waiting for it: `values` must stay in place, untouched,
    /// until `finishSums()`. Every replica starts the same sums in the same order.
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Moves the started sums along (MPI progresses them only inside its calls).
    func progressSums() throws
    /// Waits until every started sum is done.
    func finishSums() throws
}

/// The processes of an `mpirun`/`srun` job.
extension ProcessGroup: ReplicaGroup {}

extension ReplicaGroup {
    /// For a group without non-blocking sums: each sum is done when it is started.
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws { try sum(values) }
    public func progressSums() throws {}
    public func finishSums() throws {}

    /// `values` summed over the replicas.
    func summed(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try sum($0) }
        return v
    }

    /// The largest of `value` over the replicas.
    func largest(_ value: Double) throws -> Double {
        var v = [value]
        try v.withUnsafeMutableBufferPointer { try maximum($0) }
        return v[0]
    }
}
