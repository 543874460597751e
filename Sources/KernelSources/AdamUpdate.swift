import CNNKernelInterface

// Adam's update (`Adam` in CNN says whose semantics), a vector of parameters at a time on this
// path's registers. Every operation is IEEE-exact lanewise (sqrt and division included) and none
// is fused, so the result is the same to the bit on every path and at every vector width.

extension BatchLayerKernels {
    /// m ← m + (1−β₁)(g − m);  v ← β₂v + (1−β₂)g²;  p ← p − stepSize · m / (√v / correctionRoot + ε)
    /// parameters, gradients, firstMoment, secondMoment: [count]
    public static func adamUpdate(
        _ coefficients: AdamCoefficients, parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>, count: Int
    ) {
        let stepSize = Lanes(repeating: coefficients.stepSize)
        let correctionRoot = Lanes(repeating: coefficients.secondCorrectionRoot)
        let firstWeight = Lanes(repeating: 1 - coefficients.beta1)
        let secondDecay = Lanes(repeating: coefficients.beta2)
        let secondWeight = Lanes(repeating: 1 - coefficients.beta2)
        let epsilon = Lanes(repeating: coefficients.epsilon)
        /// The update of one vector of parameters, in PyTorch's order of operations.
        @inline(__always)
        func update(_ parameter: inout Lanes, _ gradient: Lanes, _ first: inout Lanes, _ second: inout Lanes) {
            first += firstWeight * (gradient - first)
            second = second * secondDecay + secondWeight * gradient * gradient
            let denominator = second.squareRoot() / correctionRoot + epsilon
            parameter = parameter - stepSize * first / denominator
        }
        var start = 0
        while start + laneCount <= count {
            var (parameter, first, second) = (
                loadLanes(parameters + start), loadLanes(firstMoment + start), loadLanes(secondMoment + start))
            update(&parameter, loadLanes(gradients + start), &first, &second)
            storeLanes(parameter, parameters + start)
            storeLanes(first, firstMoment + start)
            storeLanes(second, secondMoment + start)
            start += laneCount
        }
        guard start < count else { return }
        // The last parameters, fewer than a vector, in a vector padded with zeros.
        var (parameter, gradient, first, second) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for lane in 0..<count - start {
            (parameter[lane], gradient[lane]) = (parameters[start + lane], gradients[start + lane])
            (first[lane], second[lane]) = (firstMoment[start + lane], secondMoment[start + lane])
        }
        update(&parameter, gradient, &first, &second)
        for lane in 0..<count - start {
            (parameters[start + lane], firstMoment[start + lane], secondMoment[start + lane]) = (parameter[lane], first[lane], second[lane])
        }
    }
}
