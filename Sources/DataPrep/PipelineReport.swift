import Foundation
import ShardFormat

/// One HTML page per pipeline run, for people (the manifests are for programs): the stage
/// table, the drop reasons per filter, document length and token count histograms, dedup
/// cluster sizes and the loss curves, as inline SVG. No server, no script, no external file.
public enum PipelineReport {
    public struct Row: Sendable {
        public var name: String
        public var run: String
        public var status: String
        public var seconds: Double
        public var out: String?
        public init(name: String, run: String, status: String, seconds: Double, out: String?) {
            self.name = name; self.run = run; self.status = status; self.seconds = seconds; self.out = out
        }
    }

    public static func html(_ p: Pipeline, rows: [Row]) -> String {
        var body = "<h1>Pipeline \(esc(p.name))</h1>\n<p>\(esc(p.file)) · workdir \(esc(p.workdir)) · \(esc(ISO8601DateFormatter().string(from: Date())))</p>\n"
        body += "<h2>Stages</h2>\n<table><tr><th>stage</th><th>command</th><th>status</th><th>seconds</th><th>output</th></tr>\n"
        for r in rows {
            body += "<tr><td>\(esc(r.name))</td><td><code>\(esc(r.run))</code></td><td class=\"\(esc(r.status.replacingOccurrences(of: " ", with: "-")))\">\(esc(r.status))</td>"
                + "<td class=\"num\">\(String(format: "%.1f", r.seconds))</td><td><code>\(esc(r.out ?? ""))</code></td></tr>\n"
        }
        body += "</table>\n"
        for s in p.stages {
            guard let out = s.out, let section = self.section(s, out: out) else { continue }
            body += "<h2>\(esc(s.name)) <small><code>\(esc(s.run))</code></small></h2>\n" + section
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Kiln pipeline \(esc(p.name))</title>
            <style>
            body { font-family: sans-serif; max-width: 980px; margin: 2em auto; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1em; }
            td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
            td.num { text-align: right; } td.failed { color: #b00; font-weight: bold; } td.ran { color: #070; }
            small { color: #666; font-weight: normal; } svg { display: block; margin: 0.5em 0; }
            </style></head><body>
            \(body)
            </body></html>

            """
    }

    static func section(_ s: Pipeline.Stage, out: String) -> String? {
        switch s.run {
        case "prep ingest":
            guard let m = manifests(out, IngestManifest.self).first else { return nil }
            var h = "<p>\(m.counts.documents) documents (\(mb(m.counts.textBytes)) of text) from \(m.counts.inputs) inputs.</p>\n"
            h += bars("skipped, by reason", m.counts.skipped.mapValues(Double.init))
            h += bars("errors, by kind", m.counts.errors.mapValues(Double.init))
            h += histogram("document length (characters)", lengths(out))
            return h
        case "prep clean":
            guard let m = manifests(out, CleanManifest.self).first else { return nil }
            var h = "<p>kept \(m.counts.kept.documents) of \(m.counts.documentsIn) documents (\(mb(m.counts.kept.bytes)) of \(mb(m.counts.bytesIn))).</p>\n"
            h += bars("dropped documents, by filter and reason", m.counts.dropped.mapValues { Double($0.documents) })
            h += bars("languages", m.counts.languages.mapValues(Double.init))
            h += histogram("length of kept documents (characters)", lengths(out))
            return h
        case "prep dedup":
            guard let m = manifests(out, DedupManifest.self).first else { return nil }
            var h = "<p>kept \(m.kept) of \(m.documents) documents; removed \(m.removed.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")).</p>\n"
            if let removed = m.removedDirectory {
                var sizes: [String: Int] = [:]
                for f in (try? Shards.list([removed])) ?? [] {
                    _ = try? Shards.forEachDocument(in: f, onInvalidLine: { _ in }) { d, _ in
                        if case let .string(of)? = d.metadata.first(where: { $0.key == "duplicate_of" })?.value { sizes[of, default: 1] += 1 }
                    }
                }
                h += histogram("cluster sizes (documents per cluster, the kept one included)", sizes.values.map { Double($0) }, log: false)
            }
            return h
        case "prep tokenize":
            guard let m = manifests(out, TokenizeManifest.self).first else { return nil }
            var h = "<p>" + m.splits.sorted { $0.key > $1.key }.map { "\($0.key): \($0.value.tokens) tokens in \($0.value.documents) documents" }.joined(separator: "; ") + "</p>\n"
            if let sft = m.sft {
                h += String(format: "<p>SFT: %d of %d examples written, %d cut, %.1f%% of tokens trained.</p>\n",
                            sft.examplesWritten, sft.examplesRead, sft.truncated, 100 * sft.trainedFraction)
                h += bars("refused examples", sft.refused.mapValues(Double.init))
            }
            var counts: [Double] = []
            for shard in m.splits.values.flatMap(\.shards) {
                guard let d = FileManager.default.contents(atPath: out + "/" + shard.index),
                      let idx = try? TokenIndex.decode([UInt8](d), path: shard.index) else { continue }
                counts += zip(idx.offsets, idx.offsets.dropFirst()).map { Double($1 - $0) }
            }
            h += histogram("tokens per document (those that start in a shard)", counts)
            return h
        case "tune run":
            var h = ""
            if let d = FileManager.default.contents(atPath: out + "/summary.json"),
               let s = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
                let f = { (k: String) in (s[k] as? Double).map { String(format: "%.4f", $0) } ?? "–" }
                h += "<p>\(s["steps"] as? Int ?? 0) steps; final loss \(f("final_loss")), validation loss \(f("initial_val_loss")) before → \(f("final_val_loss")) after; "
                    + String(format: "%.0f tokens/s, %.1f GFLOP/s.</p>\n", s["tokens_per_second"] as? Double ?? 0, s["gflops"] as? Double ?? 0)
            }
            if let svg = try? String(contentsOfFile: out + "/loss.svg", encoding: .utf8) { h += svg }
            return h.isEmpty ? nil : h
        case "tune eval":
            guard let d = FileManager.default.contents(atPath: out),
                  let s = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return nil }
            var h = ""
            if let l = s["loss"] as? Double { h += String(format: "<p>loss %.4f, perplexity %.2f</p>\n", l, exp(l)) }
            for t in (s["tasks"] as? [[String: Any]]) ?? [] {
                var line = "<p><code>\(esc(t["file"] as? String ?? ""))</code>: \(t["records"] as? Int ?? 0) records"
                if let a = t["accuracy"] as? Double { line += String(format: ", accuracy %.3f", a) }
                if let e = t["exact_match"] as? Double { line += String(format: ", exact match %.3f", e) }
                if let l = t["answer_loss"] as? Double { line += String(format: ", loss of the reference answers %.3f per token", l) }
                h += line + "</p>\n"
            }
            return h
        case "tune generate":
            guard let d = FileManager.default.contents(atPath: out),
                  let s = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { return nil }
            return "<p><code>\(esc(s["prompt"] as? String ?? ""))</code> → <b>\(esc(s["text"] as? String ?? ""))</b></p>\n"
        default:
            return nil
        }
    }

    static func manifests<M: StageManifest>(_ dir: String, _: M.Type) -> [M] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("manifest") && $0.hasSuffix(".json") }.sorted()
        return names.compactMap { try? M.read(dir + "/" + $0) }
    }

    /// Character counts of the documents in a folder of shards (the first 100,000).
    static func lengths(_ dir: String) -> [Double] {
        var out: [Double] = []
        for f in (try? Shards.list([dir])) ?? [] where out.count < 100_000 {
            _ = try? Shards.forEachDocument(in: f, onInvalidLine: { _ in }) { d, _ in out.append(Double(d.text.count)) }
        }
        return out
    }

    static func mb(_ b: Int64) -> String { String(format: "%.1f MB", Double(b) / 1e6) }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Horizontal bars, largest first.
    static func bars(_ title: String, _ values: [String: Double]) -> String {
        let items = values.filter { $0.value > 0 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(20)
        guard let top = items.first?.value else { return "" }
        let rowH = 18, w = 900, labelW = 330
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(items.count * rowH + 28)\" font-size=\"12\" font-family=\"sans-serif\">"
        s += "<text x=\"0\" y=\"14\" font-weight=\"bold\">\(esc(title))</text>"
        for (k, item) in items.enumerated() {
            let y = 24 + k * rowH
            let len = Int(Double(w - labelW - 70) * item.value / top)
            s += "<text x=\"\(labelW - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(esc(item.key))</text>"
            s += "<rect x=\"\(labelW)\" y=\"\(y + 2)\" width=\"\(max(1, len))\" height=\"\(rowH - 5)\" fill=\"#4a7ab5\"/>"
            s += "<text x=\"\(labelW + len + 5)\" y=\"\(y + 12)\">\(Int(item.value))</text>"
        }
        return s + "</svg>\n"
    }

    /// A histogram: bins of powers of two (`log`) or of whole values.
    static func histogram(_ title: String, _ values: [Double], log: Bool = true) -> String {
        guard !values.isEmpty else { return "" }
        var bins: [Int: Int] = [:]
        for v in values { bins[log ? Int(Foundation.log2(max(1, v))) : Int(v), default: 0] += 1 }
        let keys = Array(bins.keys.min()!...bins.keys.max()!)
        let top = Double(bins.values.max()!)
        let w = 900, h = 180, left = 50, barW = max(4, min(60, (w - left - 20) / keys.count))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h + 60)\" font-size=\"11\" font-family=\"sans-serif\">"
        s += "<text x=\"0\" y=\"14\" font-weight=\"bold\">\(esc(title)) · \(values.count) values</text>"
        for (i, k) in keys.enumerated() {
            let n = bins[k] ?? 0
            let bh = Int(Double(h - 10) * Double(n) / top)
            let x = left + i * barW
            s += "<rect x=\"\(x)\" y=\"\(24 + h - bh)\" width=\"\(barW - 2)\" height=\"\(bh)\" fill=\"#5a9\"><title>\(n)</title></rect>"
            if keys.count <= 24 || i % 2 == 0 {
                let label = log ? (k >= 10 ? "\(1 << (k - 10))k" : "\(1 << k)") : "\(k)"
                s += "<text x=\"\(x + barW / 2)\" y=\"\(24 + h + 14)\" text-anchor=\"middle\">\(label)</text>"
            }
        }
        s += "<text x=\"\(left)\" y=\"\(24 + h + 32)\">\(log ? "bins start at powers of two" : "value")</text>"
        return s + "</svg>\n"
    }
}
