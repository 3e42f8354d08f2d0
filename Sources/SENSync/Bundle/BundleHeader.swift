import Foundation

/// One site's run of changes in a bundle.
public struct OriginRange: Hashable, Sendable, Codable {
    public var site: SiteID
    /// The first change's sequence number.
    public var firstSeq: UInt64
    /// The last change's sequence number (`firstSeq - 1` for none).
    public var lastSeq: UInt64
    /// The chain hash of change `firstSeq - 1` (zero for a site's first change).
    public var previousHash: Digest32
    /// The chain hash of change `lastSeq`.
    public var lastHash: Digest32

    public var count: UInt64 { lastSeq >= firstSeq ? lastSeq - firstSeq + 1 : 0 }
}

extension Digest32: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let d = Digest32(hex: try c.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a SHA-256 hex string")
        }
        self = d
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// How the payload is stored.
public enum PayloadEncoding: UInt8, Sendable, Codable {
    /// zlib (RFC 1950), unencrypted.
    case zlib = 0
    /// zlib, then sealed to each recipient (see `Schemas/bundle-v1.md`; reserved for format 1.1).
    case zlibSealed = 1
}

/// Everything about a bundle that can be read without its payload. Holds no personal data:
/// site ids and names, sequence numbers, hashes and counts only.
public struct BundleHeader: Hashable, Sendable {
    /// The format this build writes.
    public static let formatMajor: UInt16 = 1
    public static let formatMinor: UInt16 = 0

    public var formatMajor: UInt16 = Self.formatMajor
    public var formatMinor: UInt16 = Self.formatMinor
    /// The record schema version of the sender (see ``RecordSchema/version``).
    public var schemaVersion: UInt16
    public var bundleID: UUID128
    /// When the bundle was made (Unix milliseconds).
    public var createdAt: UInt64
    public var sender: SiteIdentity
    public var recipients: [SiteID]
    public var payloadEncoding: PayloadEncoding
    /// Bytes of payload in the file.
    public var payloadLength: UInt64
    /// Bytes of payload once decompressed.
    public var plainLength: UInt64
    /// SHA-256 of the payload bytes as stored in the file.
    public var payloadSHA256: Digest32
    /// Changes in the payload.
    public var changeCount: UInt64
    /// Record operations per table.
    public var tableCounts: [String: UInt64]
    /// Per-origin change ranges, in payload index order.
    public var origins: [OriginRange]
    /// What the sender holds: every bundle acknowledges it.
    public var versionVector: VersionVector
    /// Extension fields this build does not interpret, kept as they were.
    public var extensions: [UInt64: [UInt8]] = [:]

