import Foundation

/// The tool's version, written into every manifest.
public enum Kiln {
    public static let version = "0.1.0"
}

public enum ShardCompression: String, Codable, CaseIterable, Sendable {
    case zstd, gz, none

    public var fileExtension: String {
        switch self {
        case .zstd: return ".jsonl.zst"
        case .gz: return ".jsonl.gz"
        case .none: return ".jsonl"
        }
    }
}

/// Everything that decides what `prep ingest` writes. Each default is written here once; the CLI
/// and YAML configuration only override it. All of it is stored in the manifest, and a rerun
/// with different values redoes the work.
public struct IngestOptions: Codable, Equatable, Sendable {
    /// JSONL input: the field that holds the text.
    public var textField = "text"
    /// JSONL input: the field that holds the document id (a location hash when absent).
    public var idField = "id"
    public var compression = ShardCompression.zstd
    /// zstd (or gzip) level of the shards. zstd's level 1 writes about twice as fast as its
    /// default 3 for shards about 15% larger: intermediate shards are written once and read a
    /// few times, and writing them is most of ingest's own work after reading.
    public var compressionLevel: Int32 = 1
    /// A shard is closed once it holds this many bytes of JSONL (before compression).
    public var shardSize: Int64 = 256 << 20
    /// Largest archive member, nested archive or decompressed stream buffered in memory.
    public var maxEntrySize: Int64 = 1 << 30
    /// Largest decompressed-to-compressed ratio before a stream is stopped as a bomb; applied
    /// once a stream has produced `ratioFloor` bytes.
    public var maxRatio: Double = 200
    /// Largest document, in bytes of UTF-8 text; longer ones are dropped with a reason.
    public var maxDocumentSize: Int64 = 64 << 20
    /// Any input error stops the run (exit status 1).
    public var strict = false

    public static let ratioFloor: Int64 = 8 << 20

    public init() {}

    public static let defaults = IngestOptions()
}

/// How one run is split: `--task-index I --task-count N` (Slurm's array variables by default)
/// and `--threads`. None of it changes the bytes of the documents.
public struct RunLayout: Equatable, Sendable {
    public var taskIndex: Int
    public var taskCount: Int
    public var threads: Int

    public init(taskIndex: Int = 0, taskCount: Int = 1, threads: Int = RunLayout.defaultThreads) {
        self.taskIndex = taskIndex
        self.taskCount = taskCount
        self.threads = threads
    }

    /// The number of cores this process may use.
    public static var defaultThreads: Int {
        // Foundation counts the CPUs in this process's affinity mask.
        max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Slurm array variables, when set: (index, count).
    public static func fromSlurm(_ env: [String: String]) -> (Int, Int)? {
        guard let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) else { return nil }
        let minID = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
        if let count = env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) {
            return (id - minID, count)
        }
        if let maxID = env["SLURM_ARRAY_TASK_MAX"].flatMap(Int.init) {
            return (id - minID, maxID - minID + 1)
        }
        return nil
    }
}
