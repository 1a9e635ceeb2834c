import ArgumentParser
import DataPrep
import Foundation
import Logging

/// Where a command's messages go: log lines and warnings on standard error, a progress bar when
/// standard error is a terminal (periodic log lines otherwise), the JSON summary on standard output.
final class Console: @unchecked Sendable {
    let quiet: Bool
    let json: Bool
    let label: String
    let logger: Logger
    let isTerminal: Bool
    private let lock = NSLock()

    init(quiet: Bool, json: Bool, label: String) {
        self.quiet = quiet
        self.json = json
        self.label = label
        isTerminal = isatty(STDERR_FILENO) == 1
        let name = "prep \(label)"
        var l = Logger(label: "kiln.\(label)") { _ in LineLogHandler(name: name) }
        l.logLevel = quiet ? .error : .info
        logger = l
    }

    func info(_ message: String) {
        if quiet { return }
        write(message + "\n")
    }

    func warning(_ message: String) {
        if quiet { return }
        write("prep \(label): warning: \(message)\n")
    }

    func error(_ message: String) {
        write("prep \(label): error: \(message)\n")
    }

    func write(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(s.utf8))
    }

    struct Status {
        var done: Int64
        var total: Int64
        var items: Int
        var itemName: String
    }

    /// A progress display that runs until `stop`: a bar redrawn five times a second on a terminal,
    /// a log line every ten seconds otherwise, nothing under --quiet.
    final class Ticker: @unchecked Sendable {
        private let timer: DispatchSourceTimer?
        private let finishLine: () -> Void
        init(timer: DispatchSourceTimer?, finishLine: @escaping () -> Void) {
            self.timer = timer
            self.finishLine = finishLine
        }
        func stop() {
            timer?.cancel()
            finishLine()
        }
    }

    func startProgress(_ poll: @escaping @Sendable () -> Status) -> Ticker {
        guard !quiet else { return Ticker(timer: nil, finishLine: {}) }
        let start = Date()
        let interval: Double = isTerminal ? 0.2 : 10
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
        let terminal = isTerminal
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            let s = poll()
            let line = Self.render(s, elapsed: Date().timeIntervalSince(start), bar: terminal)
            if terminal { self.write("\r\u{1B}[2K" + line) } else { self.logger.info("\(line)") }
        }
        timer.resume()
        return Ticker(timer: timer, finishLine: { [weak self] in
            if terminal { self?.write("\r\u{1B}[2K") }
        })
    }

    static func render(_ s: Status, elapsed: Double, bar: Bool) -> String {
        let fraction = s.total > 0 ? min(1, Double(s.done) / Double(s.total)) : 0
        let mbps = elapsed > 0 ? Double(s.done) / 1e6 / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let text = String(format: "%3.0f%% %.1f/%.1f MB, %d %@, %.1f MB/s, ETA %@",
                          fraction * 100, Double(s.done) / 1e6, Double(s.total) / 1e6, s.items, s.itemName,
                          mbps, formatDuration(eta))
        guard bar else { return text }
        let width = 24
        let filled = Int(fraction * Double(width))
        return "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " + text
    }

    static func formatDuration(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t >= 3600 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        if t >= 60 { return String(format: "%dm%02ds", t / 60, t % 60) }
        return "\(t)s"
    }

    /// Runs a stage's library call with the progress display (`items` names what is counted:
    /// documents written, kept, shards read…). A thrown error is printed and becomes exit
    /// status 1: nothing usable could be written.
    func runStage<R>(_ progress: IngestProgress, itemName: String,
                     items: @escaping @Sendable (IngestProgress.Snapshot) -> Int = { $0.documents },
                     _ body: () throws -> R) throws -> R {
        let ticker = startProgress {
            let s = progress.snapshot()
            return .init(done: s.bytesRead, total: s.totalBytes, items: items(s), itemName: itemName)
        }
        defer { ticker.stop() }
        do {
            return try body()
        } catch {
            ticker.stop()
            self.error("\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
    }

    /// Ends a stage: the JSON summary with --json, else the "up to date" note and `lines` (unless
    /// --quiet); then the exit status, thrown when it is not 0.
    func finish<M: Encodable>(_ manifest: M, manifestPath: String, upToDate: Bool, status: ExitStatus,
                              lines: () -> [String]) throws {
        if json {
            printJSON(summary: manifest, manifestPath: manifestPath, upToDate: upToDate, exitStatus: status.rawValue)
        } else if !quiet {
            if upToDate {
                info("up to date: \(manifestPath) is complete for these inputs and options (--force redoes it)")
            }
            for l in lines() { info(l) }
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// The final summary for a build farm: the manifest, where it is, and the exit status.
    func printJSON<M: Encodable>(summary manifest: M, manifestPath: String, upToDate: Bool, exitStatus: Int32) {
        let s = JSONSummary(exitStatus: exitStatus, manifestPath: manifestPath, upToDate: upToDate, manifest: manifest)
        if let data = try? IngestManifest.encoder.encode(s) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

struct JSONSummary<T: Encodable>: Encodable {
    var exitStatus: Int32
    var manifestPath: String
    var upToDate: Bool
    var manifest: T
}

/// Log lines for people and build-farm logs alike: `2026-01-31T12:00:00Z prep ingest: warning: ...`
/// on standard error.
struct LineLogHandler: LogHandler {
    let name: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let stamp = ISO8601DateFormatter().string(from: Date())
        let level = event.level == .info ? "" : "\(event.level): "
        FileHandle.standardError.write(Data("\(stamp) \(name): \(level)\(event.message)\n".utf8))
    }
}
