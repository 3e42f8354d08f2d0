import Foundation

/// Appends big-endian integers, LEB128 varints and length-prefixed strings to a byte buffer.
///
/// Every SENSync file format (bundle header, payload, change bodies, record clocks) is written
/// with this one writer so that the encoding rules live in a single place.
package struct BinaryWriter: Sendable {
    package private(set) var bytes: [UInt8]

    package init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    package mutating func write(_ value: UInt8) { bytes.append(value) }

    package mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    package mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    package mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Unsigned LEB128.
    package mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    package mutating func writeVarint(_ value: Int) { writeVarint(UInt64(value)) }

    /// Zig-zag encoded signed varint.
    package mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    package mutating func write<C: Collection>(contentsOf other: C) where C.Element == UInt8 {
        bytes.append(contentsOf: other)
    }

    /// A varint byte count followed by the UTF-8 bytes.
    package mutating func writeString(_ string: String) {
        let utf8 = Array(string.utf8)
        writeVarint(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    package mutating func writeBytesWithLength(_ data: [UInt8]) {
        writeVarint(data.count)
        bytes.append(contentsOf: data)
    }
}
