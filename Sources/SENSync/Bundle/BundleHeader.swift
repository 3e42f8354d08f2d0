import Foundation

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

/// One encrypted payload and the one site that can open it.
public struct BundleSection: Hashable, Sendable {
    /// The site the section is sealed to.
    public var recipient: SiteID
    /// HPKE encapsulated key, 32 bytes.
    public var encapsulated: [UInt8]
    /// The sealed content key, 48 bytes.
    public var sealedKey: [UInt8]
    /// Bytes of sealed payload in the file.
    public var payloadLength: UInt64
    /// Bytes of payload once opened and decompressed.
    public var plainLength: UInt64
    /// SHA-256 of the sealed payload as stored in the file.
    public var payloadSHA256: Digest32
    /// Origin checkpoints carried (the signatures the changes are checked against).
    public var checkpointCount: UInt64
    /// Changes carried with their content.
    public var changeCount: UInt64
    /// Changes carried without content (erased pupils).
    public var redactedCount: UInt64
    /// Pupils whose holdings the sender reports.
    public var holdingsCount: UInt64
    /// Changes (with or without content) per origin site.
    public var origins: [SiteID: UInt64]
    /// Record operations per table, across the changes carried with content.
    public var tableCounts: [String: UInt64]
    /// How the holdings entries relate to what the recipient has of the sender's holdings; `nil`
    /// in a bundle of format 3.0 (every entry, replacing what the recipient had).
    public var holdingsBasis: HoldingsBasis?

    package init(
        recipient: SiteID, encapsulated: [UInt8], sealedKey: [UInt8], payloadLength: UInt64, plainLength: UInt64,
        payloadSHA256: Digest32, checkpointCount: UInt64, changeCount: UInt64, redactedCount: UInt64,
        holdingsCount: UInt64, origins: [SiteID: UInt64], tableCounts: [String: UInt64]
    ) {
        self.recipient = recipient
        self.encapsulated = encapsulated
        self.sealedKey = sealedKey
        self.payloadLength = payloadLength
        self.plainLength = plainLength
        self.payloadSHA256 = payloadSHA256
        self.checkpointCount = checkpointCount
        self.changeCount = changeCount
        self.redactedCount = redactedCount
        self.holdingsCount = holdingsCount
        self.origins = origins
        self.tableCounts = tableCounts
    }
}

/// The generations a section's holdings are coded against (format 3.1, header extension 2).
///
/// A sender numbers the holdings it tells each peer (generation 1, 2, …) and keeps, per pupil,
/// what it last told and in which generation. A section lists only the pupils whose holdings
/// changed after the generation the recipient last confirmed holding (`base`); with `base` 0,
/// every pupil, replacing what the recipient had. The recipient applies a section only when it
/// holds `base` or later and the section is newer than what it holds, and says in its own bundles
/// which generation it holds (`confirmed`, from its side). A lost bundle costs nothing (the next
/// one is coded against the same base), an older one applied late is ignored, and a recipient that
/// cannot use a section forgets the sender's holdings (an under-estimate: it sends more, never
/// less) and confirms 0, so the next section is whole.
public struct HoldingsBasis: Hashable, Sendable {
    /// The generation of the sender's holdings the section's entries are coded against; 0: none
    /// (the entries are every pupil).
    public var base: UInt64
    /// This section's generation of the sender's holdings, told to this recipient.
    public var generation: UInt64
    /// The generation of the recipient's own holdings the sender holds (0: none).
    public var confirmed: UInt64

    public init(base: UInt64, generation: UInt64, confirmed: UInt64) {
        self.base = base
        self.generation = generation
        self.confirmed = confirmed
    }

    /// The header extension's tag (even: optional, so a reader of format 3.0 ignores it and
    /// takes the entries as every pupil — fewer than the sender holds, which is safe).
    static let extensionTag: UInt64 = 2
    /// Generations are below 2^48 (a bundle a second for nine million years).
    static let limit: UInt64 = 1 << 48

    static func encode(_ sections: [BundleSection]) -> [UInt8]? {
        let based = sections.compactMap { section in section.holdingsBasis.map { (section.recipient, $0) } }
        guard !based.isEmpty else { return nil }
        var w = BinaryWriter()
        w.writeVarint(based.count)
        for (recipient, basis) in based {
            w.write(contentsOf: recipient.bytes)
            w.writeVarint(basis.base)
            w.writeVarint(basis.generation)
            w.writeVarint(basis.confirmed)
        }
        return w.bytes
    }

