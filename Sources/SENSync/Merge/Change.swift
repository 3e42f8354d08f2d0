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
    /// The record's table, e.g. `pupil` or `note`.
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

/// One local transaction: made by one author at one site, about one pupil.
///
/// A change is immutable once made. It names its site and sequence number, its HLC, its author,
/// the pupil it is about (its *scope*), the pupil-scoped causal context it was written in
/// (``deps``), and the cell writes it made. Changes are content-hashed and chained per site; see
/// ``EncodedChange``.
public struct Change: Hashable, Sendable {
    public var site: SiteID
    public var seq: UInt64
    public var hlc: HLC
    /// Who made the change (a person's role or name as the site records it).
    public var author: String
    /// The pupil every record in this change belongs to.
    public var scope: RecordID
    /// For each site, the latest change about ``scope`` the author had applied when writing,
    /// including the author's own site. Everything it covers is in this change's causal past.
    public var deps: VersionVector
    public var ops: [RecordOp]

    public init(
        site: SiteID, seq: UInt64, hlc: HLC, author: String, scope: RecordID, deps: VersionVector,
        ops: [RecordOp]
    ) {
        self.site = site
        self.seq = seq
        self.hlc = hlc
        self.author = author
        self.scope = scope
        self.deps = deps
        self.ops = ops
    }

    public var dot: Dot { Dot(site: site, seq: seq) }

    /// Whether the write at `dot` was in this change's causal past when it was made.
    public func hasSeen(_ other: Dot) -> Bool {
        other.site == site ? other.seq < seq : deps.includes(other)
    }

    /// The body version this build writes and reads.
    static let bodyVersion: UInt8 = 1

    /// The canonical body bytes: what is hashed, stored and shipped. Site and sequence number are
    /// not in the body; they are bound by the chain hash.
    public func encodedBody() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 96 + ops.count * 64)
        w.write(Self.bodyVersion)
        w.write(hlc.rawValue)
        w.writeString(author)
        w.write(contentsOf: scope.bytes)
        let deps = self.deps.entries
        w.writeVarint(deps.count)
        for entry in deps {
            w.write(contentsOf: entry.site.bytes)
            w.writeVarint(entry.seq)
        }
        w.writeVarint(ops.count)
        for op in ops {
            w.writeString(op.table)
            w.write(contentsOf: op.id.bytes)
            w.writeVarint(op.writes.count)
            for write in op.writes {
                w.writeString(write.field)
                write.value.encode(into: &w)
            }
        }
        return w.bytes
    }

    /// Decodes a body written by ``encodedBody()``.
    public static func decode(site: SiteID, seq: UInt64, body: [UInt8]) throws(DecodingFailure) -> Change {
        var r = BinaryReader(body)
        let version = try r.readUInt8()
        guard version == bodyVersion else {
            throw DecodingFailure("change body version \(version) is not supported (this build reads \(bodyVersion))")
        }
        let hlc = HLC(rawValue: try r.readUInt64())
        let author = try r.readString(limit: 4096)
        let scope = RecordID(unchecked: Array(try r.readBytes(16)))
        let depCount = try r.readCount(limit: 1 << 16)
        var deps = VersionVector()
        var previous: SiteID?
        for _ in 0..<depCount {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            if let previous, !(previous < site) { throw DecodingFailure("dependencies are not in canonical order") }
            previous = site
            let seq = try r.readVarint()
            guard seq > 0 else { throw DecodingFailure("dependency with sequence 0") }
            deps[site] = seq
        }
        let opCount = try r.readCount(limit: 1 << 20)
        var ops: [RecordOp] = []
        ops.reserveCapacity(opCount)
        for _ in 0..<opCount {
            let table = try r.readString(limit: 256)
            let id = RecordID(unchecked: Array(try r.readBytes(16)))
            let writeCount = try r.readCount(limit: 1 << 16)
            var writes: [FieldWrite] = []
            writes.reserveCapacity(writeCount)
            for _ in 0..<writeCount {
                let field = try r.readString(limit: 256)
                writes.append(FieldWrite(field, try Value.decode(from: &r)))
            }
            ops.append(RecordOp(table: table, id: id, writes: writes))
        }
        guard r.isAtEnd else { throw DecodingFailure("\(r.remaining) unexpected bytes after the change body") }
        return Change(site: site, seq: seq, hlc: hlc, author: author, scope: scope, deps: deps, ops: ops)
    }
}

