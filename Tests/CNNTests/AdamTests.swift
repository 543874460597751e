import CNN
import KernelPaths
import Testing

@Suite struct AdamTests {
    let gradientSteps: [[Float]] = (0..<3).map { step in
        (0..<37).map { index in Float((index * 7 + step * 3) % 11) / 10 - 0.5 }
    }

    func run(_ adam: inout Adam, _ parameters: inout [Float], steps: Range<Int>, learningRate: Float = 1e-3) {
        for step in steps {
            parameters.withUnsafeMutableBufferPointer { parameters in
                gradientSteps[step].withUnsafeBufferPointer {
                    adam.update(parameters: parameters, gradients: $0, learningRate: learningRate)
                }
            }
        }
    }

    @Test func restoredStateContinuesExactlyAsAnUninterruptedRun() {
        var uninterrupted = Adam(parameterCount: 37)
        var expected = [Float](repeating: 0.25, count: 37)
        run(&uninterrupted, &expected, steps: 0..<3)

        var first = Adam(parameterCount: 37)
        var parameters = [Float](repeating: 0.25, count: 37)
        run(&first, &parameters, steps: 0..<1)
        var resumed = Adam(parameterCount: 37)
        resumed.step = first.step
        resumed.firstMoment = first.firstMoment
        resumed.secondMoment = first.secondMoment
        run(&resumed, &parameters, steps: 1..<3)

        #expect(parameters == expected)
        #expect(resumed.step == 3)
    }

    @Test func firstStepMovesEachParameterByTheLearningRateAgainstItsGradientSign() {
        // At t = 1 the bias-corrected update is lr · g / (|g| + ε).
        var adam = Adam(parameterCount: 37)
        var parameters = [Float](repeating: 1, count: 37)
        run(&adam, &parameters, steps: 0..<1, learningRate: 0.01)
        for (parameter, gradient) in zip(parameters, gradientSteps[0]) {
            let expected: Float = gradient == 0 ? 1 : 1 - 0.01 * (gradient > 0 ? 1 : -1)
            #expect(abs(parameter - expected) <= 1e-6)
        }
    }

    @Test func eachUpdateUsesTheLearningRateItIsGiven() {
        // At t = 2 the step is lr₂ · m̂ / (√v̂ + ε): halving lr₂ halves the second move exactly.
        var full = Adam(parameterCount: 37)
        var fullParameters = [Float](repeating: 1, count: 37)
        run(&full, &fullParameters, steps: 0..<1, learningRate: 0.01)
        var halved = full
        var halvedParameters = fullParameters
        let before = fullParameters
        run(&full, &fullParameters, steps: 1..<2, learningRate: 0.01)
        run(&halved, &halvedParameters, steps: 1..<2, learningRate: 0.005)
        for index in 0..<37 where fullParameters[index] != before[index] {
            let fullMove = Double(fullParameters[index] - before[index])
            let halvedMove = Double(halvedParameters[index] - before[index])
            #expect(abs(halvedMove / fullMove - 0.5) < 1e-3, "parameter \(index)")
        }
        #expect(halvedParameters != fullParameters)
    }

    @Test func frozenParametersAndTheirMomentsNeverChange() {
        var adam = Adam(parameterCount: 37)
        var parameters = [Float](repeating: 0.25, count: 37)
        for step in 0..<3 {
            parameters.withUnsafeMutableBufferPointer { parameters in
                gradientSteps[step].withUnsafeBufferPointer {
                    adam.update(parameters: parameters, gradients: $0, learningRate: 0.01, frozen: [3..<9, 20..<37])
                }
            }
        }
        let frozen = Array(3..<9) + Array(20..<37)
        for index in frozen {
            #expect(parameters[index] == 0.25 && adam.firstMoment[index] == 0 && adam.secondMoment[index] == 0)
        }
        let trained = (0..<37).filter { index in !frozen.contains(index) && gradientSteps.contains { $0[index] != 0 } }
        #expect(trained.allSatisfy { parameters[$0] != 0.25 })
    }

    @Test func everyKernelPathTakesTheSameStepsToTheBit() {
        func trained(on kernelPath: KernelPath) -> (parameters: [UInt32], moments: [UInt32]) {
            var adam = Adam(parameterCount: 37, kernelPath: kernelPath)
            var parameters = [Float](repeating: 0.25, count: 37)
            for step in 0..<3 {
                parameters.withUnsafeMutableBufferPointer { parameters in
                    gradientSteps[step].withUnsafeBufferPointer {
                        adam.update(parameters: parameters, gradients: $0, learningRate: 0.01, frozen: [3..<9, 20..<22])
                    }
                }
            }
            return (parameters.map(\.bitPattern), (adam.firstMoment + adam.secondMoment).map(\.bitPattern))
        }
        let baseline = trained(on: .baseline)
        for kernelPath in KernelPath.supported {
            let result = trained(on: kernelPath)
            #expect(result.parameters == baseline.parameters && result.moments == baseline.moments, "\(kernelPath)")
        }
    }
}
