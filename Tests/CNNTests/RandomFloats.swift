import SeededRandom

/// `count` floats uniform in [−1, 1), the same for the same seed.
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in generator.nextFloat(symmetricBound: 1) }
}

/// `count` labels uniform in 0..<classes, the same for the same seed.
func randomLabels(_ count: Int, classes: Int, seed: UInt64) -> [Int32] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Int32(generator.nextIndex(below: classes)) }
}
