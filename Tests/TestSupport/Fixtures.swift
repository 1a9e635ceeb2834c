import ArchiveIO
import DataPrep
import Foundation

/// Helpers shared by the test targets: temporary folders, fixture files, running the built
/// commands, and reading shards back.
public enum Fixtures {
    /// The repository root (this file is Tests/TestSupport/Fixtures.swift).
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var samples: String { repoRoot + "/samples/raw" }
    public static var corpora: String { repoRoot + "/../shared/corpora" }

    /// The folder that holds the built `prep` and `tune` (beside the test bundle).
    public static let binDir: String = {
        if let d = ProcessInfo.processInfo.environment["KILN_BIN_DIR"] { return d }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.path + "/prep") { return url.path }
        }
        return repoRoot + "/.build/debug"
    }()

    /// A new empty folder under the system's temporary folder.
    public static func tempDir(_ label: String = "kiln") -> String {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    public static func write(_ bytes: [UInt8], to path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    public static func write(_ text: String, to path: String) { write(Array(text.utf8), to: path) }

    public static func read(_ path: String) -> [UInt8] {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
    }

    public struct RunResult {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a program to its end; its output goes through files, so a large output cannot block it.
    @discardableResult
    public static func run(_ program: String, _ args: [String], cwd: String? = nil,
                           env: [String: String] = [:]) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        p.arguments = program.hasPrefix("/") ? args : [program] + args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let dir = tempDir("run")
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return RunResult(status: p.terminationStatus,
                         stdout: String(decoding: read(dir + "/out"), as: UTF8.self),
                         stderr: String(decoding: read(dir + "/err"), as: UTF8.self))
    }

    /// Runs the built `prep` with `args`.
    @discardableResult
    public static func prep(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> RunResult {
        try run(binDir + "/prep", args, cwd: cwd, env: env)
    }

    /// Runs the built `tune` with `args`.
    @discardableResult
    public static func tune(_ args: [String], cwd: String? = nil, env: [String: String] = [:]) throws -> RunResult {
        try run(binDir + "/tune", args, cwd: cwd, env: env)
    }

    /// Creates an archive with bsdtar (libarchive-tools): `format` is a bsdtar --format name
    /// (ustar, gnutar, zip, 7zip, newc) and `filter` a compression option (-z, -j, -J, --zstd).
    public static func bsdtar(_ archive: String, format: String, filter: String? = nil, from dir: String,
                              members: [String]) throws {
        try FileManager.default.createDirectory(atPath: (archive as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        var args = ["-c", "-f", archive, "--format", format]
        if let filter { args.append(filter) }
        args += ["-C", dir] + members
        let r = try run("bsdtar", args)
        if r.status != 0 { throw FixtureError(message: "bsdtar \(args.joined(separator: " ")): \(r.stderr)") }
    }

    public static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let sink = MemorySink()
        let enc = try GzipEncoder(sink)
        try enc.write(bytes)
        try enc.finish()
        return sink.bytes
    }

    public static func zstd(_ bytes: [UInt8]) throws -> [UInt8] {
        let sink = MemorySink()
        let enc = try ZstdEncoder(sink)
        try enc.write(bytes)
        try enc.finish()
        return sink.bytes
    }

    /// The shard files of a folder, sorted by name.
    public static func shardFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix("docs-") }
            .sorted()
            .map { dir + "/" + $0 }
    }

    /// Every document of the shards in `dir`, in shard order.
    public static func documents(in dir: String) throws -> [Document] {
        var docs: [Document] = []
        for f in shardFiles(dir) {
            for line in try jsonLines(f) { docs.append(try Document.parse(line)) }
        }
        return docs
    }

    /// The lines of a JSONL file, decompressed by content.
    public static func jsonLines(_ path: String) throws -> [[UInt8]] {
        let file = try FileSource(path: path)
        let head = BufferedReader(file)
        let magic = try head.peek(4)
        let source: ByteSource
        if magic.starts(with: [0x1F, 0x8B]) { source = try GzipDecoder(head) }
        else if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { source = try ZstdDecoder(head) }
        else { source = head }
        let reader = BufferedReader(source)
        var lines: [[UInt8]] = []
        while let l = try reader.readLine(maxLength: 1 << 30) {
            if case let .line(b) = l { lines.append(b) }
        }
        return lines
    }

    /// Python in the project's venv (made by `make venv`), or nil when there is none.
    public static var venvPython: String? {
        let base = ProcessInfo.processInfo.environment["KILN_VENV"] ?? repoRoot + "/.venv"
        let p = base + "/bin/python"
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Collects written bytes in memory.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b) }
    public func finish() throws {}
}
