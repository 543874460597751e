import Testing
import Distributed

@Suite("Launch mode detection")
struct LaunchModeTests {
    @Test("a plain process runs locally")
    func plainProcessIsLocal() {
        #expect(LaunchMode.detect(environment: ["PATH": "/usr/bin", "HOME": "/root"]) == .local)
    }

    @Test("OpenMPI's mpirun is recognised by OMPI_COMM_WORLD_SIZE")
    func openMPIIsMPI() {
        #expect(LaunchMode.detect(environment: ["OMPI_COMM_WORLD_SIZE": "2"]) == .mpi)
    }

    @Test("PMI and PMIx launchers (srun, Hydra) are recognised", arguments: ["PMI_RANK", "PMI_SIZE", "PMIX_RANK"])
    func pmiIsMPI(variable: String) {
        #expect(LaunchMode.detect(environment: [variable: "0"]) == .mpi)
    }

    @Test("forcing local mode wins over launcher variables")
    func forcedLocal() {
        #expect(LaunchMode.detect(environment: ["OMPI_COMM_WORLD_SIZE": "4"], forced: .local) == .local)
    }

    @Test("the local communicator is a group of one whose collectives leave data unchanged")
    func localCollectivesAreIdentity() {
        let local = LocalCommunicator()
        #expect(local.rank == 0 && local.size == 1 && local.isRoot)
        var values: [Float] = [1, -2, 3.5]
        values.withUnsafeMutableBufferPointer { local.allReduceSum($0) }
        #expect(values == [1, -2, 3.5])
        var scalars = [2.0, 5.0]
        local.allReduceMax(&scalars)
        #expect(scalars == [2.0, 5.0])
        #expect(local.broadcast(bytes: [9, 8, 7], root: 0) == [9, 8, 7])
        #expect(local.allAgree(true) && !local.allAgree(false))
        #expect(local.firstRankFailing(true) == nil && local.firstRankFailing(false) == 0)
    }
}
