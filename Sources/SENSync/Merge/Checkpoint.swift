import Foundation

/// A site's Ed25519 signature over a run of its own changes: the origin signature every change
/// is checked against, wherever it travels.
///
/// The site signs `(site, first, last, root, previous)`, where `root` is the ``Merkle`` root of
/// the run's leaves (``EncodedChange/leaf``) and `previous` the digest of the site's checkpoint
/// before this one. A site signs its unsigned changes when it first makes a bundle, in runs of at
/// most ``maxLeaves``: one signature per run keeps bundles small and verification cheap, and the
/// short audit paths let any store relay one change of the run on its own. Relays pass
/// checkpoints on unchanged; nobody but the origin can make one.
public struct Checkpoint: Hashable, Sendable {
    /// The most changes one checkpoint covers (audit paths of at most 8 hashes).
    public static let maxLeaves = 256
    private static let tag = Array("SENSync checkpoint v2\u{0}".utf8)

    public var site: SiteID
    /// The first change covered.
    public var first: UInt64
    /// The last change covered.
    public var last: UInt64
    public var root: Digest32
    /// The digest of the site's previous checkpoint; zero for its first.
    public var previous: Digest32
    public var signature: [UInt8]

    public init(site: SiteID, first: UInt64, last: UInt64, root: Digest32, previous: Digest32, signature: [UInt8]) {
        self.site = site
        self.first = first
        self.last = last
        self.root = root
        self.previous = previous
        self.signature = signature
    }

    /// How many changes it covers.
    public var count: Int { Int(last - first + 1) }

    /// Whether it covers change `seq`.
    public func covers(_ seq: UInt64) -> Bool { first <= seq && seq <= last }

    /// What the signature covers.
    func signedBytes() -> [UInt8] {
        var w = BinaryWriter(reservingCapacity: 128)
        w.write(contentsOf: Self.tag)
        w.write(contentsOf: site.bytes)
        w.write(first)
        w.write(last)
        w.write(contentsOf: root.bytes)
        w.write(contentsOf: previous.bytes)
        return w.bytes
    }

    /// Identifies the checkpoint: the next one names it as `previous`.
    public var digest: Digest32 { .sha256(signedBytes()) }

    /// Signs a run of a site's own changes.
    static func make(site: SiteID, first: UInt64, leaves: [Digest32], previous: Digest32, keys: SiteKeys) throws
        -> Checkpoint
    {
        precondition(!leaves.isEmpty && leaves.count <= maxLeaves, "a checkpoint covers 1...\(maxLeaves) changes")
        return try Checkpoint(
            site: site, first: first, last: first + UInt64(leaves.count) - 1, root: Merkle.root(leaves),
            previous: previous, signature: []
        ).signed(with: keys)
    }

    /// This checkpoint signed with `keys` (the site's own).
    public func signed(with keys: SiteKeys) throws -> Checkpoint {
        var copy = self
        copy.signature = try keys.sign(signedBytes())
        return copy
    }

    /// Whether the signature is `keys`' signature of this checkpoint.
    public func isSigned(by keys: PublicKeys) -> Bool {
        signature.count == 64 && keys.isValidSignature(signature, for: signedBytes())
    }

    /// Whether `leaf` at `seq` belongs to this checkpoint, by its audit path.
    func proves(_ leaf: Digest32, at seq: UInt64, path: [Digest32]) -> Bool {
        guard covers(seq) else { return false }
        return Merkle.root(leaf: leaf, index: Int(seq - first), count: count, path: path) == root
    }

    func encode(into w: inout BinaryWriter) {
        w.write(contentsOf: site.bytes)
        w.writeVarint(first)
        w.writeVarint(UInt64(count))
        w.write(contentsOf: root.bytes)
        w.write(contentsOf: previous.bytes)
        w.write(contentsOf: signature)
    }

    static func decode(from r: inout BinaryReader) throws(DecodingFailure) -> Checkpoint {
        let site = SiteID(unchecked: Array(try r.readBytes(16)))
        let first = try r.readVarint()
        let count = try r.readVarint()
        guard first >= 1, count >= 1, count <= UInt64(maxLeaves), first <= BinaryReader.maxSequence - count + 1 else {
            throw DecodingFailure("a checkpoint's range is invalid")
        }
        let root = Digest32(unchecked: Array(try r.readBytes(32)))
        let previous = Digest32(unchecked: Array(try r.readBytes(32)))
        let signature = Array(try r.readBytes(64))
        return Checkpoint(
            site: site, first: first, last: first + count - 1, root: root, previous: previous, signature: signature)
    }
}
