import CNNKernelInterface
import Data
import SeededRandom
import Training

/// The CPU cost of writing a training batch from its bytes, plainly and with `--augment` at its
/// default bounds, as the training loop does before each step; for `mnist-ddp bench`, timed as
/// the kernels are (thread CPU time, best of the repeats). The augmentation samples on
/// `KernelPath.active`, the kernels' path.
enum BatchFillingBenchmark {
    struct Report {
        let plainSecondsPerBatch: Double
        let augmentedSecondsPerBatch: Double
    }

    static func run(batchSize: Int, iterations: Int, repeats: Int) -> Report {
        let images = inkedImages(count: batchSize)
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * images.pixelsPerImage)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer {
            batch.deallocate()
            labels.deallocate()
        }
        let bounds = Augmentation()
        func best(of fill: (_ iteration: Int) -> Void) -> Double {
            (0 ..< repeats).map { _ in
                let start = threadCPUSeconds()
                for iteration in 0 ..< iterations { fill(iteration) }
                return (threadCPUSeconds() - start) / Double(iterations)
            }.min()!
        }
        let plain = best { _ in images.fillBatch(images: batch, labels: labels, positions: 0 ..< batchSize) }
        let augmented = best { iteration in
            // A new epoch each time, so every batch draws new turns and shifts.
            let transform = RandomAffine(
                maxRotationDegrees: bounds.maxRotationDegrees, maxShift: bounds.maxShift, seed: 0, epoch: iteration)
            images.fillBatch(images: batch, labels: labels, positions: 0 ..< batchSize, transform: transform)
        }
        return Report(plainSecondsPerBatch: plain, augmentedSecondsPerBatch: augmented)
    }

    /// `count` 28×28 images of random bytes in the central 20×20 box, where MNIST scales its
    /// digits: as costly to augment as the widest digit, since only points near ink are sampled.
    private static func inkedImages(count: Int) -> LabeledImages {
        let (side, box) = (28, 4 ..< 24)
        var generator = SeededGenerator(seed: 0)
        var pixels = [UInt8](repeating: 0, count: count * side * side)
        for image in 0 ..< count {
            for row in box {
                for column in box {
                    pixels[(image * side + row) * side + column] = UInt8(truncatingIfNeeded: generator.next())
                }
            }
        }
        return LabeledImages(
            rows: side, columns: side, firstIndex: 0, pixels: pixels, labels: [UInt8](repeating: 0, count: count))
    }
}
