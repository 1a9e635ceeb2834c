import CPrctl
#if canImport(Glibc)
import Glibc
#endif

// `prep run` starts each stage (a `prep` or `tune` command) as a child process. A signal sent
// to `prep run` alone is passed on to the stage, but SIGKILL (the OOM killer, `kill -9`) can be
// neither caught nor passed on: the stage would run on as an orphan, writing into the output
// folder that a rerun writes into too. Linux can send a process a signal when its parent dies
// (prctl's PR_SET_PDEATHSIG), but only the child can ask for it, and posix_spawn runs no code in
// the child. So `prep run` puts its pid in the stage's environment and the stage asks, first
// thing in `main`. The variable is a contract between `prep run` and the commands it starts,
// which is why it lives here, with the other contracts between the two tools.

public enum ParentDeath {
    /// The variable that `prep run` sets, to its own pid, in the environment of each `prep` and
    /// `tune` command it starts. Nothing else sets it.
    public static let variable = "KILN_PREP_RUN_PID"

    /// When `prep run` started this process (`variable` is set), has it stopped by SIGTERM when
    /// `prep run` dies, as a SIGTERM passed on by `prep run` stops it: a `prep` stage dies and its
    /// rerun removes the temporary files it leaves; `tune run` saves a checkpoint and exits 75.
    /// If `prep run` has already died (this process has another parent), it stops now, the same
    /// way. The variable is removed, so that what this process starts does not act on it (ranks
    /// under `mpirun` have another parent). Does nothing on systems other than Linux.
    ///
    /// Linux sends the signal when the thread that started this process ends, not the whole
    /// process: `prep run` starts a stage from the thread that then waits for it.
    public static func followPrepRun() {
        guard let value = getenv(variable) else { return }
        let parent = pid_t(String(cString: value))
        unsetenv(variable)
        guard let parent, parent > 0 else { return }
        #if os(Linux)
        // A SIGTERM this process ignores (inherited from a `prep run` that ignores it) would not
        // stop it: then SIGKILL. A blocked one would wait: `prep run` starts its stages with no
        // signal blocked, but a process started otherwise may have it blocked (one started by a
        // Foundation `Process` does), so it is unblocked here, as `tune run`'s trap does.
        var current = sigaction()
        sigaction(SIGTERM, nil, &current)
        let ignored = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
        let signal = ignored ? SIGKILL : SIGTERM
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        guard kiln_set_parent_death_signal(signal) == 0 else { return }
        // `prep run` died between starting this process and the call above: no signal will come.
        if getppid() != parent {
            raise(signal)
            _exit(128 + signal)  // not reached: the signal's default action ends the process
        }
        #endif
    }
}
