import Foundation
import Testing
import Training

@Suite("Learning-rate schedule")
struct LearningRateScheduleTests {
    @Test func warmUpRisesLinearlyFromZeroToTheRate() {
        let schedule = LearningRateSchedule(base: 0.002, warmupSteps: 4, totalSteps: 100)
        #expect([1, 2, 3, 4, 5, 100].map(schedule.rate(ofUpdate:)) == [0.0005, 0.001, 0.0015, 0.002, 0.002, 0.002])
    }

    @Test func cosineFallsFromTheRateAfterWarmUpToZeroAtTheLastUpdate() {
        let schedule = LearningRateSchedule(base: 0.001, decay: .cosine, warmupSteps: 10, totalSteps: 110)
        #expect(schedule.rate(ofUpdate: 10) == 0.001)
        #expect(abs(schedule.rate(ofUpdate: 11) - 0.001 * 0.5 * (1 + Float(cos(Double.pi / 100)))) < 1e-9)
        #expect(abs(schedule.rate(ofUpdate: 60) - 0.0005) < 1e-9)
        #expect(schedule.rate(ofUpdate: 110) == 0)
    }

    @Test func stepDecayMultipliesByGammaEveryStepEveryUpdates() {
        let schedule = LearningRateSchedule(base: 0.01, decay: .step, warmupSteps: 2, stepEvery: 3, gamma: 0.5, totalSteps: 50)
        #expect([3, 5, 6, 8, 9, 11].map(schedule.rate(ofUpdate:)) == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    }

    @Test func theScalingRuleMultipliesTheRateByTheRanks() {
        var configuration = TrainingConfiguration()
        configuration.learningRate = 0.001
        configuration.scaleLearningRate = true
        #expect(configuration.learningRateSchedule(stepsPerEpoch: 10, worldSize: 4).base == 0.004)
        configuration.scaleLearningRate = false
        #expect(configuration.learningRateSchedule(stepsPerEpoch: 10, worldSize: 4).base == 0.001)
    }
}
