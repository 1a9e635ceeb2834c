import Foundation
import GPTModel
import Synchronization

/// The files of a training run, all under one folder:
///
///     RUN/options.yaml           the resolved options (for people; the state files hold them too)
///     RUN/metrics.jsonl          one JSON line per step (StepMetrics)
///     RUN/loss.svg               train and validation loss, rewritten as the run goes
///     RUN/model_<step>.bin       llm.c model files (the last `keep` of them)
///     RUN/state_<step>.bin       the state to resume from, beside each model file
///     RUN/summary.json           written at the end
///
/// A checkpoint counts only when both of its files are in place (each is renamed into place
/// after it is complete, the state last).
public struct RunFolder: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func modelPath(step: Int) -> String { path + String(format: "/model_%08d.bin", step) }
    /// LoRA runs save their adapters instead of the model (PEFT's safetensors layout).
    public func adapterPath(step: Int) -> String { path + String(format: "/adapter_%08d.safetensors", step) }
    public func statePath(step: Int) -> String { path + String(format: "/state_%08d.bin", step) }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var plotPath: String { path + "/loss.svg" }
    public var summaryPath: String { path + "/summary.json" }

    /// Steps of the complete checkpoints, oldest first.
    public func checkpoints() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let steps = names.compactMap { n -> Int? in
            guard n.hasPrefix("state_"), n.hasSuffix(".bin") else { return nil }
            return Int(n.dropFirst(6).dropLast(4))
        }
        return steps.filter {
            FileManager.default.fileExists(atPath: modelPath(step: $0)) || FileManager.default.fileExists(atPath: adapterPath(step: $0))
        }.sorted()
    }

    /// Removes all but the newest `keep` checkpoints, and model files left without a state.
    public func prune(keep: Int) {
        let complete = checkpoints()
        for s in complete.dropLast(max(1, keep)) {
            unlink(statePath(step: s))
            unlink(modelPath(step: s))
            unlink(adapterPath(step: s))
            unlink(ModelCard.path(for: modelPath(step: s)))
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for n in names where n.hasPrefix("model_") && n.hasSuffix(".bin") {
            if let s = Int(n.dropFirst(6).dropLast(4)), !complete.contains(s) {
                unlink(path + "/" + n)
                unlink(ModelCard.path(for: path + "/" + n))
            }
        }
        // Temporary files of writes a killed run left (`NAME.tmp-PID`).
        for n in names where n.contains(".tmp-") { unlink(path + "/" + n) }
    }

    /// Keeps the metrics of steps up to `step` (a resumed run rewrites what came after its
    /// checkpoint) and returns them.
    public func truncateMetrics(after step: Int) throws -> [StepMetrics] {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return [] }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        var kept: [StepMetrics] = []
        var out = Data()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let m = try? dec.decode(StepMetrics.self, from: Data(line)), m.step <= step else { continue }
            kept.append(m)
            out.append(Data(line))
            out.append(UInt8(ascii: "\n"))
        }
        try writeAtomically(out, to: metricsPath)
        return kept
    }

    public func appendMetrics(_ m: StepMetrics) throws {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = [.sortedKeys]
        var line = try enc.encode(m)
        line.append(UInt8(ascii: "\n"))
        if !FileManager.default.fileExists(atPath: metricsPath) {
            FileManager.default.createFile(atPath: metricsPath, contents: nil)
        }
        guard let h = FileHandle(forWritingAtPath: metricsPath) else {
            throw DataError(message: "\(metricsPath): cannot open for appending")
        }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: line)
    }

    public func writePlot(_ metrics: [StepMetrics], title: String) throws {
        try writeAtomically(Data(LossPlot.svg(metrics, title: title).utf8), to: plotPath)
    }
}

