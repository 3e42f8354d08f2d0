import Foundation

/// Why bytes could not be decoded: the reason, without any of the content.
public struct DecodingFailure: Error, Sendable, Equatable {
    public var reason: String
    package init(_ reason: String) { self.reason = reason }
}

/// Reads what ``BinaryWriter`` writes, never trapping on bad input.
package struct BinaryReader: Sendable {
    package let bytes: [UInt8]
    package private(set) var offset: Int

    package init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    package var isAtEnd: Bool { offset >= bytes.count }
    package var remaining: Int { bytes.count - offset }

    package mutating func readUInt8() throws(DecodingFailure) -> UInt8 {
        guard offset < bytes.count else { throw DecodingFailure("unexpected end of data") }
        defer { offset += 1 }
        return bytes[offset]
    }

    package mutating func readUInt16() throws(DecodingFailure) -> UInt16 {
        let b = try readBytes(2)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    package mutating func readUInt32() throws(DecodingFailure) -> UInt32 {
        let b = try readBytes(4)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    package mutating func readUInt64() throws(DecodingFailure) -> UInt64 {
        let b = try readBytes(8)
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    package mutating func readVarint() throws(DecodingFailure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readUInt8()
            if shift == 63 && byte > 1 { throw DecodingFailure("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw DecodingFailure("varint too long") }
        }
    }

    /// A varint that must fit a collection count no larger than `limit`.
    package mutating func readCount(limit: Int = 1 << 24) throws(DecodingFailure) -> Int {
        let value = try readVarint()
        guard value <= UInt64(limit) else { throw DecodingFailure("count \(value) exceeds \(limit)") }
        return Int(value)
    }

    package mutating func readSignedVarint() throws(DecodingFailure) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    package mutating func readBytes(_ count: Int) throws(DecodingFailure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw DecodingFailure("unexpected end of data") }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    package mutating func readString(limit: Int = 1 << 20) throws(DecodingFailure) -> String {
        let count = try readCount(limit: limit)
        let slice = try readBytes(count)
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw DecodingFailure("text is not valid UTF-8")
        }
        return string
    }

    package mutating func readBytesWithLength(limit: Int = 1 << 24) throws(DecodingFailure) -> [UInt8] {
        let count = try readCount(limit: limit)
        return Array(try readBytes(count))
    }
}