    /// Reads the extension into `sections`: each recipient at most once, and listed.
    static func decode(_ bytes: [UInt8], into sections: inout [BundleSection]) throws(DecodingFailure) {
        var r = BinaryReader(bytes)
        var seen: Set<SiteID> = []
        for _ in 0..<(try r.readCount(limit: 4096)) {
            let recipient = SiteID(unchecked: Array(try r.readBytes(16)))
            let basis = HoldingsBasis(
                base: try r.readSequenceNumber(), generation: try r.readSequenceNumber(),
                confirmed: try r.readSequenceNumber())
            guard seen.insert(recipient).inserted, let i = sections.firstIndex(where: { $0.recipient == recipient })
            else { throw DecodingFailure("a holdings basis names a recipient twice or not at all") }
            guard basis.generation > 0, basis.base < basis.generation else {
                throw DecodingFailure("a holdings basis is out of order")
            }
            // Far above any count of bundles, and far below overflow when counted on from.
            guard basis.generation < Self.limit, basis.confirmed < Self.limit else {
                throw DecodingFailure("a holdings generation is out of range")
            }
            sections[i].holdingsBasis = basis
        }
        guard r.isAtEnd else { throw DecodingFailure("unexpected bytes after the holdings bases") }
    }
}

/// Everything about a bundle that can be read without its payload or any key. Holds no personal
/// data: site ids and names, numbers, hashes and counts only.
public struct BundleHeader: Hashable, Sendable {
    /// The format this build writes.
    public static let formatMajor: UInt16 = 3
    /// Minor 1 adds the holdings bases (``HoldingsBasis``); minor 2 the holdings told by the
    /// changes carried (``holdingsFromChanges``).
    public static let formatMinor: UInt16 = 2

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
    /// For each site, how far the sender holds its changes without a gap: every bundle
    /// acknowledges it.
    public var versionVector: VersionVector
    /// One sealed payload per recipient.
    public var sections: [BundleSection]
    /// Whether the changes a section carries tell what the sender holds of their pupils (format
    /// 3.2, header extension 4): a pupil the section has changes about and no holdings entry for
    /// is held as before plus, for each site, its latest change carried. The sender lists every
    /// pupil for whom that would not be exactly what it holds. A reader of 3.1 ignores the
    /// extension and believes the sender holds less than it does (it sends more, never less).
    public var holdingsFromChanges = false
    /// Extension fields this build does not interpret, kept as they were.
    public var extensions: [UInt64: [UInt8]] = [:]

    /// The tag of ``holdingsFromChanges`` (even: optional), whose value is empty.
    static let holdingsFromChangesTag: UInt64 = 4

    /// Every recipient.
    public var recipients: [SiteID] { sections.map(\.recipient) }
    /// Changes carried with content, across sections.
    public var changeCount: UInt64 { sections.reduce(0) { $0 + $1.changeCount } }
    /// Bytes of payload across sections (checked for overflow when decoded).
    public var payloadLength: UInt64 { sections.reduce(0) { $0 &+ $1.payloadLength } }

