import Foundation

/// A 128-bit identifier in RFC 9562 layout, used for sites and records.
///
/// Record ids are UUIDv7 (time-ordered, made offline, never reused); site ids are UUIDv7 too.
/// Ordering compares the 16 bytes, which is also the (site id) tie-break of the merge order.
public struct UUID128: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The 16 bytes, most significant first.
    public let bytes: [UInt8]

    package init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// Hot: ids key every per-pupil and per-site table in a merge. Two words instead of the
    /// synthesised sixteen bytes and a count.
    public func hash(into hasher: inout Hasher) {
        guard bytes.count == 16 else {
            hasher.combine(bytes)
            return
        }
        bytes.withUnsafeBytes { raw in
            hasher.combine(raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            hasher.combine(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    public static func == (lhs: UUID128, rhs: UUID128) -> Bool { lhs.bytes == rhs.bytes }

    /// Wraps exactly 16 bytes.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses the canonical 8-4-4-4-12 form (either case) or 32 bare hex digits.
    public init?(_ string: String) {
        // Hot: every id read back from SQL is parsed here. Works on the UTF-8 bytes directly.
        var raw = [UInt8](repeating: 0, count: 16)
        let parsed =
            string.utf8.withContiguousStorageIfAvailable { Self.parse($0, into: &raw) }
            ?? Array(string.utf8).withUnsafeBufferPointer { Self.parse($0, into: &raw) }
        guard parsed else { return nil }
        self.bytes = raw
    }

    /// 32 hex digits, or 36 characters with hyphens exactly at 8, 13, 18 and 23.
    private static func parse(_ s: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        let dashed: Bool
        switch s.count {
        case 32: dashed = false
        case 36: dashed = true
        default: return false
        }
        var i = 0
        var o = 0
        while i < s.count {
            if dashed && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard s[i] == UInt8(ascii: "-") else { return false }
                i += 1
                continue
            }
            guard let hi = nibble(s[i]), let lo = nibble(s[i + 1]) else { return false }
            out[o] = hi << 4 | lo
            o += 1
            i += 2
        }
        return o == 16
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The all-zero id.
    public static let nil128 = UUID128(unchecked: [UInt8](repeating: 0, count: 16))

    /// When a UUIDv7 was made (its first 48 bits, Unix milliseconds).
    public var createdAt: Date {
        let ms = bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// A new UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits.
    public static func v7(milliseconds: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)) -> UUID128 {
        var generator = SystemRandomNumberGenerator()
        return v7(milliseconds: milliseconds, using: &generator)
    }

    /// A UUIDv7 drawing its random bits from `generator` (deterministic tests and fixtures).
    public static func v7<G: RandomNumberGenerator>(milliseconds: UInt64, using generator: inout G) -> UUID128 {
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: milliseconds >> UInt64(40 - 8 * i)) }
        let r1 = generator.next() as UInt64
        let r2 = generator.next() as UInt64
        for i in 6..<8 { b[i] = UInt8(truncatingIfNeeded: r1 >> UInt64(8 * i)) }
        for i in 8..<16 { b[i] = UInt8(truncatingIfNeeded: r2 >> UInt64(8 * (i - 8))) }
        b[6] = (b[6] & 0x0F) | 0x70
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID128(unchecked: b)
    }

    /// The canonical lower-case 8-4-4-4-12 form.
    public var description: String {
        // Hot: every record key is bound to SQL as this text. Written byte by byte, no temporaries.
        String(unsafeUninitializedCapacity: 36) { buffer in
            var o = 0
            for (i, byte) in bytes.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    buffer[o] = UInt8(ascii: "-")
                    o += 1
                }
                buffer[o] = hexDigit(byte >> 4)
                buffer[o + 1] = hexDigit(byte & 0x0F)
                o += 2
            }
            return o
        }
    }

    /// The last eight hex digits (random bits in a UUIDv7), for compact display only: ids made
    /// in the same minute share their first digits, so lookups take a prefix of the full id.
    public var short: String { String(description.suffix(8)) }

    public static func < (lhs: UUID128, rhs: UUID128) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        guard let value = UUID128(string) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UUID")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A site (one store): a school, academy, trust or local authority.
public typealias SiteID = UUID128
/// A record: a pupil, note, plan, … Unique across every replica.
public typealias RecordID = UUID128
