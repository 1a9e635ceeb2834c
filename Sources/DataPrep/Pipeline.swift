import Foundation
import Yams

// A pipeline file: the whole flow as one batch job. Each stage is one `prep` or `tune` command
// with the same options as on the command line (snake_case keys), its inputs the outputs of
// earlier stages (`@name`), and variables (`${data_root}`) that `--set key=value` overrides.
//
//     name: demo
//     workdir: out/demo             # stamps, the run summary and the report go here
//     vars: {data_root: samples}
//     stages:
//       - name: docs
//         run: prep ingest
//         inputs: ["${data_root}/raw"]
//         out: ${workdir}/docs
//         options: {compression: zstd}
//       - name: clean
//         run: prep clean
//         inputs: ["@docs"]
//         out: ${workdir}/clean
//       - name: pretrain
//         run: tune run
//         ranks: 2                  # tune run only: N MPI processes (mpirun locally, srun on Slurm)
//         options: {base: "@init", data: "@tokens", batch_size: 8}
//
// Everything is checked before anything runs, and every error names the file, the line and the
// key: unknown keys (of the file, of a stage, of a command's options), undefined variables, a
// reference to a stage that is not earlier in the file.

public struct PipelineError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// The commands a stage may run, with the options each accepts (read from the command itself,
/// so the two never drift apart).
public struct CommandCatalog: Sendable {
    public struct Command: Sendable {
        /// Long option names (kebab-case) and whether each is a flag.
        public var options: [String: Bool]
        /// Whether the command takes positional inputs.
        public var takesInputs: Bool
        public var hasOut: Bool { options["out"] != nil }
        public init(options: [String: Bool], takesInputs: Bool) {
            self.options = options
            self.takesInputs = takesInputs
        }
    }
    public var commands: [String: Command]
    public init(commands: [String: Command]) { self.commands = commands }

    /// Parses swift-argument-parser's `--experimental-dump-help` JSON.
    public static func command(fromDumpHelp data: Data) throws -> Command {
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cmd = root["command"] as? [String: Any] else {
            throw PipelineError(file: "(help)", line: nil, message: "cannot read a command's option list")
        }
        var options: [String: Bool] = [:]
        var positional = false
        for a in (cmd["arguments"] as? [[String: Any]]) ?? [] {
            let kind = a["kind"] as? String
            if kind == "positional" { positional = true; continue }
            for n in (a["names"] as? [[String: Any]]) ?? [] where (n["kind"] as? String) == "long" {
                if let name = n["name"] as? String { options[name] = kind == "flag" }
            }
        }
        return Command(options: options, takesInputs: positional)
    }
}

public struct Pipeline: Sendable {
    public struct Stage: Sendable, Equatable {
        public var name: String
        /// "prep ingest", "tune run", …
        public var run: String
        public var inputs: [String]
        public var out: String?
        /// Option name (kebab-case) → values (one, or several for a repeatable option; "true"
        /// for a flag that is set).
        public var options: [(key: String, values: [String])]
        /// Names of the earlier stages this one reads.
        public var dependsOn: [String]
        public var line: Int
        /// Processes that run the command together (`tune run` only): more than 1 runs it under
        /// `mpirun -np N` locally and `srun` on Slurm, each process with the stage's options
        /// (so a batch_size of B per process: N×B rows per step).
        public var ranks = 1

        public static func == (a: Stage, b: Stage) -> Bool {
            a.name == b.name && a.run == b.run && a.inputs == b.inputs && a.out == b.out
                && a.options.map { [$0.key] + $0.values } == b.options.map { [$0.key] + $0.values } && a.dependsOn == b.dependsOn
                && a.ranks == b.ranks
        }

        /// How a local run starts the command: nothing for one process, `mpirun -np N` for more
        /// (the stamp records it too, so a change of N reruns the stage).
        public var launcher: [String] { ranks > 1 ? ["mpirun", "-np", String(ranks)] : [] }
    }

    public var file: String
    public var name: String
    public var workdir: String
    public var vars: [String: String]
    public var stages: [Stage]

