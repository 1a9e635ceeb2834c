import ArgumentParser
import DataPrep
import Foundation

/// Options every batch stage shares: how the work is split and how it reports.
struct RunOptions: ParsableArguments {
    @Option(help: "Worker threads (default: the cores this process may use). The output does not depend on it.")
    var threads: Int?

    @Option(help: "This task's index, 0-based (default: $SLURM_ARRAY_TASK_ID, else 0).")
    var taskIndex: Int?

    @Option(help: "Number of tasks the inputs are split between (default: $SLURM_ARRAY_TASK_COUNT, else 1).")
    var taskCount: Int?

    @Flag(help: "Print nothing but errors.")
    var quiet = false

    @Flag(help: "Print the final summary as JSON on standard output.")
    var json = false

    func validate() throws {
        let l = layout()
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if l.taskCount < 1 { throw ValidationError("--task-count must be at least 1") }
        if l.taskIndex < 0 || l.taskIndex >= l.taskCount {
            throw ValidationError("--task-index must be in 0..<\(l.taskCount) (got \(l.taskIndex))")
        }
    }

    func layout() -> RunLayout {
        let slurm = RunLayout.fromSlurm(ProcessInfo.processInfo.environment)
        return RunLayout(taskIndex: taskIndex ?? slurm?.0 ?? 0,
                         taskCount: taskCount ?? slurm?.1 ?? 1,
                         threads: threads ?? RunLayout.defaultThreads)
    }
}
