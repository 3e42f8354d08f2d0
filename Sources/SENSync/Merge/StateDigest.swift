import Foundation

/// Builds the digest of a replica's replicated state: every record's field heads (values,
/// writers, clocks) including tombstones and open conflicts, and nothing local (no sequence of
/// imports, no peer bookkeeping).
///
/// Two replicas that hold the same changes produce the same digest. Records must be added in
/// ``RecordKey`` order.
public struct StateDigester {
    private var hasher = StreamingSHA256()
    private var last: RecordKey?
    public private(set) var recordCount = 0

    public init() {
        hasher.update(Array("SENSync state v1\u{0}".utf8))
    }

    /// Adds one record. Records with no fields are skipped.
    public mutating func add(_ state: RecordState, for key: RecordKey) {
        precondition(last.map { $0 < key } ?? true, "records must be added in key order")
        last = key
        guard !state.isEmpty else { return }
        recordCount += 1
        var w = BinaryWriter(reservingCapacity: 256)
        w.writeString(key.table)
        w.write(contentsOf: key.scope.bytes)
        w.write(contentsOf: key.id.bytes)
        let fields = state.fields.sorted { $0.key < $1.key }
        w.writeVarint(fields.count)
        for (name, field) in fields {
            w.writeString(name)
            w.writeVarint(field.heads.count)
            for head in field.heads {
                w.write(contentsOf: head.dot.site.bytes)
                w.writeVarint(head.dot.seq)
                w.write(head.hlc.rawValue)
                head.value.encode(into: &w)
                if let deps = head.deps {
                    w.write(UInt8(1))
                    w.writeVarint(deps.count)
                    for entry in deps.entries {
                        w.write(contentsOf: entry.site.bytes)
                        w.writeVarint(entry.seq)
                    }
                } else {
                    w.write(UInt8(0))
                }
            }
        }
        hasher.update(w.bytes)
    }

    public func finalize() -> Digest32 { hasher.finalize() }
}
