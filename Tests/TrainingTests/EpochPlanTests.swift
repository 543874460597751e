import Testing
import Training

@Suite("Epoch plan")
struct EpochPlanTests {
    @Test("every sample is taken exactly once per epoch, however the shards and batches fall",
          arguments: [(60_000, 1, 60), (60_000, 2, 60), (60_000, 7, 60), (60_000, 3, 1000), (10, 3, 4), (8_581 + 8_580, 2, 60)])
    func coversEverySampleOnce(samples: Int, ranks: Int, batch: Int) {
        let plan = EpochPlan(sampleCount: samples, worldSize: ranks, batchSize: .perRank(batch))
        var taken = [Int](repeating: 0, count: samples)
        for step in 0..<plan.stepsPerEpoch {
            for rank in 0..<ranks {
                for position in plan.positions(step: step, rank: rank) {
                    taken[plan.shards[rank].lowerBound + position] += 1
                }
            }
        }
        #expect(taken.allSatisfy { $0 == 1 })
    }

    @Test("all ranks take as many steps as the largest shard needs, smaller shards ending on empty batches")
    func unevenShardsShareOneStepCount() {
        // 17,161 samples over 2 ranks: shards of 8,581 and 8,580, i.e. 144 and 143 batches of 60.
        let plan = EpochPlan(sampleCount: 17_161, worldSize: 2, batchSize: .perRank(60))
        #expect(plan.stepsPerEpoch == 144)
        #expect(plan.positions(step: 143, rank: 0).count == 1)
        #expect(plan.positions(step: 143, rank: 1).isEmpty)
        #expect(plan.globalSampleCount(step: 143) == 1)
        #expect(plan.globalSampleCount(step: 0) == 120)
    }

    @Test("a global batch is split over the ranks, the first ones taking the remainder")
    func globalBatchSplits() {
        let plan = EpochPlan(sampleCount: 60_000, worldSize: 7, batchSize: .global(240))
        #expect(plan.batchSizes == [35, 35, 34, 34, 34, 34, 34])
        #expect(plan.globalSampleCount(step: 0) == 240)
    }

    @Test("each rank's samples follow those of the ranks before it in the step's global batch, an empty batch included")
    func globalIndexOfFirstSample() {
        // Shards of 8,581 and 8,580 and 8,580 in 144 steps of 60: at the last step only rank 0 takes one.
        let plan = EpochPlan(sampleCount: 25_741, worldSize: 3, batchSize: .perRank(60))
        #expect((0 ..< 3).map { plan.globalIndexOfFirstSample(step: 0, rank: $0) } == [0, 60, 120])
        #expect((0 ..< 3).map { plan.globalIndexOfFirstSample(step: 143, rank: $0) } == [0, 1, 1])
    }

    @Test("a position maps to the same fraction of the epoch under another world size")
    func positionMapsAcrossWorldSizes() {
        let two = EpochPlan(sampleCount: 60_000, worldSize: 2, batchSize: .perRank(60))
        let three = EpochPlan(sampleCount: 60_000, worldSize: 3, batchSize: .perRank(60))
        // Half of the 500 steps of an epoch at 2 ranks is 167 of the 334 at 3 (rounding down).
        let halfway = TrainingPosition(step: 1_250, epoch: 2, stepInEpoch: 250)
        #expect(halfway.mapped(from: two, to: three) == TrainingPosition(step: 1_250, epoch: 2, stepInEpoch: 167))
        #expect(halfway.mapped(from: two, to: two) == halfway)
    }
}

@Suite("Training options")
struct TrainingConfigurationTests {
    func refusal(_ change: (inout TrainingConfiguration) -> Void, worldSize: Int = 1) -> String? {
        var configuration = TrainingConfiguration()
        change(&configuration)
        do {
            try configuration.validate(worldSize: worldSize)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the defaults are the seed configuration and valid")
    func defaultsAreValid() {
        let configuration = TrainingConfiguration()
        #expect(configuration.epochs == 10 && configuration.batchSize == .perRank(60) && configuration.learningRate == 1e-3)
        #expect(refusal { _ in } == nil)
    }

    @Test("invalid options are refused with the option named")
    func invalidOptionsRefused() {
        #expect(refusal { $0.batchSize = .perRank(0) }?.contains("--batch-size") == true)
        #expect(refusal { $0.learningRate = -1 }?.contains("--lr") == true)
        #expect(refusal { $0.learningRate = .nan }?.contains("--lr") == true)
        #expect(refusal { $0.learningRate = .infinity }?.contains("--lr") == true)
        #expect(refusal({ $0.batchSize = .global(3) }, worldSize: 4)?.contains("--global-batch-size 3") == true)
        #expect(refusal { $0.epochs = 0 }?.contains("--epochs") == true)
        #expect(refusal { $0.keep = 0 }?.contains("--keep") == true)
        #expect(refusal { $0.maxSteps = 0 }?.contains("--max-steps") == true)
        #expect(refusal { $0.resume = "a"; $0.initFrom = "b" }?.contains("--init-from") == true)
    }
}

@Suite("Classification report")
struct ClassificationReportTests {
    @Test("precision, recall and F1 follow from the confusion matrix")
    func perClassFigures() {
        var report = ClassificationReport(classCount: 2, setName: "test")
        // Truth 0: 3 right, 1 taken for 1. Truth 1: 2 right, 2 taken for 0.
        for (truth, predicted, times) in [(0, 0, 3), (0, 1, 1), (1, 1, 2), (1, 0, 2)] {
            for _ in 0..<times { report.record(truth: truth, predicted: predicted) }
        }
        #expect(report.accuracy == 5.0 / 8.0)
        #expect(report.precision(0) == 3.0 / 5.0)
        #expect(report.recall(0) == 3.0 / 4.0)
        #expect(abs(report.f1(0) - 2 * 0.6 * 0.75 / 1.35) < 1e-12)
        #expect(report.precision(1) == 2.0 / 3.0 && report.recall(1) == 0.5)
    }
}
