import Testing
import SeededRandom

@Suite("SeededGenerator")
struct SeededGeneratorTests {
    @Test("draws the published xoshiro256** sequence for a SplitMix64-expanded seed")
    func knownAnswer() {
        // Values from an independent Python transcription of the reference C code.
        var generator = SeededGenerator(seed: 0)
        #expect(generator.next() == 0x99EC_5F36_CB75_F2B4)
        #expect(generator.next() == 0xBF6E_1F78_4956_452A)
        #expect(generator.next() == 0x1A5F_849D_4933_E6E0)
        var split = SeededGenerator(seed: 42, stream: [3, 1])
        #expect(split.next() == 0x3D74_BEEE_B221_76C8)
        #expect(split.next() == 0x0297_D959_FB23_17C1)
    }

    @Test("streams of one seed are independent of each other")
    func streamsDiffer() {
        var epochZero = SeededGenerator(seed: 7, stream: [0, 0])
        var epochOne = SeededGenerator(seed: 7, stream: [1, 0])
        var rankOne = SeededGenerator(seed: 7, stream: [0, 1])
        let a = (0..<4).map { _ in epochZero.next() }
        let b = (0..<4).map { _ in epochOne.next() }
        let c = (0..<4).map { _ in rankOne.next() }
        #expect(a != b && a != c && b != c)
    }

    @Test("unit floats lie in [0, 1) and symmetric floats in [-bound, bound)")
    func floatRanges() {
        var generator = SeededGenerator(seed: 1)
        var low: Float = 1, high: Float = 0
        for _ in 0..<100_000 {
            let unit = generator.nextUnitFloat()
            #expect(unit >= 0 && unit < 1)
            low = min(low, unit)
            high = max(high, unit)
            let symmetric = generator.nextFloat(symmetricBound: 1.0 / 3.0)
            #expect(symmetric >= -1.0 / 3.0 && symmetric < 1.0 / 3.0)
        }
        #expect(low < 0.001 && high > 0.999, "draws cover the interval")
    }

    @Test("bounded indices are uniform over 0..<n")
    func indicesUniform() {
        var generator = SeededGenerator(seed: 3)
        var histogram = [Int](repeating: 0, count: 7)
        let draws = 70_000
        for _ in 0..<draws { histogram[generator.nextIndex(below: 7)] += 1 }
        for count in histogram {
            #expect(abs(count - draws / 7) < 500, "bucket \(count) far from \(draws / 7)")
        }
    }

    @Test("shuffle is a deterministic permutation")
    func shufflePermutes() {
        var first = Array(0..<1000)
        var second = Array(0..<1000)
        var generatorA = SeededGenerator(seed: 11)
        var generatorB = SeededGenerator(seed: 11)
        generatorA.shuffle(&first)
        generatorB.shuffle(&second)
        #expect(first == second)
        #expect(first != Array(0..<1000))
        #expect(first.sorted() == Array(0..<1000))
    }
}
