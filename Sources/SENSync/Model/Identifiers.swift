import Foundation

/// A 128-bit identifier in RFC 9562 layout, used for sites and records.
///
/// Record ids are UUIDv7 (time-ordered, made offline, never reused); site ids are UUIDv7 too.
/// Ordering compares the 16 bytes, which is also the (site id) tie-break of the merge order.
public struct UUID128: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The first and last eight bytes as big-endian words. Hot: ids key every per-pupil and
    /// per-site table in a merge and an import, so an id is two words, not an array on the heap
    /// (comparing the words in order compares the bytes in order).
    private let high: UInt64
    private let low: UInt64

    /// The 16 bytes, most significant first.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            b[i] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i))
            b[8 + i] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * i))
        }
        return b
    }

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Wraps 16 bytes (the caller read exactly 16).
    package init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == 16, "a UUID128 is 16 bytes")
        self.init(high: Self.word(bytes, 0), low: Self.word(bytes, 8))
    }

    private static func word<C: Collection>(_ bytes: C, _ offset: Int) -> UInt64 where C.Element == UInt8 {
        var word: UInt64 = 0
        for byte in bytes.dropFirst(offset).prefix(8) { word = word << 8 | UInt64(byte) }
        return word
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(high)
        hasher.combine(low)
    }

    public static func == (lhs: UUID128, rhs: UUID128) -> Bool { lhs.high == rhs.high && lhs.low == rhs.low }

    /// Wraps exactly 16 bytes.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        self.init(high: Self.word(bytes, 0), low: Self.word(bytes, 8))
    }

    /// Parses the canonical 8-4-4-4-12 form (either case) or 32 bare hex digits.
    public init?(_ string: String) {
        // Hot: every id read back from SQL is parsed here. Works on the UTF-8 bytes directly.
        var words: (UInt64, UInt64) = (0, 0)
        let parsed =
            string.utf8.withContiguousStorageIfAvailable { Self.parse($0, into: &words) }
            ?? Array(string.utf8).withUnsafeBufferPointer { Self.parse($0, into: &words) }
        guard parsed else { return nil }
        self.init(high: words.0, low: words.1)
    }

    /// 32 hex digits, or 36 characters with hyphens exactly at 8, 13, 18 and 23.
    private static func parse(_ s: UnsafeBufferPointer<UInt8>, into out: inout (UInt64, UInt64)) -> Bool {
        let dashed: Bool
        switch s.count {
        case 32: dashed = false
        case 36: dashed = true
        default: return false
        }
        var i = 0
        var digits = 0
        while i < s.count {
            if dashed && (i == 8 || i == 13 || i == 18 || i == 23) {
                guard s[i] == UInt8(ascii: "-") else { return false }
                i += 1
                continue
            }
            guard let digit = nibble(s[i]) else { return false }
            if digits < 16 {
                out.0 = out.0 << 4 | UInt64(digit)
            } else {
                out.1 = out.1 << 4 | UInt64(digit)
            }
            digits += 1
            i += 1
        }
        return digits == 32
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
    public static let nil128 = UUID128(high: 0, low: 0)

    /// When a UUIDv7 was made (its first 48 bits, Unix milliseconds).
    public var createdAt: Date {
        Date(timeIntervalSince1970: Double(high >> 16) / 1000)
    }

    /// A new UUIDv7: 48-bit Unix milliseconds, version 7, 74 random bits.
    public static func v7(milliseconds: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)) -> UUID128 {
        var generator = SystemRandomNumberGenerator()
        return v7(milliseconds: milliseconds, using: &generator)
    }

    /// A UUIDv7 drawing its random bits from `generator` (deterministic tests and fixtures).
    public static func v7<G: RandomNumberGenerator>(milliseconds: UInt64, using generator: inout G) -> UUID128 {
        let r1 = generator.next() as UInt64
        let r2 = generator.next() as UInt64
        // Bytes 6-7 from r1's bytes 6-7 (as before), version 7 in the high nibble of byte 6;
        // bytes 8-15 from r2's bytes 0-7, variant 10 in the top bits of byte 8.
        let b6 = (UInt8(truncatingIfNeeded: r1 >> 48) & 0x0F) | 0x70
        let b7 = UInt8(truncatingIfNeeded: r1 >> 56)
        let high = (milliseconds & 0xFFFF_FFFF_FFFF) << 16 | UInt64(b6) << 8 | UInt64(b7)
        var low: UInt64 = 0
        for i in 0..<8 {
            var byte = UInt8(truncatingIfNeeded: r2 >> UInt64(8 * i))
            if i == 0 { byte = (byte & 0x3F) | 0x80 }
            low = low << 8 | UInt64(byte)
        }
        return UUID128(high: high, low: low)
    }

    /// The canonical lower-case 8-4-4-4-12 form.
    public var description: String {
        // Hot: every record key is bound to SQL as this text. Written digit by digit, no temporaries.
        String(unsafeUninitializedCapacity: 36) { buffer in
            var o = 0
            for i in 0..<32 {
                if i == 8 || i == 12 || i == 16 || i == 20 {
                    buffer[o] = UInt8(ascii: "-")
                    o += 1
                }
                let word = i < 16 ? high : low
                buffer[o] = hexDigit(UInt8(truncatingIfNeeded: word >> UInt64(60 - 4 * (i % 16))) & 0x0F)
                o += 1
            }
            return o
        }
    }

    /// The last eight hex digits (random bits in a UUIDv7), for compact display only: ids made
    /// in the same minute share their first digits, so lookups take a prefix of the full id.
    public var short: String { String(description.suffix(8)) }

    public static func < (lhs: UUID128, rhs: UUID128) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
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
