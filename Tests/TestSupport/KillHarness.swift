// Kill anywhere: run a stage to its end, then again killed with SIGKILL at random moments and
// rerun, and compare the rerun's output with the uninterrupted run's, byte for byte.
//
// The moments are fractions of the uninterrupted run's wall time, drawn from a seeded generator:
// KILN_KILL_SEED replays a run (the seed is printed with every report), KILN_KILL_POINTS sets how
// many kill points each stage gets (the normal suite uses a few; docs/RELIABILITY.md gives the
// results of a longer run).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One stage to kill: how to run it into an output folder, how to rerun it after a kill, and
/// which bytes of the folder must come out the same.
public struct KillableRun {
    public var name: String
    /// The program (the built `prep` or `tune`).
    public var program: String
    /// The arguments of a run writing into the folder given.
    public var arguments: (String) -> [String]
    /// The arguments of the rerun after a kill (by default the same as `arguments`).
    public var rerunArguments: (String) -> [String]
    /// The files that must be byte-identical, by name.
    public var outputs: (String) -> [String: [UInt8]]
    /// Temporary files left in the folder (by default: its hidden files); must be none after a rerun.
    public var leftovers: (String) -> [String]
    /// Says, after a kill, how far the killed run had got (for the report), from its folder.
    public var progress: ((String) -> String)?
    /// Kill the program's whole process group (it and every process it started, as Ctrl-C at a
    /// terminal or a batch system does), not the program alone; and check that no process with
    /// the output folder in its command line outlives the kill.
    public var killGroup: Bool

    public init(name: String, program: String, arguments: @escaping (String) -> [String],
                rerunArguments: ((String) -> [String])? = nil, outputs: @escaping (String) -> [String: [UInt8]],
                leftovers: ((String) -> [String])? = nil, killGroup: Bool = false, progress: ((String) -> String)? = nil) {
        self.name = name
        self.program = program
        self.arguments = arguments
        self.rerunArguments = rerunArguments ?? arguments
        self.outputs = outputs
        self.leftovers = leftovers ?? { ((try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? []).filter { $0.hasPrefix(".") } }
        self.killGroup = killGroup
        self.progress = progress
    }

    /// `prep ARGS --out FOLDER`.
    public static func prep(_ name: String, _ args: [String], outputs: @escaping (String) -> [String: [UInt8]]) -> KillableRun {
        KillableRun(name: name, program: Fixtures.binDir + "/prep", arguments: { args + ["--out", $0] }, outputs: outputs)
    }
}

/// What one stage's kill points gave.
public struct KillReport: CustomStringConvertible {
    public var stage: String
    public var seed: UInt64
    /// The kill moments, as fractions of the uninterrupted run's time.
    public var fractions: [Double] = []
    /// Kills that found the process still running (the others came after it had finished).
    public var landed = 0
    public var referenceSeconds = 0.0
    /// Everything that went wrong, one line each; empty when the stage passed.
    public var failures: [String] = []
    /// Where each kill found the run, when the run says (`KillableRun.progress`).
    public var notes: [String] = []

    public var tried: Int { fractions.count }
    public var description: String {
        let points = fractions.map { String(format: "%.2f", $0) }.joined(separator: " ")
        return "kill \(stage): \(tried) points tried, \(landed) landed mid-run (seed \(seed), run \(String(format: "%.1f", referenceSeconds)) s, at \(points))"
            + (notes.isEmpty ? "" : "; killed " + notes.joined(separator: ", "))
            + (failures.isEmpty ? "" : "; FAILED: " + failures.joined(separator: "; "))
    }
}

public enum KillHarness {
    /// KILN_KILL_SEED, or a fresh seed for this test process (printed in every report).
    public static let seed: UInt64 = {
        if let s = ProcessInfo.processInfo.environment["KILN_KILL_SEED"], let v = UInt64(s) { return v }
        return UInt64.random(in: 1...999_999)
    }()

    /// KILN_KILL_POINTS, or `normal` (the count for `make test`).
    public static func points(normal: Int) -> Int {
        ProcessInfo.processInfo.environment["KILN_KILL_POINTS"].flatMap { Int($0) }.map { max(1, $0) } ?? normal
    }

