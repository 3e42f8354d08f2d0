import Foundation

/// One field written by a change.
public struct FieldWrite: Hashable, Sendable {
    public var field: String
    public var value: Value

    public init(_ field: String, _ value: Value) {
        self.field = field
        self.value = value
    }
}

/// The writes a change makes to one record.
public struct RecordOp: Hashable, Sendable {
    /// The record's table, e.g. `pupil` or `note` (`#n` for a table this build does not know).
    public var table: String
    /// The record's id.
    public var id: RecordID
    public var writes: [FieldWrite]

    public init(table: String, id: RecordID, writes: [FieldWrite]) {
        self.table = table
        self.id = id
        self.writes = writes
    }
}

/// A change that cannot be put on the wire: it names a table or field this build has no number for.
public struct ChangeEncodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// One local transaction: made by one author at one site, about one pupil.
///
/// A change is immutable once made. It names its site and sequence number, its HLC, its author,
/// the pupil it is about (its *scope*), the pupil-scoped causal context it was written in
/// (``deps``), the directory version its site held, and the cell writes it made. It travels as
/// an ``EncodedChange``: a header that is kept for ever, and content that erasure can remove.
public struct Change: Hashable, Sendable {
    public var site: SiteID
    public var seq: UInt64
    public var hlc: HLC
    /// Who made the change (a person's role or name as the site records it).
    public var author: String
    /// The pupil every record in this change belongs to.
    public var scope: RecordID
    /// For each site, the latest change about ``scope`` the author had applied when writing,
    /// including the author's own site's previous change about it. Everything it covers is in
    /// this change's causal past.
    public var deps: VersionVector
    /// The version of the LA's area directory the writing site held: who belonged to which trust
    /// is judged at this version, so the judgement is the same at every store.
    public var directoryVersion: UInt64
    public var ops: [RecordOp]

    public init(
        site: SiteID, seq: UInt64, hlc: HLC, author: String, scope: RecordID, deps: VersionVector,
        directoryVersion: UInt64 = 0, ops: [RecordOp]
    ) {
        self.site = site
        self.seq = seq
        self.hlc = hlc
        self.author = author
        self.scope = scope
        self.deps = deps
        self.directoryVersion = directoryVersion
        self.ops = ops
    }

    public var dot: Dot { Dot(site: site, seq: seq) }

    /// Whether the write at `dot` was in this change's causal past when it was made.
    public func hasSeen(_ other: Dot) -> Bool {
        other.site == site ? other.seq < seq : deps.includes(other)
    }

    /// The schools this change enrols its pupil at: every `enrolment.school_id` it writes.
    public var enrolledSchools: [SiteID] {
        var schools: Set<SiteID> = []
        for op in ops where op.table == RecordSchema.enrolment.name {
            for write in op.writes where write.field == "school_id" {
                if let school = write.value.text.flatMap(SiteID.init) { schools.insert(school) }
            }
        }
        return schools.sorted()
    }

    /// The header: what is kept of the change when its content is erased.
    public var header: ChangeHeader {
        ChangeHeader(
            hlc: hlc, scope: scope, directoryVersion: directoryVersion, deps: deps, schools: enrolledSchools)
    }

    /// The canonical content bytes: author and writes, tables and fields by number.
    func encodedContent() throws(ChangeEncodingError) -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 64 + ops.count * 64)
        w.writeString(author)
        w.writeVarint(ops.count)
        for op in ops {
            guard let table = RecordSchema.number(ofTable: op.table), table > 0 else {
                throw ChangeEncodingError(description: "table \(op.table) has no number in this schema")
            }
            w.writeVarint(table)
            w.write(contentsOf: op.id.bytes)
            w.writeVarint(op.writes.count)
            for write in op.writes {
                guard let field = RecordSchema.number(ofField: write.field, inTable: op.table) else {
                    throw ChangeEncodingError(description: "field \(op.table).\(write.field) has no number")
                }
                w.writeVarint(field)
                write.value.encode(into: &w)
            }
        }
        return w.bytes
    }

    /// The change as stored and shipped.
    public func encoded() throws(ChangeEncodingError) -> EncodedChange {
        EncodedChange(site: site, seq: seq, header: header.encoded(), content: try encodedContent())
    }

    /// Decodes a change from its header and content.
    static func decode(site: SiteID, seq: UInt64, header: ChangeHeader, content: [UInt8]) throws(DecodingFailure)
        -> Change
    {
        var r = BinaryReader(content)
        let author = try r.readString(limit: 4096)
        let opCount = try r.readCount(limit: 1 << 20)
        var ops: [RecordOp] = []
        ops.reserveCapacity(min(opCount, 1024))
        for _ in 0..<opCount {
            let table = RecordSchema.tableName(try r.readVarint())
            let id = RecordID(unchecked: Array(try r.readBytes(16)))
            let writeCount = try r.readCount(limit: 1 << 16)
            var writes: [FieldWrite] = []
            writes.reserveCapacity(min(writeCount, 256))
            for _ in 0..<writeCount {
                let field = RecordSchema.fieldName(try r.readVarint(), inTable: table)
                writes.append(FieldWrite(field, try Value.decode(from: &r)))
            }
            ops.append(RecordOp(table: table, id: id, writes: writes))
        }
        guard r.isAtEnd else { throw DecodingFailure("\(r.remaining) unexpected bytes after the change content") }
        let change = Change(
            site: site, seq: seq, hlc: header.hlc, author: author, scope: header.scope, deps: header.deps,
            directoryVersion: header.directoryVersion, ops: ops)
        guard change.enrolledSchools == header.schools else {
            throw DecodingFailure("the change's header does not match its content")
        }
        return change
    }
}

