// The processes of one `mpirun` or `srun` job, through Open MPI: the only importer of CMPI.
//
// Kiln needs little of MPI: who am I (rank, size, the ranks on this machine), sums over every
// process of Float and Double buffers (MPI_Allreduce in place), a barrier, and a way to stop the
// whole job (MPI_Abort). MPI's own error handler stays the default, MPI_ERRORS_ARE_FATAL: a
// collective that fails (a peer died, a link broke) cannot be retried, and the launcher then
// stops every rank. The return codes are still turned into errors, for implementations whose
// handler returns.

import CMPI
import Foundation

public struct MPIError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32
    public var description: String {
        var text = [CChar](repeating: 0, count: 1024)
        var length: Int32 = 0
        let found = MPI_Error_string(code, &text, &length) == kiln_mpi_success()
        let reason = found ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "error \(code)"
        return "\(call) failed: \(reason)"
    }
}

/// MPI_COMM_WORLD once MPI is initialised. There is one per process: `start()` initialises MPI,
/// `finish()` finalises it, and neither may be called again (MPI cannot be restarted).
public final class ProcessGroup: @unchecked Sendable {
    /// This process's index in the job, 0..<size.
    public let rank: Int
    /// Processes in the job.
    public let size: Int
    /// Processes of the job on this machine (they share its cores).
    public let localSize: Int
    private var finished = false
    /// Non-blocking sums started and not yet known to be done.
    private var pending: [MPI_Request?] = []

    /// Whether this process was started by an MPI launcher: Open MPI's `mpirun` sets
    /// OMPI_COMM_WORLD_SIZE, PMIx launchers (`srun --mpi=pmix`, Open MPI 4+) PMIX_RANK, PMI-2
    /// launchers (`srun --mpi=pmi2`, MPICH's hydra) PMI_SIZE. Without one of them a process is
    /// alone, and MPI is left uninitialised.
    public static func isLaunched(environment: [String: String]) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil || environment["PMI_SIZE"] != nil
    }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code == kiln_mpi_success() else { throw MPIError(call: call, code: code) }
    }

    /// Initialises MPI (only the calling thread will call MPI: MPI_THREAD_FUNNELED) and reads
    /// the job's shape.
    public static func start() throws -> ProcessGroup {
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, kiln_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        let world = kiln_mpi_comm_world()
        var rank: Int32 = 0, size: Int32 = 0, localSize: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        // The ranks that share this machine's memory: MPI-3's shared-memory split.
        var local: MPI_Comm? = nil
        try check(MPI_Comm_split_type(world, kiln_mpi_comm_type_shared(), rank, kiln_mpi_info_null(), &local),
                  "MPI_Comm_split_type")
        try check(MPI_Comm_size(local, &localSize), "MPI_Comm_size")
        try check(MPI_Comm_free(&local), "MPI_Comm_free")
        return ProcessGroup(rank: Int(rank), size: Int(size), localSize: Int(localSize))
    }

    private init(rank: Int, size: Int, localSize: Int) {
        self.rank = rank
        self.size = size
        self.localSize = localSize
    }

    /// Replaces every element of `values` by its sum over all ranks (MPI_Allreduce in place).
    /// Every rank must call it with the same count, in the same order as the other collectives.
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try allreduce(UnsafeMutableRawPointer(values.baseAddress), values.count, 4, kiln_mpi_float(), kiln_mpi_sum())
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try allreduce(UnsafeMutableRawPointer(values.baseAddress), values.count, 8, kiln_mpi_double(), kiln_mpi_sum())
    }

    /// Replaces every element of `values` by its largest value over all ranks.
    public func maximum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try allreduce(UnsafeMutableRawPointer(values.baseAddress), values.count, 8, kiln_mpi_double(), kiln_mpi_max())
    }

    private func allreduce(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ width: Int, _ type: MPI_Datatype?,
                           _ op: MPI_Op?) throws {
        precondition(!finished, "MPI collective after finish()")
        // MPI counts are C ints: send a large buffer in pieces.
        let chunk = Int(Int32.max / 2)
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            try Self.check(MPI_Allreduce(kiln_mpi_in_place(), buffer.map { $0 + done * width }, Int32(n), type, op,
                                         kiln_mpi_comm_world()), "MPI_Allreduce")
            done += n
        }
    }

    /// Starts an in-place sum over all ranks of `values` (MPI_Iallreduce) and returns at once;
    /// `values` must stay untouched until `finishSums()`. Every rank starts the same sums in
    /// the same order.
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        precondition(!finished, "MPI collective after finish()")
        precondition(values.count <= Int(Int32.max), "one non-blocking sum holds at most 2^31-1 values")
        var request: MPI_Request? = nil
        try Self.check(MPI_Iallreduce(kiln_mpi_in_place(), values.baseAddress, Int32(values.count), kiln_mpi_float(),
                                      kiln_mpi_sum(), kiln_mpi_comm_world(), &request), "MPI_Iallreduce")
        pending.append(request)
    }

    /// Lets MPI move the started sums along: Open MPI progresses non-blocking collectives only
    /// inside MPI calls, so a caller busy computing calls this between pieces of work.
    public func progressSums() throws {
        guard !pending.isEmpty else { return }
        var done: Int32 = 0
        try Self.check(MPI_Testall(Int32(pending.count), &pending, &done, nil), "MPI_Testall")
        if done != 0 { pending.removeAll() }
    }

    /// Waits until every started sum is done.
    public func finishSums() throws {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll() }
        try Self.check(MPI_Waitall(Int32(pending.count), &pending, nil), "MPI_Waitall")
    }

    /// Waits until every rank has called it.
    public func barrier() throws {
        precondition(!finished, "MPI collective after finish()")
        try Self.check(MPI_Barrier(kiln_mpi_comm_world()), "MPI_Barrier")
    }

    /// Stops every rank of the job: the launcher kills the others and exits with `status`.
    /// For an error that only this rank saw, while the others wait in a collective.
    public func abort(status: Int32) -> Never {
        MPI_Abort(kiln_mpi_comm_world(), status)
        exit(status)  // MPI_Abort does not return; if an implementation's does, still stop.
    }

    /// Finalises MPI; every rank calls it before exiting normally.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try Self.check(MPI_Finalize(), "MPI_Finalize")
    }
}
