import FineTuning
import Foundation
import GPTModel
import Testing
import TestSupport

/// `mpirun -np 2 tune run` on this machine: two ranks of batch B against one of batch 2B, a
/// signal to one rank, a rank that dies.
@Suite(.serialized) struct TuneMPITests {
    /// mpirun's options for a test: root needs --allow-run-as-root; --oversubscribe lets two
    /// ranks start on a machine that Open MPI counts as one slot.
    static func mpirun(_ ranks: Int, _ args: [String]) -> [String] {
        ["-np", "\(ranks)", "--oversubscribe"] + (getuid() == 0 ? ["--allow-run-as-root"] : [])
            + [Fixtures.binDir + "/tune"] + args
    }

    static func metrics(_ run: String) -> [[String: Any]] {
        String(decoding: Fixtures.read(run + "/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    /// The tune processes that mpirun `parent` started, by rank (from their environment).
    static func ranks(of parent: Int32) -> [Int: Int32] {
        var found: [Int: Int32] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent else { continue }
            let env = Fixtures.read("/proc/\(name)/environ").split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if let r = env.first(where: { $0.hasPrefix("OMPI_COMM_WORLD_RANK=") }).flatMap({ Int($0.dropFirst(21)) }) {
                found[r] = pid
            }
        }
        return found
    }

    /// Starts `mpirun -np 2 tune run … --steps 100000`, waits for its first metrics line and
    /// returns it with the ranks' process ids.
    static func startLongRun(_ dir: String, base: String, sft: String, out: String) throws -> (Process, [Int: Int32]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["mpirun"] + mpirun(2, ["run", "--base", base, "--data", sft, "--steps", "100000", "--out", out,
                                              "--eval-every", "0", "--save-every", "0"] + TuneCLITests.short)
        let log = dir + "/mpirun.err"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        for _ in 0..<1200 where !FileManager.default.fileExists(atPath: out + "/metrics.jsonl") && p.isRunning { usleep(50_000) }
        return (p, ranks(of: p.processIdentifier))
    }

    /// Waits up to `seconds` for `p` to end; false if it is still running (then killed).
    static func wait(_ p: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return false }
        return true
    }

    @Test func twoRanksOfBatchBFollowOneRankOfBatch2B() throws {
        let dir = Fixtures.tempDir("tunempi")
        let (tok, sft) = try TuneCLITests.data(dir)
        #expect(try Fixtures.tune(["init"] + TuneCLITests.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        func common(_ b: Int) -> [String] {
            ["run", "--base", dir + "/base.bin", "--data", sft, "--steps", "8", "--lr", "3e-3", "--eval-every", "4",
             "--save-every", "4", "--keep", "3", "--batch-size", "\(b)", "--seq-len", "64", "--eval-batches", "2",
             "--threads", "1", "--quiet"]
        }
        let one = try Fixtures.tune(common(4) + ["--out", dir + "/one"])
        #expect(one.status == 0, "\(one.stderr)")
        let two = try Fixtures.run("mpirun", Self.mpirun(2, common(2) + ["--out", dir + "/two", "--json"]))
        #expect(two.status == 0, "\(two.stderr)")

        // The same loss curve, validation losses and weights, up to the order of fp32 sums.
        let a = Self.metrics(dir + "/one"), b = Self.metrics(dir + "/two")
        #expect(a.count == 8 && b.count == 8)
        for (x, y) in zip(a, b) {
            let la = x["loss"] as? Double ?? .nan, lb = y["loss"] as? Double ?? .nan
            #expect(abs(la - lb) <= 1e-6 * max(1, abs(la)), "step \(x["step"] ?? "?"): \(la) vs \(lb)")
            #expect((x["trained_tokens"] as? Double) == (y["trained_tokens"] as? Double))
            if let va = x["val_loss"] as? Double {
                let vb = y["val_loss"] as? Double ?? .nan
                #expect(abs(va - vb) <= 1e-6 * max(1, abs(va)), "validation: \(va) vs \(vb)")
            }
            #expect(x["communication_seconds"] == nil)
            #expect((y["communication_seconds"] as? Double).map { $0 >= 0 } == true)
        }
        let wa = try Checkpoint.read(path: dir + "/one/model_00000008.bin").parameters
        let wb = try Checkpoint.read(path: dir + "/two/model_00000008.bin").parameters
        #expect(wa.count == wb.count)
        let worst = zip(wa, wb).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst < 2e-5, "largest weight difference \(worst)")
        let summary = try JSONSerialization.jsonObject(with: Data(two.stdout.utf8)) as? [String: Any]
        #expect(summary?["ranks"] as? Int == 2)
        #expect((summary?["communication_fraction"] as? Double).map { (0..<1).contains($0) } == true)
        // Rank 1 printed nothing: the summary is rank 0's alone.
        #expect(two.stdout.components(separatedBy: "\"ranks\"").count == 2)