    func encoded() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 512 + origins.count * 100 + versionVector.count * 24)
        w.write(schemaVersion)
        w.write(contentsOf: bundleID.bytes)
        w.write(createdAt)
        w.write(contentsOf: sender.id.bytes)
        w.writeString(sender.kind.rawValue)
        w.writeString(sender.name)
        w.writeString(sender.urn ?? "")
        w.writeString(sender.laCode ?? "")
        w.writeVarint(recipients.count)
        for r in recipients { w.write(contentsOf: r.bytes) }
        w.write(payloadEncoding.rawValue)
        w.write(payloadLength)
        w.write(plainLength)
        w.write(contentsOf: payloadSHA256.bytes)
        w.writeVarint(changeCount)
        let tables = tableCounts.sorted { $0.key < $1.key }
        w.writeVarint(tables.count)
        for (table, count) in tables {
            w.writeString(table)
            w.writeVarint(count)
        }
        w.writeVarint(origins.count)
        for o in origins {
            w.write(contentsOf: o.site.bytes)
            w.writeVarint(o.firstSeq)
            w.writeVarint(o.count)
            w.write(contentsOf: o.previousHash.bytes)
            w.write(contentsOf: o.lastHash.bytes)
        }
        let vv = versionVector.entries
        w.writeVarint(vv.count)
        for e in vv {
            w.write(contentsOf: e.site.bytes)
            w.writeVarint(e.seq)
        }
        let ext = extensions.sorted { $0.key < $1.key }
        w.writeVarint(ext.count)
        for (tag, bytes) in ext {
            w.writeVarint(tag)
            w.writeBytesWithLength(bytes)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], formatMajor: UInt16, formatMinor: UInt16) throws(DecodingFailure) -> BundleHeader {
        var r = BinaryReader(bytes)
        let schemaVersion = try r.readUInt16()
        let bundleID = UUID128(unchecked: Array(try r.readBytes(16)))
        let createdAt = try r.readUInt64()
        let senderID = SiteID(unchecked: Array(try r.readBytes(16)))
        let kindRaw = try r.readString(limit: 64)
        guard let kind = SiteKind(rawValue: kindRaw) else { throw DecodingFailure("unknown sender kind") }
        let name = try r.readString(limit: 1024)
        let urn = try r.readString(limit: 64)
        let la = try r.readString(limit: 64)
        let sender = SiteIdentity(id: senderID, name: name, kind: kind, urn: urn.isEmpty ? nil : urn, laCode: la.isEmpty ? nil : la)
        var recipients: [SiteID] = []
        for _ in 0..<(try r.readCount(limit: 4096)) { recipients.append(SiteID(unchecked: Array(try r.readBytes(16)))) }
        let encodingRaw = try r.readUInt8()
        guard let encoding = PayloadEncoding(rawValue: encodingRaw) else { throw DecodingFailure("unknown payload encoding \(encodingRaw)") }
        let payloadLength = try r.readUInt64()
        let plainLength = try r.readUInt64()
        let sha = Digest32(unchecked: Array(try r.readBytes(32)))
        let changeCount = try r.readVarint()
        var tableCounts: [String: UInt64] = [:]
        for _ in 0..<(try r.readCount(limit: 4096)) {
            let table = try r.readString(limit: 256)
            tableCounts[table] = try r.readVarint()
        }
        var origins: [OriginRange] = []
        var total: UInt64 = 0
        for _ in 0..<(try r.readCount(limit: 1 << 20)) {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            let first = try r.readVarint()
            let count = try r.readVarint()
            guard first >= 1, count >= 1, first <= UInt64.max - count else { throw DecodingFailure("bad origin range") }
            let prev = Digest32(unchecked: Array(try r.readBytes(32)))
            let last = Digest32(unchecked: Array(try r.readBytes(32)))
            origins.append(OriginRange(site: site, firstSeq: first, lastSeq: first + count - 1, previousHash: prev, lastHash: last))
            total += count
        }
        guard Set(origins.map(\.site)).count == origins.count else { throw DecodingFailure("an origin is listed twice") }
        guard total == changeCount else { throw DecodingFailure("change counts disagree") }
        var vv = VersionVector()
        for _ in 0..<(try r.readCount(limit: 1 << 20)) {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            vv[site] = try r.readVarint()
        }
        var extensions: [UInt64: [UInt8]] = [:]
        for _ in 0..<(try r.readCount(limit: 1024)) {
            let tag = try r.readVarint()
            let value = try r.readBytesWithLength()
            if tag & 1 == 1 { throw DecodingFailure("critical extension \(tag) is not understood") }
            extensions[tag] = value
        }
        guard r.isAtEnd else { throw DecodingFailure("unexpected bytes after the header") }
        return BundleHeader(
            formatMajor: formatMajor, formatMinor: formatMinor, schemaVersion: schemaVersion, bundleID: bundleID,
            createdAt: createdAt, sender: sender, recipients: recipients, payloadEncoding: encoding,
            payloadLength: payloadLength, plainLength: plainLength, payloadSHA256: sha, changeCount: changeCount,
            tableCounts: tableCounts, origins: origins, versionVector: vv, extensions: extensions)
    }
}
