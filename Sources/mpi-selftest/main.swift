// Run under mpirun by DistributedTests: each rank checks what the collectives and the
// data-parallel gradient identity give it, prints one line, and exits non-zero on any mismatch.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Distributed

let usage = "usage: mpi-selftest collectives | gradient-identity <data-dir>"
let arguments = Array(CommandLine.arguments.dropFirst())

do {
    let communicator = try MPICommunicator.start()
    var failures: [String] = []
    switch arguments.first {
    case "collectives":
        failures = checkCollectives(communicator)
    case "gradient-identity" where arguments.count == 2:
        failures = try checkGradientIdentity(communicator, dataDirectory: arguments[1])
    default:
        print(usage)
        communicator.finalize()
        exit(2)
    }
    let agreed = communicator.allAgree(failures.isEmpty)
    if failures.isEmpty {
        print("rank \(communicator.rank)/\(communicator.size): \(arguments[0]) ok")
    } else {
        for failure in failures {
            print("rank \(communicator.rank)/\(communicator.size) on \(hostName()): FAIL \(failure)")
        }
    }
    communicator.finalize()
    // MPI_Init after MPI_Finalize would abort the process: starting again must be refused.
    if (try? MPICommunicator.start()) != nil {
        print("rank \(communicator.rank)/\(communicator.size) on \(hostName()): FAIL MPI could be started again after finalize")
        exit(1)
    }
    exit(agreed ? 0 : 1)
} catch {
    print("mpi-selftest: \(error)")
    exit(1)
}