/// What is kept of a change for ever, even once its content is erased: when it was made, which
/// pupil it is about, its causal context, the directory version its site held, and the schools it
/// enrols the pupil at. Holds no personal data — ids, numbers and clocks only.
public struct ChangeHeader: Hashable, Sendable {
    /// The header format this build writes and reads.
    static let version: UInt8 = 2

    public var hlc: HLC
    public var scope: RecordID
    public var directoryVersion: UInt64
    public var deps: VersionVector
    /// Sorted school ids written to `enrolment.school_id` (routing and entitlement need them
    /// after erasure).
    public var schools: [SiteID]

    public func encoded() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 48 + deps.count * 20 + schools.count * 16)
        w.write(Self.version)
        w.write(hlc.rawValue)
        w.write(contentsOf: scope.bytes)
        w.writeVarint(directoryVersion)
        let entries = deps.entries
        w.writeVarint(entries.count)
        for entry in entries {
            w.write(contentsOf: entry.site.bytes)
            w.writeVarint(entry.seq)
        }
        w.writeVarint(schools.count)
        for school in schools { w.write(contentsOf: school.bytes) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> ChangeHeader {
        var r = BinaryReader(bytes)
        let version = try r.readUInt8()
        guard version == Self.version else {
            throw DecodingFailure(
                "change header version \(version) is not supported (this build reads \(Self.version))")
        }
        let hlc = HLC(rawValue: try r.readUInt64())
        let scope = RecordID(unchecked: Array(try r.readBytes(16)))
        let directoryVersion = try r.readSequenceNumber()
        var deps = VersionVector()
        var previous: SiteID?
        for _ in 0..<(try r.readCount(limit: 1 << 16)) {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            if let previous, !(previous < site) { throw DecodingFailure("dependencies are not in canonical order") }
            previous = site
            let seq = try r.readSequenceNumber()
            guard seq > 0 else { throw DecodingFailure("dependency with sequence 0") }
            deps[site] = seq
        }
        var schools: [SiteID] = []
        for _ in 0..<(try r.readCount(limit: 1 << 10)) {
            let school = SiteID(unchecked: Array(try r.readBytes(16)))
            if let last = schools.last, !(last < school) { throw DecodingFailure("schools are not in canonical order") }
            schools.append(school)
        }
        guard r.isAtEnd else { throw DecodingFailure("\(r.remaining) unexpected bytes after the change header") }
        return ChangeHeader(hlc: hlc, scope: scope, directoryVersion: directoryVersion, deps: deps, schools: schools)
    }
}

/// A change as stored and shipped: its header bytes, and its content bytes or, once erased, only
/// their hash.
///
/// Its ``leaf`` binds site, sequence number, header and content hash; the origin's
/// ``Checkpoint`` signs the Merkle root of its leaves, so a change whose content was removed
/// still proves its place.
public struct EncodedChange: Hashable, Sendable {
    public var site: SiteID
    public var seq: UInt64
    /// The canonical header (see ``ChangeHeader``).
    public var header: [UInt8]
    /// The canonical content, or `nil` once it was erased or forgotten.
    public var content: [UInt8]?
    /// SHA-256 of the content (kept when the content is removed).
    public var contentHash: Digest32

    public init(site: SiteID, seq: UInt64, header: [UInt8], content: [UInt8]) {
        self.site = site
        self.seq = seq
        self.header = header
        self.content = content
        self.contentHash = .sha256(content)
    }

    public init(site: SiteID, seq: UInt64, header: [UInt8], redactedContentHash: Digest32) {
        self.site = site
        self.seq = seq
        self.header = header
        self.content = nil
        self.contentHash = redactedContentHash
    }

