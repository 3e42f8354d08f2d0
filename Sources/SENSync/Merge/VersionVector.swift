import Foundation

/// One change's position: the site that made it and that site's sequence number (from 1).
public struct Dot: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var site: SiteID
    public var seq: UInt64

    public init(site: SiteID, seq: UInt64) {
        self.site = site
        self.seq = seq
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.site, lhs.seq) < (rhs.site, rhs.seq)
    }

    public var description: String { "\(site.short):\(seq)" }
}

extension BinaryReader {
    /// The largest sequence number (or version) a file may hold: the store keeps them as SQLite
    /// integers.
    package static let maxSequence = UInt64(Int64.max)

    /// A varint that is a sequence number or version: at most ``maxSequence``.
    package mutating func readSequenceNumber() throws(DecodingFailure) -> UInt64 {
        let value = try readVarint()
        guard value <= Self.maxSequence else { throw DecodingFailure("a sequence number is out of range") }
        return value
    }
}

/// For each site, the highest sequence number known: a version vector.
///
/// Used three ways: a store's knowledge of every site's chain; a peer's acknowledgement; and, per
/// pupil, the causal context a change was written in (its dependencies).
public struct VersionVector: Hashable, Sendable, Sequence {
    private var storage: [SiteID: UInt64]

    public init() { storage = [:] }

    public init(_ entries: [SiteID: UInt64]) {
        storage = entries.filter { $0.value > 0 }
    }

    /// The sequence number for `site`; 0 when nothing is known.
    public subscript(site: SiteID) -> UInt64 {
        get { storage[site] ?? 0 }
        set { storage[site] = newValue == 0 ? nil : newValue }
    }

    /// Whether the change at `dot` is covered.
    public func includes(_ dot: Dot) -> Bool { self[dot.site] >= dot.seq }

    /// Raises each entry to the other vector's value where it is higher.
    public mutating func formUnion(_ other: VersionVector) {
        for (site, seq) in other.storage where seq > self[site] { storage[site] = seq }
    }

    /// Raises the entry for `dot.site` to `dot.seq` if it is lower.
    public mutating func advance(to dot: Dot) {
        if dot.seq > self[dot.site] { storage[dot.site] = dot.seq }
    }

    public var isEmpty: Bool { storage.isEmpty }
    public var count: Int { storage.count }

    /// Entries sorted by site id: the canonical order for encoding and display.
    public var entries: [(site: SiteID, seq: UInt64)] {
        storage.sorted { $0.key < $1.key }.map { (site: $0.key, seq: $0.value) }
    }

    public func makeIterator() -> some IteratorProtocol<(key: SiteID, value: UInt64)> {
        storage.makeIterator()
    }

    /// The total number of changes covered.
    public var total: UInt64 { storage.values.reduce(0, +) }

    /// Whether every entry of `other` is covered by this vector.
    public func dominates(_ other: VersionVector) -> Bool { other.allSatisfy { self[$0.key] >= $0.value } }

    /// `varint(count)` then each entry as `site ‖ varint(seq)`, in site order.
    func encode(into w: inout BinaryWriter) {
        let entries = self.entries
        w.writeVarint(entries.count)
        for entry in entries {
            w.write(contentsOf: entry.site.bytes)
            w.writeVarint(entry.seq)
        }
    }

    static func decode(from r: inout BinaryReader) throws(DecodingFailure) -> VersionVector {
        var vv = VersionVector()
        var previous: SiteID?
        for _ in 0..<(try r.readCount(limit: 1 << 20)) {
            let site = SiteID(unchecked: Array(try r.readBytes(16)))
            if let previous, !(previous < site) { throw DecodingFailure("a version vector is not in site order") }
            previous = site
            vv[site] = try r.readSequenceNumber()
        }
        return vv
    }
}