/// A change as stored and shipped: its body bytes and its place in its site's hash chain.
public struct EncodedChange: Hashable, Sendable {
    public var site: SiteID
    public var seq: UInt64
    /// The canonical body (see ``Change/encodedBody()``).
    public var body: [UInt8]

    public init(site: SiteID, seq: UInt64, body: [UInt8]) {
        self.site = site
        self.seq = seq
        self.body = body
    }

    public init(_ change: Change) {
        self.init(site: change.site, seq: change.seq, body: change.encodedBody())
    }

    public var dot: Dot { Dot(site: site, seq: seq) }

    /// Decodes the body.
    public func decoded() throws(DecodingFailure) -> Change {
        guard !isRedacted else { throw DecodingFailure("the change's content was erased") }
        return try Change.decode(site: site, seq: seq, body: body)
    }

    /// This change's chain hash given the hash of the site's previous change.
    public func chainHash(previous: Digest32) -> Digest32 {
        ChainHash.link(site: site, seq: seq, previous: previous, bodyHash: bodyHash)
    }

    // MARK: Redaction

    /// Stored-only marker that replaces a body whose content was erased or forgotten. Body
    /// versions on the wire start at 1, so `0xFF` never collides with a real body.
    static let redactionMarker: UInt8 = 0xFF

    /// Whether the content was removed, keeping only what the chain and causality need.
    public var isRedacted: Bool { body.first == Self.redactionMarker && body.count == 1 + 32 + 16 + 8 }

    /// SHA-256 of the original body (kept inside a redacted body).
    public var bodyHash: Digest32 {
        isRedacted ? Digest32(unchecked: Array(body[1..<33])) : .sha256(body)
    }

    /// The pupil a redacted change was about.
    var redactedScope: RecordID? { isRedacted ? RecordID(unchecked: Array(body[33..<49])) : nil }

    /// The same change with its content removed: `0xFF ‖ SHA-256(body) ‖ scope ‖ hlc`.
    func redacted(scope: RecordID, hlc: HLC) -> EncodedChange {
        guard !isRedacted else { return self }
        var w = BinaryWriter(reservingCapacity: 57)
        w.write(Self.redactionMarker)
        w.write(contentsOf: bodyHash.bytes)
        w.write(contentsOf: scope.bytes)
        w.write(hlc.rawValue)
        return EncodedChange(site: site, seq: seq, body: w.bytes)
    }
}

/// The per-site hash chain: `SHA-256("SENSync change v1\0" ‖ site ‖ seq ‖ previous ‖ SHA-256(body))`.
///
/// Binding the body by its own hash lets a later erasure drop a body while the chain still
/// verifies.
public enum ChainHash {
    private static let tag = Array("SENSync change v1\u{0}".utf8)

    public static func link(site: SiteID, seq: UInt64, previous: Digest32, bodyHash: Digest32) -> Digest32 {
        var w = BinaryWriter(reservingCapacity: 128)
        w.write(contentsOf: tag)
        w.write(contentsOf: site.bytes)
        w.write(seq)
        w.write(contentsOf: previous.bytes)
        w.write(contentsOf: bodyHash.bytes)
        return .sha256(w.bytes)
    }
}

/// The last change a store holds from one site.
public struct ChainHead: Hashable, Sendable {
    public var seq: UInt64
    public var hash: Digest32
    public init(seq: UInt64, hash: Digest32) {
        self.seq = seq
        self.hash = hash
    }
    public static let empty = ChainHead(seq: 0, hash: .zero)
}

extension Change {
    /// A change that writes only erasure records. It holds no personal data and is kept, with
    /// content, everywhere it reaches.
    package var isErasure: Bool { !ops.isEmpty && ops.allSatisfy { $0.table == RecordSchema.erasure.name } }

    /// Whether the change writes its own pupil's erasure record: merging it purges the pupil.
    package var erasesItsPupil: Bool { ops.contains { $0.table == RecordSchema.erasure.name && $0.id == scope } }
}
