import CNN
import Testing

@Suite struct AdamTests {
    let gradientSteps: [[Float]] = (0..<3).map { step in
        (0..<37).map { index in Float((index * 7 + step * 3) % 11) / 10 - 0.5 }
    }

    func run(_ adam: inout Adam, _ parameters: inout [Float], steps: Range<Int>) {
        for step in steps {
            parameters.withUnsafeMutableBufferPointer { parameters in
                gradientSteps[step].withUnsafeBufferPointer { adam.update(parameters: parameters, gradients: $0) }
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
        var adam = Adam(parameterCount: 37, learningRate: 0.01)
        var parameters = [Float](repeating: 1, count: 37)
        run(&adam, &parameters, steps: 0..<1)
        for (parameter, gradient) in zip(parameters, gradientSteps[0]) {
            let expected: Float = gradient == 0 ? 1 : 1 - 0.01 * (gradient > 0 ? 1 : -1)
            #expect(abs(parameter - expected) <= 1e-6)
        }
    }
}