    /// The encoded form of `change`.
    public init(_ change: Change) throws(ChangeEncodingError) { self = try change.encoded() }

    public var dot: Dot { Dot(site: site, seq: seq) }

    /// Whether the content was removed, keeping only what proofs and causality need.
    public var isRedacted: Bool { content == nil }

    private static let leafTag = Array("SENSync leaf v2\u{0}".utf8)

    /// `SHA-256("SENSync leaf v2\0" ‖ site ‖ seq ‖ SHA-256(header) ‖ SHA-256(content))`: what the
    /// origin's checkpoint signs, the same whether or not the content is still here.
    public var leaf: Digest32 {
        var w = BinaryWriter(reservingCapacity: 104)
        w.write(contentsOf: Self.leafTag)
        w.write(contentsOf: site.bytes)
        w.write(seq)
        w.write(contentsOf: Digest32.sha256(header).bytes)
        w.write(contentsOf: contentHash.bytes)
        return .sha256(w.bytes)
    }

    public func decodedHeader() throws(DecodingFailure) -> ChangeHeader { try ChangeHeader.decode(header) }

    /// Decodes header and content.
    public func decoded() throws(DecodingFailure) -> Change {
        guard let content else { throw DecodingFailure("the change's content was erased") }
        return try Change.decode(site: site, seq: seq, header: try decodedHeader(), content: content)
    }

    /// The same change with its content removed.
    public func redacted() -> EncodedChange {
        EncodedChange(site: site, seq: seq, header: header, redactedContentHash: contentHash)
    }

    // MARK: Storage form

    /// `varint(header length) ‖ header ‖ 0 ‖ varint(content length) ‖ content`, or
    /// `… ‖ 1 ‖ content hash` when redacted: how changes sit in the store's log.
    package func write(into w: inout BinaryWriter) {
        w.writeBytesWithLength(header)
        writeContent(into: &w)
    }

    /// `0 ‖ varint(content length) ‖ content`, or `1 ‖ content hash` when redacted: what follows
    /// the header, in the store's log and in payloads (which code the header themselves).
    package func writeContent(into w: inout BinaryWriter) {
        if let content {
            w.write(UInt8(0))
            w.writeBytesWithLength(content)
        } else {
            w.write(UInt8(1))
            w.write(contentsOf: contentHash.bytes)
        }
    }

    package static func read(site: SiteID, seq: UInt64, from r: inout BinaryReader) throws(DecodingFailure)
        -> EncodedChange
    {
        let header = try r.readBytesWithLength(limit: 1 << 20)
        return try readContent(site: site, seq: seq, header: header, from: &r)
    }

    /// The change of `site` at `seq` with `header`, its content (or content hash) read as
    /// ``writeContent(into:)`` wrote it.
    package static func readContent(site: SiteID, seq: UInt64, header: [UInt8], from r: inout BinaryReader)
        throws(DecodingFailure) -> EncodedChange
    {
        switch try r.readUInt8() {
        case 0:
            return EncodedChange(
                site: site, seq: seq, header: header, content: try r.readBytesWithLength(limit: 64 << 20))
        case 1:
            return EncodedChange(
                site: site, seq: seq, header: header,
                redactedContentHash: Digest32(unchecked: Array(try r.readBytes(32))))
        case let kind: throw DecodingFailure("unknown change form \(kind)")
        }
    }
}

extension EncodedChange {
    /// Whether the content writes a record of `table`: read as far as the tables, without making
    /// any value (the apply's first pass: 198 -> 60 samples), so a caller decodes only the
    /// changes it needs.
    /// A content that does not read as far is `false`; redacted content too.
    package func contentWrites(table: String) -> Bool {
        guard let content, let number = RecordSchema.number(ofTable: table) else { return false }
        var r = BinaryReader(content)
        do {
            _ = try r.readBytes(try r.readCount(limit: 4096))
            for _ in 0..<(try r.readCount(limit: 1 << 20)) {
                if try r.readVarint() == number { return true }
                _ = try r.readBytes(16)
                for _ in 0..<(try r.readCount(limit: 1 << 16)) {
                    _ = try r.readVarint()
                    try Value.skip(from: &r)
                }
            }
        } catch {
            return false
        }
        return false
    }
}

extension Change {
    /// A change that writes only erasure records. It holds no personal data and is kept, with
    /// content, everywhere it reaches.
    package var isErasure: Bool { !ops.isEmpty && ops.allSatisfy { $0.table == RecordSchema.erasure.name } }

    /// Whether the change writes an erasure record of its pupil: merging it purges the pupil.
    package var erasesItsPupil: Bool { ops.contains { $0.table == RecordSchema.erasure.name } }
}
