import CZlib

/// The decompressed bytes of a single-member gzip file, inflated in bounded chunks.
final class GzipSource: ByteSource {
    /// Deflate cannot compress better than 1032:1, so this bounds the decompressed size.
    let byteLimit: Int
    private let file: FileSource
    /// On the heap because zlib remembers the stream's address and checks it on every call.
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var finished = false

    private static let inputChunkSize = 1 << 18
    private static let gzipSignature: [UInt8] = [0x1F, 0x8B]

    init(file: FileSource) throws(IDXError) {
        self.file = file
        let (limit, overflow) = file.byteLimit.multipliedReportingOverflow(by: 1032)
        byteLimit = overflow ? .max : limit
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(byteCount: Self.inputChunkSize, alignment: 1)

        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw corruption(status) }
        try refill()
        let leading = Array(input.prefix(min(Int(stream.pointee.avail_in), 4)))
        guard leading.starts(with: Self.gzipSignature) else {
            throw .notGzip(path: file.path, leadingBytes: leading)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IDXError) -> Int {
        guard !finished, let base = buffer.baseAddress else { return 0 }
        precondition(buffer.count <= UInt32.max, "zlib counts output in 32 bits")
        stream.pointee.next_out = base.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(buffer.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 {
                try refill()
                guard stream.pointee.avail_in > 0 else {
                    throw .corruptGzip(path: file.path, reason: "file ends inside the compressed stream")
                }
            }
            let status = inflate(stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                finished = true
                try rejectDataAfterStream()
                break
            }
            guard status == Z_OK else { throw corruption(status) }
        }
        return buffer.count - Int(stream.pointee.avail_out)
    }

    private func refill() throws(IDXError) {
        let count = try file.read(into: input)
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = UInt32(count)
    }

    /// Concatenated gzip members and appended junk are both refused: MNIST files are one member.
    private func rejectDataAfterStream() throws(IDXError) {
        var extra = Int(stream.pointee.avail_in)
        while true {
            let count = try file.read(into: input)
            extra += count
            if count < input.count { break }
        }
        if extra > 0 {
            throw .corruptGzip(path: file.path, reason: "\(extra) bytes follow the end of the stream")
        }
    }

    private func corruption(_ status: Int32) -> IDXError {
        let reason = stream.pointee.msg.map { String(cString: $0) } ?? String(cString: zError(status))
        return .corruptGzip(path: file.path, reason: reason)
    }
}
