import Foundation

/// One site's run of changes in a bundle section: changes in chain order, some of them only
/// summarised as skipped (out of the recipient's scope).
public struct OriginRange: Hashable, Sendable, Codable {
    public var site: SiteID
    /// The first change's sequence number.
    public var firstSeq: UInt64
    /// The last change's sequence number.
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

/// A recipient's copy of a section's content key, sealed to its X25519 key with HPKE.
public struct SealedKey: Hashable, Sendable {
    public var recipient: SiteID
    /// HPKE encapsulated key, 32 bytes.
    public var encapsulated: [UInt8]
    /// The sealed content key, 48 bytes.
    public var sealedKey: [UInt8]
}

/// One encrypted payload and who can open it.
public struct BundleSection: Hashable, Sendable {
    public var recipients: [SealedKey]
    /// Bytes of sealed payload in the file.
    public var payloadLength: UInt64
    /// Bytes of payload once opened and decompressed.
    public var plainLength: UInt64
    /// SHA-256 of the sealed payload as stored in the file.
    public var payloadSHA256: Digest32
    /// Changes carried in full, in chain order.
    public var changeCount: UInt64
    /// Changes summarised as skipped (outside the recipient's scope).
    public var skippedCount: UInt64
    /// History changes carried outside chain order (a pupil's earlier record).
    public var historyCount: UInt64
    /// Record operations per table (full and history changes).
    public var tableCounts: [String: UInt64]
    /// Per-origin ranges, in payload index order.
    public var origins: [OriginRange]
}

/// Everything about a bundle that can be read without its payload or any key. Holds no personal
/// data: site ids and names, sequence numbers, hashes and counts only.
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
    /// The version of the area directory the sender holds.
    public var directoryVersion: UInt64
    /// The sender's directory (signed by the LA), when the recipients may not have it yet.
    public var directory: [UInt8]
    /// What the sender holds: every bundle acknowledges it.
    public var versionVector: VersionVector
    /// One sealed payload per recipient.
    public var sections: [BundleSection]
    /// Extension fields this build does not interpret, kept as they were.
    public var extensions: [UInt64: [UInt8]] = [:]

    /// Every recipient of every section.
    public var recipients: [SiteID] { sections.flatMap { $0.recipients.map(\.recipient) } }
    /// Full changes across sections.
    public var changeCount: UInt64 { sections.reduce(0) { $0 + $1.changeCount + $1.historyCount } }
    /// Bytes of payload across sections.
    public var payloadLength: UInt64 { sections.reduce(0) { $0 + $1.payloadLength } }

    func encoded() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 1024 + directory.count)
        w.write(schemaVersion)
        w.write(contentsOf: bundleID.bytes)
        w.write(createdAt)
        w.write(contentsOf: sender.id.bytes)
        w.writeString(sender.kind.rawValue)
        w.writeString(sender.name)
        w.writeString(sender.urn ?? "")
        w.writeString(sender.laCode ?? "")
        w.write(directoryVersion)
        w.writeBytesWithLength(directory)
        let vv = versionVector.entries
        w.writeVarint(vv.count)
        for e in vv {
            w.write(contentsOf: e.site.bytes)
            w.writeVarint(e.seq)
        }
        w.writeVarint(sections.count)
        for section in sections {
            w.writeVarint(section.recipients.count)
            for r in section.recipients {
                w.write(contentsOf: r.recipient.bytes)
                w.write(contentsOf: r.encapsulated)
                w.write(contentsOf: r.sealedKey)
            }
            w.write(section.payloadLength)
            w.write(section.plainLength)
            w.write(contentsOf: section.payloadSHA256.bytes)
            w.writeVarint(section.changeCount)
            w.writeVarint(section.skippedCount)
            w.writeVarint(section.historyCount)
            let tables = section.tableCounts.sorted { $0.key < $1.key }
            w.writeVarint(tables.count)
            for (table, count) in tables {
                w.writeString(table)
                w.writeVarint(count)
            }
            w.writeVarint(section.origins.count)
            for o in section.origins {
                w.write(contentsOf: o.site.bytes)
                w.writeVarint(o.firstSeq)
                w.writeVarint(o.count)
                w.write(contentsOf: o.previousHash.bytes)
                w.write(contentsOf: o.lastHash.bytes)
            }
        }
        let ext = extensions.sorted { $0.key < $1.key }
        w.writeVarint(ext.count)
        for (tag, bytes) in ext {
            w.writeVarint(tag)
            w.writeBytesWithLength(bytes)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], formatMajor: UInt16, formatMinor: UInt16) throws(DecodingFailure)
        -> BundleHeader
    {
        var r = BinaryReader(bytes)
        let schemaVersion = try r.readUInt16()
        let bundleID = UUID128(unchecked: Array(try r.readBytes(16)))
        let createdAt = try r.readUInt64()
        let senderID = SiteID(unchecked: Array(try r.readBytes(16)))
        guard let kind = SiteKind(rawValue: try r.readString(limit: 64)) else {
            throw DecodingFailure("unknown sender kind")
        }
        let name = try r.readString(limit: 1024)
        let urn = try r.readString(limit: 64)
        let la = try r.readString(limit: 64)
        let sender = SiteIdentity(
            id: senderID, name: name, kind: kind, urn: urn.isEmpty ? nil : urn, laCode: la.isEmpty ? nil : la)
        let directoryVersion = try r.readUInt64()
        let directory = try r.readBytesWithLength(limit: 16 << 20)
        var vv = VersionVector()
        for _ in 0..<(try r.readCount(limit: 1 << 20)) {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            vv[site] = try r.readVarint()
        }
        var sections: [BundleSection] = []
        var seenRecipients: Set<SiteID> = []
        for _ in 0..<(try r.readCount(limit: 4096)) {
            var recipients: [SealedKey] = []
            for _ in 0..<(try r.readCount(limit: 4096)) {
                let site = SiteID(unchecked: Array(try r.readBytes(16)))
                guard seenRecipients.insert(site).inserted else { throw DecodingFailure("a recipient is listed twice") }
                recipients.append(
                    SealedKey(
                        recipient: site, encapsulated: Array(try r.readBytes(32)), sealedKey: Array(try r.readBytes(48))
                    ))
            }
            let payloadLength = try r.readUInt64()
            let plainLength = try r.readUInt64()
            let sha = Digest32(unchecked: Array(try r.readBytes(32)))
            let changes = try r.readVarint()
            let skipped = try r.readVarint()
            let history = try r.readVarint()
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
                guard first >= 1, count >= 1, first <= UInt64.max - count else {
                    throw DecodingFailure("bad origin range")
                }
                let prev = Digest32(unchecked: Array(try r.readBytes(32)))
                let last = Digest32(unchecked: Array(try r.readBytes(32)))
                origins.append(
                    OriginRange(
                        site: site, firstSeq: first, lastSeq: first + count - 1, previousHash: prev, lastHash: last))
                total += count
            }
            guard Set(origins.map(\.site)).count == origins.count else {
                throw DecodingFailure("an origin is listed twice")
            }
            guard total == changes + skipped else { throw DecodingFailure("change counts disagree") }
            sections.append(
                BundleSection(
                    recipients: recipients, payloadLength: payloadLength, plainLength: plainLength, payloadSHA256: sha,
                    changeCount: changes, skippedCount: skipped, historyCount: history, tableCounts: tableCounts,
                    origins: origins))
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
            createdAt: createdAt, sender: sender, directoryVersion: directoryVersion, directory: directory,
            versionVector: vv, sections: sections, extensions: extensions)
    }
}