        // Resume on two ranks continues bit for bit; on one rank it is refused.
        for f in ["model_00000008.bin", "state_00000008.bin", "model_00000008.bin.kiln.json"] {
            try FileManager.default.copyItem(atPath: dir + "/two/" + f, toPath: dir + "/" + f)
            unlink(dir + "/two/" + f)
        }
        let alone = try Fixtures.tune(common(4) + ["--out", dir + "/two", "--resume"])
        #expect(alone.status == 1 && alone.stderr.contains("2 processes"), "\(alone.stderr)")
        let resumed = try Fixtures.run("mpirun", Self.mpirun(2, common(2) + ["--out", dir + "/two", "--resume"]))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Fixtures.read(dir + "/two/model_00000008.bin") == Fixtures.read(dir + "/model_00000008.bin"))

        // Sums sent layer by layer during the backward pass, or all after it: the same sums.
        let after = try Fixtures.run("mpirun", Self.mpirun(2, common(2) + ["--out", dir + "/after", "--no-overlap"]))
        #expect(after.status == 0, "\(after.stderr)")
        #expect(Fixtures.read(dir + "/after/model_00000008.bin") == Fixtures.read(dir + "/model_00000008.bin"))

        // --help says how.
        let help = try Fixtures.tune(["run", "--help"]).stdout
        for s in ["ON SEVERAL PROCESSES OR MACHINES: MPI", "mpirun -np 2 tune run", "--hostfile", "--no-overlap"] {
            #expect(help.contains(s), "\(s)")
        }
    }

    /// SIGTERM to rank 1 alone: rank 0 writes a checkpoint and both exit 75 (mpirun too).
    @Test func aSignalToOneRankStopsEveryRankWithACheckpoint() throws {
        let dir = Fixtures.tempDir("tunempisig")
        let (tok, sft) = try TuneCLITests.data(dir)
        #expect(try Fixtures.tune(["init"] + TuneCLITests.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let (p, pids) = try Self.startLongRun(dir, base: dir + "/base.bin", sft: sft, out: dir + "/run")
        #expect(pids.count == 2, "ranks found: \(pids)")
        if let one = pids[1] { kill(one, SIGTERM) }
        #expect(Self.wait(p, seconds: 60), "mpirun still running a minute after the signal")
        let log = String(decoding: Fixtures.read(dir + "/mpirun.err"), as: UTF8.self)
        #expect(p.terminationStatus == 75, "\(log)")
        #expect(log.contains("checkpoint written"), "\(log)")
        #expect(RunFolder(dir + "/run").checkpoints().count == 1)
    }

    /// A rank killed outright (no checkpoint, no MPI_Finalize): mpirun stops the other one and
    /// says which rank died, instead of leaving it waiting in a sum.
    @Test func aDeadRankStopsTheOthers() throws {
        let dir = Fixtures.tempDir("tunempikill")
        let (tok, sft) = try TuneCLITests.data(dir)
        #expect(try Fixtures.tune(["init"] + TuneCLITests.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let (p, pids) = try Self.startLongRun(dir, base: dir + "/base.bin", sft: sft, out: dir + "/run")
        #expect(pids.count == 2, "ranks found: \(pids)")
        if let one = pids[1] { kill(one, SIGKILL) }
        let started = Date()
        #expect(Self.wait(p, seconds: 30), "mpirun still running 30 s after a rank died")
        let log = String(decoding: Fixtures.read(dir + "/mpirun.err"), as: UTF8.self)
        #expect(p.terminationStatus != 0 && p.terminationStatus != 75, "\(log)")
        #expect(log.contains("rank 1") && log.contains("signal 9"), "\(log)")
        #expect(Date().timeIntervalSince(started) < 30)
        // Rank 0 is gone (or a zombie waiting for init to reap it: state Z).
        if let zero = pids[0] {
            let stat = (try? String(contentsOfFile: "/proc/\(zero)/stat", encoding: .utf8)) ?? ""
            let state = stat.lastIndex(of: ")").map { stat[stat.index($0, offsetBy: 2)...].prefix(1) } ?? "gone"
            #expect(state == "gone" || state == "Z" || state == "X", "rank 0 is still running (state \(state))")
        }
    }
}
