import Foundation
import Testing
import TestSupport
import Training

/// Bad image folders and class lists, as a run meets them.
extension TrainingFailureTests {
    @Test("a corrupt PNG in a rank's shard stops every rank with one line naming it")
    func corruptPNGInShard() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let folder = job.path("folder")
        try ImageFolderFixture.writeMNIST(from: TrainerJob.dataDirectory, to: folder, train: 200, test: 100)
        // The last file of each class: the last samples of the split, in the last rank's shard.
        for digit in 0 ... 9 {
            let classFolder = "\(folder)/train/\(digit)"
            let last = try FileManager.default.contentsOfDirectory(atPath: classFolder).sorted().last!
            try Data("not a png".utf8).write(to: URL(fileURLWithPath: "\(classFolder)/\(last)"))
        }
        let result = try job.train(ranks: 2, ["--data-dir", folder], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["\(folder)/train/", ".png: not a PNG file"])
    }

    @Test("an unknown --classes item stops the run before any MPI work, as a usage error naming it")
    func unknownClass() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, ["--classes", "0-4,ten"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: ["--classes ten: mnist has no such class"])
    }
}
