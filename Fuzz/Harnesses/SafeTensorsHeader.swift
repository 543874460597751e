// libFuzzer harness: the safetensors reader. The input is a whole file; whatever it accepts must
// then be readable tensor by tensor.
import SafeTensors

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? SafeTensorsFile(bytes: bytes, source: "fuzz") else { return 0 }
    for tensor in file.tensors {
        _ = file.data(of: tensor)
        _ = try? file.floats(named: tensor.name)
        _ = try? file.int64s(named: tensor.name, shape: tensor.shape)
    }
    return 0
}
