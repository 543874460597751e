import Testing
import Training

/// Every option has an upper bound within which no count derived from it can overflow.
extension TrainingConfigurationTests {
    @Test("options beyond their bounds are refused with the option and the bound named")
    func boundsRefused() {
        #expect(refusal { $0.epochs = TrainingLimits.maximumEpochs + 1 }?.contains("--epochs must be at most 1,000,000") == true)
        #expect(refusal { $0.maxSteps = .max }?.contains("--max-steps must be at most") == true)
        #expect(refusal { $0.keep = .max }?.contains("--keep") == true)
        #expect(refusal { $0.logEvery = .max }?.contains("--log-every") == true)
        #expect(refusal { $0.evalEvery = .max }?.contains("--eval-every") == true)
        #expect(refusal { $0.checkpointEvery = .max }?.contains("--checkpoint-every") == true)
        #expect(refusal { $0.consistencyCheckEvery = .max }?.contains("--check-consistency") == true)
        #expect(refusal { $0.warmupSteps = .max }?.contains("--warmup-steps") == true)
        #expect(refusal { $0.learningRateStepEvery = .max }?.contains("--lr-step-every") == true)
        #expect(refusal { $0.maxSteps = TrainingLimits.maximumSteps } == nil)
    }

    @Test("the largest run the bounds allow cannot overflow its step count")
    func boundsKeepArithmeticInRange() {
        let (steps, overflow) = TrainingLimits.maximumEpochs.multipliedReportingOverflow(by: TrainingLimits.maximumTrainingSamples)
        #expect(!overflow && steps == TrainingLimits.maximumSteps)
        // A position mapped between two plans multiplies two step counts of an epoch.
        #expect(!TrainingLimits.maximumTrainingSamples.multipliedReportingOverflow(by: TrainingLimits.maximumTrainingSamples).overflow)
    }

    @Test("a batch larger than the samples a rank holds is refused", arguments: [
        (BatchSize.perRank(30_001), 2, "--batch-size 30001 is more than the 30,000"),
        (.perRank(.max), 2, "--batch-size 9223372036854775807"),
        (.global(60_001), 2, "--global-batch-size 60001 is more than the 60,000"),
    ])
    func batchBeyondTheShard(batch: BatchSize, worldSize: Int, message: String) {
        var configuration = TrainingConfiguration()
        configuration.batchSize = batch
        #expect {
            try configuration.validate(worldSize: worldSize, trainingSamples: 60_000)
        } throws: { error in
            (error as? TrainingError)?.description.contains(message) == true
        }
        configuration.batchSize = .perRank(30_000)
        #expect(throws: Never.self) { try configuration.validate(worldSize: worldSize, trainingSamples: 60_000) }
    }
}
