import SeededRandom

/// `count` images and uniform labels, the same for the same seed. Like MNIST, 70% of the pixels
/// are 0 (so many ReLU inputs sit exactly at a bias, away from the kink); the rest are uniform in
/// [0.7, 1).
struct RandomBatch {
    let count: Int
    let images: [Float]
    let labels: [Int32]

    init(count: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        self.count = count
        images = (0..<count * 784).map { _ in
            let draw = generator.nextUnitFloat()
            return draw < 0.7 ? 0 : draw
        }
        labels = (0..<count).map { _ in Int32(generator.nextIndex(below: 10)) }
    }
}