    /// The longest text a value may expand to. A value that refers to itself, or variables that
    /// refer to each other, grow as the expansion rounds go (`a: "${a}${a}${a}${a}${a}${a}${a}${a}"`
    /// is 2^48 copies of itself after four rounds: a 60-byte file that took all the memory), so a
    /// value past this is an error. Paths and options are far shorter.
    static let maxExpandedBytes = 1 << 16

    static let fileKeys: Set<String> = ["name", "workdir", "vars", "stages", "description"]
    static let stageKeys: Set<String> = ["name", "run", "inputs", "out", "options", "description", "ranks"]
    /// The commands that can run on several MPI processes.
    public static let multiProcessCommands: Set<String> = ["tune run"]

    /// Reads and checks a pipeline file. `set` overrides variables; `catalog` knows the
    /// commands and their options.
    public static func load(_ path: String, set: [String: String] = [:], catalog: CommandCatalog) throws -> Pipeline {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PipelineError(file: path, line: nil, message: "cannot read the pipeline file")
        }
        return try parse(yaml: text, path: path, set: set, catalog: catalog)
    }

    /// `load` on the text of a pipeline file; `path` names it in errors and gives `pipeline_dir`.
    public static func parse(yaml text: String, path: String, set: [String: String] = [:],
                             catalog: CommandCatalog) throws -> Pipeline {
        func fail(_ node: Node?, _ m: String) -> PipelineError { PipelineError(file: path, line: node?.mark?.line, message: m) }
        let root: Node
        do {
            guard let r = try Yams.compose(yaml: text) else { throw fail(nil, "the file is empty") }
            root = r
        } catch let e as PipelineError {
            throw e
        } catch {
            throw PipelineError(file: path, line: nil, message: "invalid YAML: \(error)")
        }
        guard let top = root.mapping else { throw fail(root, "expected a mapping with name, workdir, vars and stages") }
        for (k, _) in top where !fileKeys.contains(k.string ?? "") {
            throw fail(k, "unknown key \"\(k.string ?? "")\" (known: \(fileKeys.sorted().joined(separator: ", ")))")
        }
        let base = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        var vars: [String: String] = ["pipeline_dir": URL(fileURLWithPath: path).deletingLastPathComponent().path]
        var varLines: [String: Int] = [:]
        if let v = top["vars"] {
            guard let m = v.mapping else { throw fail(v, "vars must be a mapping of names to values") }
            for (k, val) in m {
                guard let key = k.string, let s = val.scalar?.string else { throw fail(k, "vars: \(k.string ?? "?") must be a plain value") }
                vars[key] = s
                varLines[key] = k.mark?.line
            }
        }
        for (k, v) in set {
            guard vars[k] != nil || k == "workdir" else {
                throw PipelineError(file: path, line: nil, message: "--set \(k): no such variable (defined: \(vars.keys.sorted().joined(separator: ", ")))")
            }
            vars[k] = v
        }
        func expand(_ s: String, _ node: Node?) throws -> String {
            var out = ""
            var rest = Substring(s)
            while let r = rest.range(of: "${") {
                out += rest[..<r.lowerBound]
                guard let close = rest[r.upperBound...].firstIndex(of: "}") else { throw fail(node, "unclosed ${ in \"\(s)\"") }
                let name = String(rest[r.upperBound..<close])
                guard let value = vars[name] else {
                    throw fail(node, "undefined variable ${\(name)} (defined: \(vars.keys.sorted().joined(separator: ", ")))")
                }
                out += value
                guard out.utf8.count <= maxExpandedBytes else {
                    throw fail(node, "\"\(s.prefix(60))\" expands to more than \(maxExpandedBytes) bytes "
                               + "(does a variable refer to itself?)")
                }
                rest = rest[rest.index(after: close)...]
            }
            return out + rest
        }
        // Variables may use each other (and workdir); expand until stable.
        for _ in 0..<4 {
            for (k, v) in vars {
                do {
                    vars[k] = try expand(v, nil)
                } catch var e as PipelineError {
                    e.line = e.line ?? varLines[k]
                    throw e
                }
            }
        }
        let workdir = try expand(set["workdir"] ?? top["workdir"]?.string ?? "out/\(base)", top["workdir"])
        vars["workdir"] = workdir
        let name = top["name"]?.string ?? base

        guard let stagesNode = top["stages"], let list = stagesNode.sequence, !list.isEmpty else {
            throw fail(top["stages"] ?? root, "stages must be a non-empty list")
        }
        var stages: [Stage] = []
        var outs: [String: String] = [:]
        for node in list {
            guard let m = node.mapping else { throw fail(node, "each stage must be a mapping (name, run, inputs, out, options)") }
            for (k, _) in m where !stageKeys.contains(k.string ?? "") {
                throw fail(k, "unknown key \"\(k.string ?? "")\" in a stage (known: \(stageKeys.sorted().joined(separator: ", ")))")
            }
            guard let stageName = m["name"]?.string, !stageName.isEmpty else { throw fail(node, "a stage needs a name") }
            guard outs[stageName] == nil, !stages.contains(where: { $0.name == stageName }) else {
                throw fail(m["name"], "two stages are named \(stageName)")
            }
            guard let run = m["run"]?.string, let command = catalog.commands[run] else {
                throw fail(m["run"] ?? node, "stage \(stageName): run must be one of: \(catalog.commands.keys.sorted().joined(separator: ", "))")
            }
            var depends: [String] = []
            let laterNames = Set(list.compactMap { $0.mapping?["name"]?.string })
            func resolve(_ raw: String, _ n: Node?) throws -> String {
                let s = try expand(raw, n)
                guard s.hasPrefix("@") else { return s }
                let ref = String(s.dropFirst())
                guard let o = outs[ref] else {
                    if laterNames.contains(ref) { throw fail(n, "stage \(stageName) reads @\(ref), which comes later in the file") }
                    throw fail(n, "stage \(stageName) reads @\(ref): no such stage")
                }
                if !depends.contains(ref) { depends.append(ref) }
                return o
            }
            var inputs: [String] = []
            if let inNode = m["inputs"] {
                let items = inNode.sequence.map(Array.init) ?? [inNode]
                for i in items {
                    guard let s = i.string else { throw fail(i, "stage \(stageName): inputs must be paths or @stage names") }
                    inputs.append(try resolve(s, i))
                }
                if !inputs.isEmpty && !command.takesInputs {
                    throw fail(inNode, "stage \(stageName): \(run) takes no inputs (give them as options)")
                }
            }
            let out = try m["out"].map { n -> String in
                guard let s = n.string else { throw fail(n, "stage \(stageName): out must be a path") }
                return try expand(s, n)
            }
            var options: [(key: String, values: [String])] = []
            if let o = m["options"] {
                guard let om = o.mapping else { throw fail(o, "stage \(stageName): options must be a mapping") }
                for (k, v) in om {
                    guard let key = k.string else { throw fail(k, "stage \(stageName): option names must be text") }
                    let flag = key.replacingOccurrences(of: "_", with: "-")
                    guard let isFlag = command.options[flag], !["out", "help", "version", "json", "print-config"].contains(flag) else {
                        let known = command.options.keys.filter { !["help", "version", "h", "json", "out"].contains($0) }
                            .map { $0.replacingOccurrences(of: "-", with: "_") }.sorted()
                        throw fail(k, "stage \(stageName): \(run) has no option \"\(key)\" (known: \(known.joined(separator: ", ")))")
                    }
                    let items = v.sequence.map(Array.init) ?? [v]
                    var values: [String] = []
                    for item in items {
                        guard let s = item.scalar?.string else { throw fail(item, "stage \(stageName): \(key) must be a value or a list of values") }
                        values.append(try resolve(s, item))
                    }
                    if isFlag {
                        guard values.count == 1, ["true", "false"].contains(values[0]) else {
                            throw fail(v, "stage \(stageName): \(key) is a flag: true or false")
                        }
                        if values[0] == "false" { continue }
                    }
                    options.append((flag, values))
                }
            }
            if command.hasOut && out == nil { throw fail(node, "stage \(stageName): \(run) needs out") }
            var ranks = 1
            if let r = m["ranks"] {
                guard let text = r.scalar?.string, let n = Int(try expand(text, r)), n >= 1 else {
                    throw fail(r, "stage \(stageName): ranks must be a whole number of processes, 1 or more")
                }
                guard n == 1 || multiProcessCommands.contains(run) else {
                    throw fail(r, "stage \(stageName): ranks: only \(multiProcessCommands.sorted().joined(separator: ", ")) runs on several processes")
                }
                ranks = n
            }
            var stage = Stage(name: stageName, run: run, inputs: inputs, out: out, options: options, dependsOn: depends,
                              line: node.mark?.line ?? 0)
            stage.ranks = ranks
            stages.append(stage)
            outs[stageName] = out ?? ""
        }
        return Pipeline(file: path, name: name, workdir: workdir, vars: vars, stages: stages)
    }

    /// The command line of a stage (without the program path): the command's words, its
    /// inputs, --out, the options, then `extra`.
    public func arguments(_ s: Stage, catalog: CommandCatalog, extra: [String] = []) -> [String] {
        var args = Array(s.run.split(separator: " ").dropFirst().map(String.init))
        args += s.inputs
        if let out = s.out, catalog.commands[s.run]?.hasOut == true { args += ["--out", out] }
        for (k, values) in s.options {
            if catalog.commands[s.run]?.options[k] == true { args.append("--" + k); continue }
            for v in values { args += ["--" + k, v] }
        }
        return args + extra
    }
}

