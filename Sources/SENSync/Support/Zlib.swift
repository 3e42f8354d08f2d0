import CSENSyncZlib
import Foundation

/// A zlib (RFC 1950) failure. Internal: the bundle layer reports it as a damaged payload.
package struct ZlibFailure: Error, Sendable {
    package var code: Int32
    package var message: String
}

/// Streaming zlib compression: feed bytes, collect compressed output in pieces.
package final class ZlibDeflater {
    private var stream = z_stream()
    private var finished = false

    package init(level: Int32 = 6) throws(ZlibFailure) {
        let rc = csensync_deflateInit2(&stream, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY)
        guard rc == Z_OK else { throw ZlibFailure(code: rc, message: "deflateInit2 failed") }
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `input`; `sink` receives compressed bytes as they become available.
    package func compress(_ input: [UInt8], sink: ([UInt8]) throws -> Void) throws {
        try run(input, flush: Z_NO_FLUSH, sink: sink)
    }

    /// Flushes the remaining output and ends the stream.
    package func finish(sink: ([UInt8]) throws -> Void) throws {
        guard !finished else { return }
        finished = true
        try run([], flush: Z_FINISH, sink: sink)
    }

    private func run(_ input: [UInt8], flush: Int32, sink: ([UInt8]) throws -> Void) throws {
        var input = input
        var output = [UInt8](repeating: 0, count: 64 * 1024)
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                let produced: Int = try output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let rc = deflate(&stream, flush)
                    guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                        throw ZlibFailure(code: rc, message: "deflate failed")
                    }
                    return outBuf.count - Int(stream.avail_out)
                }
                if produced > 0 { try sink(Array(output[0..<produced])) }
            } while stream.avail_out == 0 || (flush == Z_FINISH && stream.avail_in > 0)
            stream.next_in = nil
        }
    }
}

/// Streaming zlib decompression with a hard cap on the total output.
package final class ZlibInflater {
    private var stream = z_stream()
    package private(set) var isFinished = false
    package private(set) var totalOut: UInt64 = 0

    package init() throws(ZlibFailure) {
        let rc = csensync_inflateInit(&stream)
        guard rc == Z_OK else { throw ZlibFailure(code: rc, message: "inflateInit failed") }
    }

    deinit { inflateEnd(&stream) }

    /// Decompresses `input`, handing decompressed pieces to `sink`.
    ///
    /// Throws if the data is not a valid zlib stream, if bytes follow the end of the stream, or if
    /// the output would exceed `limit` bytes.
    package func decompress(_ input: [UInt8], limit: UInt64, sink: ([UInt8]) throws -> Void) throws {
        guard !input.isEmpty else { return }
        guard !isFinished else { throw ZlibFailure(code: Z_DATA_ERROR, message: "data after end of stream") }
        var input = input
        var output = [UInt8](repeating: 0, count: 64 * 1024)
        try input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            defer { stream.next_in = nil }
            while stream.avail_in > 0 || stream.avail_out == 0 {
                if isFinished {
                    if stream.avail_in > 0 {
                        throw ZlibFailure(code: Z_DATA_ERROR, message: "data after end of stream")
                    }
                    break
                }
                let produced: Int = try output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    switch rc {
                    case Z_OK: break
                    case Z_STREAM_END: isFinished = true
                    case Z_BUF_ERROR: break
                    default: throw ZlibFailure(code: rc, message: "inflate failed")
                    }
                    return outBuf.count - Int(stream.avail_out)
                }
                totalOut += UInt64(produced)
                guard totalOut <= limit else {
                    throw ZlibFailure(code: Z_DATA_ERROR, message: "decompressed size exceeds the declared size")
                }
                if produced > 0 { try sink(Array(output[0..<produced])) }
                if produced == 0 && stream.avail_in == 0 { break }
            }
        }
    }
}

/// One-shot helpers over the streaming types.
package enum Zlib {
    package static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let deflater = try ZlibDeflater(level: level)
        var out: [UInt8] = []
        try deflater.compress(input) { out += $0 }
        try deflater.finish { out += $0 }
        return out
    }

    package static func decompress(_ input: [UInt8], limit: UInt64) throws -> [UInt8] {
        let inflater = try ZlibInflater()
        var out: [UInt8] = []
        try inflater.decompress(input, limit: limit) { out += $0 }
        guard inflater.isFinished else { throw ZlibFailure(code: Z_DATA_ERROR, message: "truncated stream") }
        return out
    }
}
