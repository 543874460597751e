/// Why a safetensors file could not be read or a tensor could not be taken from it: the file at
/// fault and the problem, described together in one line.
public struct SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// The path (or other label) of the file at fault.
    public let file: String
    public let problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }

    /// Each way a file can break the specification, or a request can miss the file's contents.
    /// An `Error` itself so that parsing code can throw it before the file name is attached.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// The file could not be opened or read; `reason` is the system's error text.
        case unreadable(reason: String)
        /// The file is shorter than the 8-byte header length that starts every file.
        case truncatedHeaderLength(fileSize: Int)
        /// The header length exceeds the limit the reference implementation enforces.
        case headerTooLarge(length: UInt64)
        /// The header length runs past the end of the file.
        case truncatedHeader(length: UInt64, available: Int)
        case headerNotUTF8
        /// The header's first byte is not `{`.
        case headerNotObject
        /// The header is not valid JSON; `offset` counts bytes from the start of the file.
        case malformedJSON(offset: Int, reason: String)
        /// A JSON object in the header names the same key twice.
        case duplicateKey(String)
        case metadataNotObject
        case metadataValueNotString(key: String)
        case tensorInfoNotObject(tensor: String)
        case missingField(tensor: String, field: String)
        case unexpectedField(tensor: String, field: String)
        /// A tensor's field has the wrong JSON type or value; `expected` says what it should hold.
        case invalidField(tensor: String, field: String, expected: String)
        case unknownDType(tensor: String, dtype: String)
        /// The product of the shape, in bits, overflows a machine integer.
        case shapeTooLarge(tensor: String, shape: [Int])
        /// Packed sub-byte elements that do not fill a whole number of bytes.
        case sizeNotWholeBytes(tensor: String, bits: Int)
        case offsetsReversed(tensor: String, begin: Int, end: Int)
        /// A tensor does not begin where the previous one (in offset order) ended.
        case offsetsNotContiguous(tensor: String, begin: Int, expectedBegin: Int)
        /// A tensor's byte range does not match its dtype and shape.
        case sizeMismatch(tensor: String, dtype: DType, shape: [Int], expectedBytes: Int, actualBytes: Int)
        /// The tensors together do not cover the data buffer exactly.
        case bufferNotCovered(coveredBytes: Int, bufferBytes: Int)
        /// The header lists more tensors than the reader takes.
        case tooManyTensors(limit: Int)
        /// The header's `__metadata__` holds more entries than the reader takes.
        case tooManyMetadataEntries(limit: Int)
        /// The file is larger than its reader accepts.
        case fileTooLarge(size: Int, limit: Int)
        case noSuchTensor(String)
        case dtypeMismatch(tensor: String, expected: DType, actual: DType)
        case shapeMismatch(tensor: String, expected: [Int], actual: [Int])

        public var description: String {
            switch self {
            case .unreadable(let reason):
                "cannot read: \(reason)"
            case .truncatedHeaderLength(let fileSize):
                "truncated: file holds \(fileSize) bytes, fewer than the 8-byte header length"
            case .headerTooLarge(let length):
                "header length \(length) exceeds the limit of \(SafeTensorsFile.maximumHeaderLength) bytes"
            case .truncatedHeader(let length, let available):
                "truncated: header says \(length) bytes of JSON at offset 8, but only \(available) follow"
            case .headerNotUTF8:
                "header is not valid UTF-8"
            case .headerNotObject:
                "header does not start with '{'"
            case .malformedJSON(let offset, let reason):
                "malformed header JSON at byte \(offset): \(reason)"
            case .duplicateKey(let key):
                "header names \"\(key)\" twice"
            case .metadataNotObject:
                "__metadata__ is not an object"
            case .metadataValueNotString(let key):
                "__metadata__ value for \"\(key)\" is not a string"
            case .tensorInfoNotObject(let tensor):
                "tensor \"\(tensor)\": entry is not an object"
            case .missingField(let tensor, let field):
                "tensor \"\(tensor)\": missing \"\(field)\""
            case .unexpectedField(let tensor, let field):
                "tensor \"\(tensor)\": unexpected field \"\(field)\""
            case .invalidField(let tensor, let field, let expected):
                "tensor \"\(tensor)\": \"\(field)\" must be \(expected)"
            case .unknownDType(let tensor, let dtype):
                "tensor \"\(tensor)\": unknown dtype \"\(dtype)\""
            case .shapeTooLarge(let tensor, let shape):
                "tensor \"\(tensor)\": shape \(shape) is too large to address"
            case .sizeNotWholeBytes(let tensor, let bits):
                "tensor \"\(tensor)\": its \(bits) bits of packed elements do not fill whole bytes"
            case .offsetsReversed(let tensor, let begin, let end):
                "tensor \"\(tensor)\": data_offsets [\(begin), \(end)] end before they begin"
            case .offsetsNotContiguous(let tensor, let begin, let expectedBegin):
                "tensor \"\(tensor)\": data begins at \(begin) but the previous tensor ends at \(expectedBegin)"
                    + (begin < expectedBegin ? " (overlap)" : " (gap)")
            case .sizeMismatch(let tensor, let dtype, let shape, let expectedBytes, let actualBytes):
                "tensor \"\(tensor)\": \(dtype.rawValue) \(shape) needs \(expectedBytes) bytes, data_offsets span \(actualBytes)"
            case .bufferNotCovered(let coveredBytes, let bufferBytes) where coveredBytes > bufferBytes:
                "truncated or corrupt: its tensors need \(coveredBytes) bytes of data, the file holds \(bufferBytes)"
            case .bufferNotCovered(let coveredBytes, let bufferBytes):
                "corrupt: its tensors cover \(coveredBytes) bytes of data, the file holds \(bufferBytes)"
            case .tooManyTensors(let limit):
                "header lists more than \(limit) tensors"
            case .tooManyMetadataEntries(let limit):
                "__metadata__ holds more than \(limit) entries"
            case .fileTooLarge(let size, let limit):
                "file of \(size) bytes is larger than the \(limit) bytes this reader accepts"
            case .noSuchTensor(let name):
                "no tensor named \"\(name)\""
            case .dtypeMismatch(let tensor, let expected, let actual):
                "tensor \"\(tensor)\" is \(actual.rawValue), expected \(expected.rawValue)"
            case .shapeMismatch(let tensor, let expected, let actual):
                "tensor \"\(tensor)\" has shape \(actual), expected \(expected)"
            }
        }
    }
}
