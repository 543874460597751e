import Testing
import TestSupport

@Suite("MPI collectives under mpirun", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct MPICollectivesTests {
    @Test("broadcast and all-reduce give the right numbers on every rank", arguments: [2, 3])
    func collectivesAgree(ranks: Int) throws {
        let result = try ProcessRunner.mpirun(
            ranks: ranks, try ProcessRunner.product("mpi-selftest"), ["collectives"], timeout: 60)
        #expect(!result.timedOut, "mpirun hung:\n\(result.output)")
        #expect(result.status == 0, "\(result.output)")
        for rank in 0..<ranks {
            #expect(result.standardOutput.contains("rank \(rank)/\(ranks): collectives ok"), "\(result.output)")
        }
    }
}

@Suite("Data-parallel gradient identity under mpirun", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct GradientIdentityTests {
    @Test("ranks' all-reduced shares of a batch equal the single-process gradient of the whole batch", arguments: [2, 3])
    func shardedGradientEqualsWhole(ranks: Int) throws {
        let result = try ProcessRunner.mpirun(
            ranks: ranks, try ProcessRunner.product("mpi-selftest"), ["gradient-identity", ProcessRunner.shippedMNIST],
            timeout: 120)
        #expect(!result.timedOut, "mpirun hung:\n\(result.output)")
        #expect(result.status == 0, "\(result.output)")
        for rank in 0..<ranks {
            #expect(result.standardOutput.contains("rank \(rank)/\(ranks): gradient-identity ok"), "\(result.output)")
        }
    }
}
