import CNN
import Testing

/// `KernelBenchmark` times the network training would use, with the FLOPs its plan counts.
@Suite struct KernelBenchmarkTests {
    @Test func theSeedNetworksStagesCountThePlansFLOPs() {
        let report = KernelBenchmark.run(batchSize: 2, iterations: 1, repeats: 1)
        #expect(report.trainingFlopsPerSample == ParameterLayout.seedPlan.trainingFLOPs)
        #expect(report.trainingFlopsPerSample == 1_627_584)
        #expect(report.kernels.reduce(0) { $0 + $1.flopsPerBatch } == Double(2 * report.trainingFlopsPerSample))
        #expect(report.kernels.map(\.name).contains("conv2 weight backward"))
    }

    @Test func everyLayerOfAPlanIsTimedForwardAndBackward() throws {
        let plan = try ModelPlan(.lenet5, inputShape: [1, 28, 28], classCount: 10)
        let report = KernelBenchmark.run(plan: plan, batchSize: 3, iterations: 1, repeats: 1)
        let names = plan.layers.map(\.name)
        // The first layer's backward pass is timed: it has parameters.
        #expect(report.kernels.map(\.name)
            == names.map { "\($0) forward" } + ["softmax cross-entropy"] + names.reversed().map { "\($0) backward" } + ["adam"])
        #expect(report.kernels.reduce(0) { $0 + $1.flopsPerBatch } == Double(3 * plan.trainingFLOPs))
        #expect(report.kernels.allSatisfy { $0.secondsPerBatch.isFinite && $0.secondsPerBatch >= 0 })
        #expect(report.trainStepSecondsPerBatch > 0 && report.fractionOfPeak > 0)
    }

    @Test func aFirstLayerWithoutParametersHasNoBackwardPass() throws {
        let plan = try ModelPlan(try ModelSpec(parsing: "maxpool flatten linear"), inputShape: [1, 6, 6], classCount: 2)
        let report = KernelBenchmark.run(plan: plan, batchSize: 2, iterations: 1, repeats: 1)
        #expect(report.kernels.map(\.name) == [
            "pool1 forward", "flatten1 forward", "fc1 forward", "softmax cross-entropy", "fc1 backward",
            "flatten1 backward", "adam",
        ])
    }
}
