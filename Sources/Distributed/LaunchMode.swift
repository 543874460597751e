/// How this process takes part in training: alone, or as one rank of an MPI job.
public enum LaunchMode: String, Sendable, CaseIterable {
    /// A single process with a `LocalCommunicator`; MPI is never initialised.
    case local
    /// One rank of a job started by `mpirun`, `srun` or another PMI launcher.
    case mpi

    /// Variables that MPI launchers set in every process they start: OpenMPI's own, then the
    /// PMI and PMIx ones that Slurm's `srun`, MPICH's Hydra and PRRTE set.
    public static let launcherVariables = [
        "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
        "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
    ]

    /// This process's rank as its launcher announced it, before MPI is started; nil when no
    /// launcher started it. Lets a job print a message once, from rank 0, without MPI.
    public static func launcherRank(environment: [String: String]) -> Int? {
        ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap { Int($0) } }.first
    }

    /// The mode for a process with `environment`: `forced` when given, otherwise MPI exactly when
    /// a launcher variable is present. A plain process is local, so it starts instantly.
    public static func detect(environment: [String: String], forced: LaunchMode? = nil) -> LaunchMode {
        if let forced { return forced }
        return launcherVariables.contains { environment[$0] != nil } ? .mpi : .local
    }
}

/// Starts the communicator for `mode`.
public func makeCommunicator(for mode: LaunchMode) throws(CommunicatorError) -> any Communicator {
    switch mode {
    case .local: LocalCommunicator()
    case .mpi: try MPICommunicator.start()
    }
}
