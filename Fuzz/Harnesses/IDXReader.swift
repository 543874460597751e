// libFuzzer harness: the IDX reader, raw and gzip'd. The input is one byte of flags (bit 0:
// images gzip'd, bit 1: labels gzip'd), two bytes giving the images file's length, the images
// file, then the labels file; both are written as a training split and read every way the
// trainer reads one.
#if canImport(Glibc)
import Glibc
#endif
import Data

private let directory: String = {
    var template = Array("/tmp/mnist-ddp-fuzz-idx-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("cannot create a scratch directory") }
    return String(cString: made)
}()

private func write(_ bytes: ArraySlice<UInt8>, stem: String, compressed: Bool) {
    for suffix in ["", ".gz"] { unlink("\(directory)/\(stem)\(suffix)") }
    let path = "\(directory)/\(stem)\(compressed ? ".gz" : "")"
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(descriptor >= 0, "cannot write \(path)")
    defer { close(descriptor) }
    let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    precondition(written == bytes.count, "short write to \(path)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDXReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard input.count >= 3 else { return 0 }
    let flags = input[0]
    let imagesLength = min(Int(input[1]) << 8 | Int(input[2]), input.count - 3)
    write(input[3 ..< 3 + imagesLength], stem: MNISTSplit.train.imagesStem, compressed: flags & 1 != 0)
    write(input[(3 + imagesLength)...], stem: MNISTSplit.train.labelsStem, compressed: flags & 2 != 0)

    _ = try? MNISTDataset.sampleCount(of: .train, in: directory)
    _ = try? MNISTDataset.imageSize(of: .train, in: directory)
    if let all = try? MNISTDataset.load(.train, from: directory) {
        _ = try? MNISTDataset.load(.train, from: directory, samples: all.count / 2 ..< all.count)
    }
    try? MNISTDataset.stream(.train, from: directory, batchSize: 7) { _ in }
    if let largest = try? MNISTDataset.largestLabel(of: .train, in: directory) {
        _ = try? MNISTDataset.labels(of: .train, in: directory, classCount: Int(largest) + 1)
    }
    return 0
}