/// What a stage's inputs and output looked like when it last finished: the stamp that lets a
/// rerun skip it.
public struct StageStamp: Codable, Equatable, Sendable {
    public var arguments: [String]
    /// Every file under each input (and under the output): relative path, size, modification time.
    public var inputs: [String: [String]]
    public var output: [String]
    public var finishedAt: String

    /// Stamps every file under `path` (a file or a folder), sorted; hidden files left out.
    public static func files(_ path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
        func stamp(_ p: String, _ name: String) -> String {
            var st = stat()
            guard stat(p, &st) == 0 else { return name }
            return "\(name) \(st.st_size) \(Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))"
        }
        guard isDir.boolValue else { return [stamp(path, (path as NSString).lastPathComponent)] }
        let e = FileManager.default.enumerator(atPath: path)
        var out: [String] = []
        while let rel = e?.nextObject() as? String {
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            var d: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + rel, isDirectory: &d), !d.boolValue {
                out.append(stamp(path + "/" + rel, rel))
            }
        }
        return out.sorted()
    }

    /// The paths a stage reads: its inputs and the option values that name existing files.
    public static func inputPaths(_ s: Pipeline.Stage) -> [String] {
        var paths = s.inputs
        for (_, values) in s.options {
            for v in values where v.contains("/") && FileManager.default.fileExists(atPath: v) { paths.append(v) }
        }
        return paths
    }

    public static func make(_ s: Pipeline.Stage, arguments: [String]) -> StageStamp {
        var inputs: [String: [String]] = [:]
        for p in inputPaths(s) { inputs[p] = files(p) }
        return StageStamp(arguments: arguments, inputs: inputs, output: s.out.map(files) ?? [],
                          finishedAt: ISO8601DateFormatter().string(from: Date()))
    }

    /// Why the stage must run again, or nil when this stamp shows it up to date.
    public func staleness(_ s: Pipeline.Stage, arguments: [String]) -> String? {
        if arguments != self.arguments { return "its options or inputs changed" }
        for p in StageStamp.inputPaths(s) where StageStamp.files(p) != inputs[p] { return "\(p) changed" }
        if let out = s.out {
            let now = StageStamp.files(out)
            if now.isEmpty { return "\(out) is missing" }
            if now != output { return "\(out) was changed since" }
        }
        return nil
    }
}
