// Fault injection for the tests: a small or read-only file system, a look at what a running
// child has open, and a child's peak memory.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tmpfs mounted for one test. Mounting needs root (the tests run as root in CI); where it
/// cannot be done, `tmpfs` prints why and returns nil, and the test skips that case.
public struct ScratchMount {
    public let path: String

    /// A tmpfs of `size` (mount's syntax: "2m") on a new folder.
    public static func tmpfs(size: String, test: String) -> ScratchMount? {
        guard getuid() == 0 else {
            print("skipped \(test): mounting a tmpfs needs root")
            return nil
        }
        let dir = Fixtures.tempDir("mnt")
        guard let r = try? Fixtures.run("mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir]), r.status == 0 else {
            print("skipped \(test): mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)")
            rmdir(dir)
            return nil
        }
        return ScratchMount(path: dir)
    }

    /// Makes the whole mount read-only (root ignores permission bits, not a read-only mount).
    public func remountReadOnly() throws {
        let r = try Fixtures.run("mount", ["-o", "remount,ro", path])
        if r.status != 0 { throw FixtureError(message: "mount -o remount,ro \(path): \(r.stderr)") }
    }

    public func unmount() {
        _ = try? Fixtures.run("umount", [path])
        rmdir(path)
    }
}

/// A folder the tests cannot write into: a read-only tmpfs as root, mode 0555 otherwise. The
/// closure gets the folder.
public func withUnwritableFolder(test: String, _ body: (String) throws -> Void) throws {
    if getuid() == 0 {
        guard let m = ScratchMount.tmpfs(size: "1m", test: test) else { return }
        defer { m.unmount() }
        try FileManager.default.createDirectory(atPath: m.path + "/out", withIntermediateDirectories: false)
        try m.remountReadOnly()
        try body(m.path + "/out")
    } else {
        let dir = Fixtures.tempDir("ro")
        chmod(dir, 0o555)
        defer { chmod(dir, 0o755) }
        try body(dir)
    }
}

public enum ChildProcess {
    /// The paths a running process has open (from /proc/PID/fd), with each one's read position.
    public static func openFiles(_ pid: Int32) -> [(path: String, position: Int64)] {
        let fdDir = "/proc/\(pid)/fd"
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? []
        return fds.compactMap { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd) else { return nil }
            let info = String(decoding: Fixtures.read("/proc/\(pid)/fdinfo/\(fd)"), as: UTF8.self)
            let pos = info.split(separator: "\n").first { $0.hasPrefix("pos:") }
                .flatMap { Int64($0.dropFirst(4).trimmingCharacters(in: .whitespaces)) } ?? 0
            return (target, pos)
        }
    }

    /// Polls (every millisecond, up to `timeout` seconds) until `condition` holds for the
    /// process's open files; false when the process ended or the time ran out first.
    public static func wait(for pid: Int32, timeout: Double = 60,
                            until condition: ([(path: String, position: Int64)]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if kill(pid, 0) != 0 { return false }
            if condition(openFiles(pid)) { return true }
            usleep(1000)
        }
        return false
    }

    public struct Measured {
        public var status: Int32
        public var stderr: String
        public var stdout: String
        /// Peak resident memory of the child, in bytes, as GNU time (`/usr/bin/time`, from
        /// scripts/deps.sh) reports it.
        public var maxRSS: Int
        public var seconds: Double
    }

    /// Runs a program to its end through GNU time and returns its peak memory and wall time.
    /// Not wait4 on a child spawned here: Linux counts the memory a posix_spawn child shares with
    /// the (large) test process before exec in its ru_maxrss; GNU time forks from a small process.
    public static func measure(_ program: String, _ args: [String]) throws -> Measured {
        let dir = Fixtures.tempDir("measure")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        let r = try Fixtures.run("/usr/bin/time", ["-f", "%M", "-o", dir + "/rss", program] + args)
        let seconds = Date().timeIntervalSince(start)
        let text = String(decoding: Fixtures.read(dir + "/rss"), as: UTF8.self)
        // The last line is the KiB figure; a line before it says when the child was signalled.
        guard let kib = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw FixtureError(message: "/usr/bin/time gave no peak memory: \(text) \(r.stderr)")
        }
        return Measured(status: r.status, stderr: r.stderr, stdout: r.stdout, maxRSS: kib * 1024, seconds: seconds)
    }
}