    /// Where section `i`'s payload starts, counted from the first payload byte.
    func offset(ofSection i: Int) -> UInt64 { sections[0..<i].reduce(0) { $0 &+ $1.payloadLength } }

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
        versionVector.encode(into: &w)
        w.writeVarint(sections.count)
        for section in sections {
            w.write(contentsOf: section.recipient.bytes)
            w.write(contentsOf: section.encapsulated)
            w.write(contentsOf: section.sealedKey)
            w.write(section.payloadLength)
            w.write(section.plainLength)
            w.write(contentsOf: section.payloadSHA256.bytes)
            w.writeVarint(section.checkpointCount)
            w.writeVarint(section.changeCount)
            w.writeVarint(section.redactedCount)
            w.writeVarint(section.holdingsCount)
            let origins = section.origins.sorted { $0.key < $1.key }
            w.writeVarint(origins.count)
            for (site, count) in origins {
                w.write(contentsOf: site.bytes)
                w.writeVarint(count)
            }
            let tables = section.tableCounts.sorted { $0.key < $1.key }
            w.writeVarint(tables.count)
            for (table, count) in tables {
                w.writeString(table)
                w.writeVarint(count)
            }
        }
        var extensions = self.extensions
        if let bases = HoldingsBasis.encode(sections) { extensions[HoldingsBasis.extensionTag] = bases }
        if holdingsFromChanges { extensions[Self.holdingsFromChangesTag] = [] }
        let ext = extensions.sorted { $0.key < $1.key }
        w.writeVarint(ext.count)
        for (tag, bytes) in ext {
            w.writeVarint(tag)
            w.writeBytesWithLength(bytes)
        }
        return w.bytes
    }

    /// Decodes a header, checking every count and length against limits and the file, so no
    /// value read from a file can overflow later arithmetic.
    package static func decode(_ bytes: [UInt8], formatMajor: UInt16, formatMinor: UInt16) throws(DecodingFailure)
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
        guard directoryVersion <= BinaryReader.maxSequence else {
            throw DecodingFailure("the directory version is out of range")
        }
        let directory = try r.readBytesWithLength(limit: 16 << 20)
        let vv = try VersionVector.decode(from: &r)
        var sections: [BundleSection] = []
        var seenRecipients: Set<SiteID> = []
        for _ in 0..<(try r.readCount(limit: 4096)) {
            let recipient = SiteID(unchecked: Array(try r.readBytes(16)))
            guard seenRecipients.insert(recipient).inserted else {
                throw DecodingFailure("a recipient is listed twice")
            }
            let encapsulated = Array(try r.readBytes(32))
            let sealedKey = Array(try r.readBytes(48))
            let payloadLength = try r.readUInt64()
            let plainLength = try r.readUInt64()
            // Bounds that keep every sum of lengths far from overflow; the real payload lengths are
            // then checked against the file.
            guard payloadLength <= 1 << 50, plainLength <= 1 << 50 else {
                throw DecodingFailure("a payload length is out of range")
            }
            let sha = Digest32(unchecked: Array(try r.readBytes(32)))
            let checkpoints = try r.readVarint()
            let changes = try r.readVarint()
            let redacted = try r.readVarint()
            let holdings = try r.readVarint()
            guard checkpoints <= 1 << 40, changes <= 1 << 40, redacted <= 1 << 40, holdings <= 1 << 40 else {
                throw DecodingFailure("a count is out of range")
            }
            var origins: [SiteID: UInt64] = [:]
            for _ in 0..<(try r.readCount(limit: 1 << 20)) {
                let site = SiteID(unchecked: Array(try r.readBytes(16)))
                guard origins[site] == nil else { throw DecodingFailure("an origin is listed twice") }
                origins[site] = try r.readVarint()
            }
            var tableCounts: [String: UInt64] = [:]
            for _ in 0..<(try r.readCount(limit: 4096)) {
                let table = try r.readString(limit: 256)
                tableCounts[table] = try r.readVarint()
            }
            sections.append(
                BundleSection(
                    recipient: recipient, encapsulated: encapsulated, sealedKey: sealedKey,
                    payloadLength: payloadLength, plainLength: plainLength, payloadSHA256: sha,
                    checkpointCount: checkpoints, changeCount: changes, redactedCount: redacted,
                    holdingsCount: holdings, origins: origins, tableCounts: tableCounts))
        }
        var extensions: [UInt64: [UInt8]] = [:]
        for _ in 0..<(try r.readCount(limit: 1024)) {
            let tag = try r.readVarint()
            let value = try r.readBytesWithLength()
            if tag & 1 == 1 { throw DecodingFailure("critical extension \(tag) is not understood") }
            guard extensions[tag] == nil else { throw DecodingFailure("extension \(tag) is given twice") }
            extensions[tag] = value
        }
        guard r.isAtEnd else { throw DecodingFailure("unexpected bytes after the header") }
        if let bases = extensions.removeValue(forKey: HoldingsBasis.extensionTag) {
            try HoldingsBasis.decode(bases, into: &sections)
        }
        var fromChanges = false
        if let flag = extensions.removeValue(forKey: Self.holdingsFromChangesTag) {
            guard flag.isEmpty else { throw DecodingFailure("the holdings-from-changes extension is not empty") }
            fromChanges = true
        }
        var header = BundleHeader(
            formatMajor: formatMajor, formatMinor: formatMinor, schemaVersion: schemaVersion, bundleID: bundleID,
            createdAt: createdAt, sender: sender, directoryVersion: directoryVersion, directory: directory,
            versionVector: vv, sections: sections, extensions: extensions)
        header.holdingsFromChanges = fromChanges
        return header
    }
}