/// A small SVG line chart of the train loss (every step) and the validation loss (where
/// measured), with labelled axes: readable in any browser, no plotting library needed.
public enum LossPlot {
    public static func svg(_ metrics: [StepMetrics], title: String) -> String {
        let w = 720.0, h = 420.0, left = 64.0, right = 20.0, top = 40.0, bottom = 48.0
        let train = metrics.map { (Double($0.step), $0.loss) }.filter { $0.1.isFinite }
        let val = metrics.compactMap { m in m.valLoss.map { (Double(m.step), $0) } }.filter { $0.1.isFinite }
        let all = train + val
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(w / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

            """
        guard let minX = all.map(\.0).min(), let maxX = all.map(\.0).max(),
              let minY0 = all.map(\.1).min(), let maxY0 = all.map(\.1).max() else {
            return out + "<text x=\"\(Int(w / 2))\" y=\"\(Int(h / 2))\" text-anchor=\"middle\">no steps yet</text>\n</svg>\n"
        }
        let minY = max(0, minY0 - 0.05 * (maxY0 - minY0)), maxY = maxY0 + 0.05 * max(maxY0 - minY0, 1e-3)
        let spanX = max(maxX - minX, 1)
        func x(_ v: Double) -> Double { left + (v - minX) / spanX * (w - left - right) }
        func y(_ v: Double) -> Double { top + (maxY - v) / (maxY - minY) * (h - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        // Axes and ticks.
        out += "<line x1=\"\(f(left))\" y1=\"\(f(h - bottom))\" x2=\"\(f(w - right))\" y2=\"\(f(h - bottom))\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(h - bottom))\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let vy = minY + Double(k) / 4 * (maxY - minY)
            out += "<line x1=\"\(f(left - 4))\" y1=\"\(f(y(vy)))\" x2=\"\(f(w - right))\" y2=\"\(f(y(vy)))\" stroke=\"#ddd\"/>"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y(vy) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", vy))</text>\n"
            let vx = minX + Double(k) / 4 * spanX
            out += "<text x=\"\(f(x(vx)))\" y=\"\(f(h - bottom + 18))\" text-anchor=\"middle\">\(Int(vx.rounded()))</text>\n"
        }
        out += "<text x=\"\(Int(w / 2))\" y=\"\(Int(h - 10))\" text-anchor=\"middle\">step</text>\n"
        out += "<text x=\"16\" y=\"\(Int(h / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(Int(h / 2)))\">loss (nats per token)</text>\n"
        func line(_ pts: [(Double, Double)], color: String, label: String, row: Int) -> String {
            guard !pts.isEmpty else { return "" }
            let p = pts.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            var s = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(p)\"/>\n"
            if pts.count < 40 { s += pts.map { "<circle cx=\"\(f(x($0.0)))\" cy=\"\(f(y($0.1)))\" r=\"2.5\" fill=\"\(color)\"/>" }.joined() + "\n" }
            let ly = top + 8 + Double(row) * 16
            s += "<line x1=\"\(f(w - right - 150))\" y1=\"\(f(ly))\" x2=\"\(f(w - right - 130))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(f(w - right - 124))\" y=\"\(f(ly + 4))\">\(label)</text>\n"
            return s
        }
        out += line(train, color: "#1f77b4", label: "train", row: 0)
        out += line(val, color: "#d62728", label: "validation", row: 1)
        return out + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// SIGTERM, SIGINT and SIGUSR1 (Slurm's warning before preemption or the time limit) set a flag
/// that the training loop reads between steps: it saves a checkpoint and exits with
/// `requeueExitStatus`, so a job script can requeue itself.
public enum SignalTrap {
    /// "Temporary failure, try again" (sysexits.h EX_TEMPFAIL).
    public static let requeueExitStatus: Int32 = 75
    private static let received = Atomic<Int32>(0)

    public static func install() {
        // A parent may have left these blocked (a process spawned from a Foundation `Process`
        // can inherit a mask that blocks them): unblock them, or a job's SIGTERM never arrives.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGUSR1] {
            sigaddset(&set, s)
            signal(s) { sig in SignalTrap.received.store(sig, ordering: .relaxed) }
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal received, if any.
    public static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    public static func clear() { received.store(0, ordering: .relaxed) }
}

/// A checkpoint path as users give it: a model file, an HF folder, or a run folder of
/// `tune run` (its newest complete checkpoint).
public func resolveCheckpoint(_ path: String) -> String {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
    let run = RunFolder(path)
    if let last = run.checkpoints().last {
        let model = run.modelPath(step: last)
        return FileManager.default.fileExists(atPath: model) ? model : run.adapterPath(step: last)
    }
    return path
}

/// True when `path` is a LoRA adapter file (an `adapter_config.json` lies beside it).
public func isAdapter(_ path: String) -> Bool {
    path.hasSuffix(".safetensors")
        && FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path + "/adapter_config.json")
}

/// Reads a checkpoint as users give it: a model file, an HF folder, a run folder, or LoRA
/// adapters (merged into the base model their `adapter_config.json` names).
public func readCheckpoint(_ given: String, threads: Int = 1) throws -> Checkpoint {
    let path = resolveCheckpoint(given)
    guard isAdapter(path) else { return try Checkpoint.read(path: path) }
    let (options, base) = try LoRAModel.config(at: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    let b = try Checkpoint.read(path: resolveCheckpoint(base))
    let lora = LoRAModel(model: GPT(config: b.config, parameters: b.parameters, threads: threads), options: options, seed: 0)
    try lora.loadAdapters(from: path)
    return lora.mergedCheckpoint()
}
