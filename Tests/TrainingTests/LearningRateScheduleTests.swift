import Foundation
import Testing
import Training

@Suite("Learning-rate schedule")
struct LearningRateScheduleTests {
    @Test func warmUpRisesLinearlyFromZeroToTheRate() {
        let schedule = LearningRateSchedule(base: 0.002, warmupSteps: 4, totalSteps: 100)
        #expect([1, 2, 3, 4, 5, 100].map(schedule.rate(ofUpdate:)) == [0.0005, 0.001, 0.0015, 0.002, 0.002, 0.002])
    }

    @Test("a cosine run resumed at another world size goes on falling from where it stood, to 0 at its last update")
    func cosineResumedAtAnotherWorldSize() {
        // 4 epochs of 60 samples, 6 per rank per step: 10 steps an epoch alone, 5 on 2 ranks.
        let (alone, pair) = (
            EpochPlan(sampleCount: 60, worldSize: 1, batchSize: .perRank(6)),
            EpochPlan(sampleCount: 60, worldSize: 2, batchSize: .perRank(6)))
        func schedule(_ plan: EpochPlan) -> LearningRateSchedule {
            LearningRateSchedule(base: 0.001, decay: .cosine, warmupSteps: 2, totalSteps: 4 * plan.stepsPerEpoch)
        }
        // The training loop's steps: the rate of each update, then on to the next position.
        func rates(from start: TrainingPosition, _ plan: EpochPlan, steps: Int? = nil) -> ([Float], TrainingPosition) {
            var (position, rates) = (start, [Float]())
            while position.epoch < 4 && rates.count < (steps ?? .max) {
                #expect(plan != alone || position.update(in: plan) == position.step + 1, "alone from the start: update = step + 1")
                rates.append(schedule(plan).rate(ofUpdate: position.update(in: plan)))
                position.step += 1
                position.stepInEpoch += 1
                if position.stepInEpoch == plan.stepsPerEpoch { (position.epoch, position.stepInEpoch) = (position.epoch + 1, 0) }
            }
            return (rates, position)
        }
        let (before, stop) = rates(from: .start, alone, steps: 25)
        let (after, end) = rates(from: stop.mapped(from: alone, to: pair), pair)
        #expect(end == TrainingPosition(step: 33, epoch: 4, stepInEpoch: 0))
        let decay = Array((before + after).dropFirst(2))
        #expect(zip(decay, decay.dropFirst()).allSatisfy { $0 > $1 }, "\(decay)")
        #expect(after.last == 0)
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
