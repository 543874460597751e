import CNN

/// The slope of `lossSum` (whose value at the current parameters is `centre`) along each
/// parameter of `network` at `coordinates`, by finite differences of `step`. A step can cross a ReLU or max-pool kink, where the slope jumps by up to
/// 10%; it is rarely crossed on both sides, so of the two one-sided quotients the one nearer the
/// `analytic` gradient (the smooth side's) is the one that measures the derivative at this point.
func finiteDifferenceSlopes(
    of lossSum: () -> Double, at centre: Double, network: some TrainableNetwork, coordinates: [Int], analytic: [Float], step: Float
) -> [Float] {
    coordinates.map { coordinate in
        func setParameter(_ value: Float) { network.withUnsafeMutableParameters { $0[coordinate] = value } }
        let original = network.parameterValues[coordinate]
        setParameter(original + step)
        let forward = (lossSum() - centre) / Double(step)
        setParameter(original - step)
        let backward = (centre - lossSum()) / Double(step)
        setParameter(original)
        let analyticValue = Double(analytic[coordinate])
        return Float(abs(forward - analyticValue) < abs(backward - analyticValue) ? forward : backward)
    }
}