    /// The kill moments of a stage: its own stream of the seed (so that adding a stage does not
    /// move another's), uniform in [0.03, 0.97) of the reference run's time.
    public static func fractions(stage: String, count: Int, seed: UInt64 = seed) -> [Double] {
        var random = TestRandom(seed: seed ^ stage.utf8.reduce(0xCBF2_9CE4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
        return (0..<count).map { _ in 0.03 + 0.94 * Double(random.next() >> 11) / Double(1 << 53) }
    }

    /// Runs `run` to its end, then `count` times killed and rerun, each in a fresh folder under
    /// `dir`; checks the rerun exits 0, matches the uninterrupted bytes and leaves no hidden
    /// (temporary) file behind. With `kills` > 1, each point kills the run and then its rerun(s)
    /// that many times (each at a moment of its own, a fraction of the time the kills before it
    /// left) before the rerun that must complete.
    public static func check(_ run: KillableRun, dir: String, count: Int, kills: Int = 1) throws -> KillReport {
        var report = KillReport(stage: run.name, seed: seed)
        let start = Date()
        let reference = try Fixtures.run(run.program, run.arguments(dir + "/\(run.name)-ref"))
        report.referenceSeconds = Date().timeIntervalSince(start)
        guard reference.status == 0 else {
            report.failures.append("the uninterrupted run exited \(reference.status): \(reference.stderr.suffix(500))")
            return report
        }
        let expected = run.outputs(dir + "/\(run.name)-ref")
        if expected.isEmpty { report.failures.append("the uninterrupted run wrote none of the compared files") }
        let all = fractions(stage: run.name, count: count * max(1, kills))
        for i in 0..<count {
            let out = dir + "/\(run.name)-kill\(i)"
            let mine = all[(i * max(1, kills))..<((i + 1) * max(1, kills))]
            // A rerun skips what the killed run finished, so it is shorter: each later kill comes
            // within the share of the reference time that the kills before it left.
            var left = 1.0
            for (k, fraction) in mine.enumerated() {
                defer { left *= 1 - fraction }
                report.fractions.append(fraction)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: run.program)
                p.arguments = k == 0 ? run.arguments(out) : run.rerunArguments(out)
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                // Foundation's Process makes the child the leader of a process group of its own.
                if run.killGroup && getpgid(p.processIdentifier) != p.processIdentifier {
                    report.failures.append("kill \(i): \(run.program) is not the leader of its process group")
                }
                usleep(useconds_t(report.referenceSeconds * left * fraction * 1_000_000))
                kill(run.killGroup ? -p.processIdentifier : p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL { report.landed += 1 }
                if let progress = run.progress { report.notes.append(String(format: "at %.2f %@", fraction, progress(out))) }
                if run.killGroup {
                    let survivors = processes(mentioning: out + "/")
                    if !survivors.isEmpty {
                        report.failures.append(String(format: "kill %d at %.2f: still running after the group was killed: ", i, fraction)
                                               + survivors.map { "\($0.pid) \($0.command)" }.joined(separator: "; "))
                        for s in survivors { kill(s.pid, SIGKILL) }
                        usleep(200_000)
                    }
                }
            }
            let rerun = try Fixtures.run(run.program, run.rerunArguments(out))
            let at = "kill \(i) at " + mine.map { String(format: "%.2f", $0) }.joined(separator: " then ")
            if rerun.status != 0 {
                report.failures.append("\(at): the rerun exited \(rerun.status): \(rerun.stderr.suffix(500))")
                continue
            }
            let got = run.outputs(out)
            if got != expected {
                let differ = Set(got.keys).union(expected.keys).filter { got[$0] != expected[$0] }.sorted()
                report.failures.append("\(at): differs from the uninterrupted run in \(differ)")
            }
            let leftovers = run.leftovers(out)
            if !leftovers.isEmpty { report.failures.append("\(at): temporary files left: \(leftovers)") }
        }
        print(report)
        return report
    }

    /// The processes whose parent is `pid` (the parent field of /proc/PID/stat).
    public static func children(of pid: pid_t) -> [pid_t] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
        return pids.filter { status($0)?.parent == pid }
    }

    /// A process's state letter (`R`, `S`, `T` stopped, `Z` ended but not yet reaped…) and
    /// parent, from /proc/PID/stat; nil once it is gone.
    public static func status(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        let text = String(decoding: Fixtures.read("/proc/\(pid)/stat"), as: UTF8.self)
        // "PID (NAME) STATE PPID …": the name may hold spaces and parentheses.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count >= 2, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    /// A process's command line, one argument each.
    public static func arguments(_ pid: pid_t) -> [String] {
        Fixtures.read("/proc/\(pid)/cmdline").split(separator: 0, omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// Polls until `pid` has ended (gone, or a zombie that its new parent has not reaped yet: in
    /// a container, process 1 may never reap it); false if it still runs after `timeout` seconds.
    public static func waitForEnd(of pid: pid_t, timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while let s = status(pid), s.state != "Z" {
            if Date() >= end { return false }
            usleep(10_000)
        }
        return true
    }

    /// Processes (other than this one) whose command line contains `text`, from /proc.
    public static func processes(mentioning text: String) -> [(pid: pid_t, command: String)] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
        return pids.filter { $0 != getpid() }.compactMap { pid in
            let command = String(decoding: Fixtures.read("/proc/\(pid)/cmdline").map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(text) ? (pid, command) : nil
        }
    }
}
