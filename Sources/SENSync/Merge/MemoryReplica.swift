import Foundation

/// A replica held entirely in memory, running the same ``ChangeApplier`` rules as the store.
///
/// It exists so the merge laws can be property-tested quickly and without SQLite, and so the
/// store's behaviour can be checked against a reference.
public struct MemoryReplica: Sendable {
    public let site: SiteID
    public private(set) var clock = HybridClock()
    public var clockGuardMilliseconds: UInt64 = 24 * 3_600_000
    private var log: [Dot: (change: EncodedChange, hlc: HLC)] = [:]
    private var heads: [SiteID: UInt64] = [:]
    private var scopeClocks: [RecordID: VersionVector] = [:]
    public private(set) var records: [RecordKey: RecordState] = [:]
    public private(set) var rejected: [Dot: String] = [:]

    public init(site: SiteID) { self.site = site }

    /// For each site, how far this replica holds its changes without a gap.
    public var versionVector: VersionVector { VersionVector(heads) }

    /// Makes a local change (one transaction) and applies it.
    @discardableResult
    public mutating func write(author: String, scope: RecordID, ops: [RecordOp], now: UInt64) throws -> Change {
        let hlc = clock.tick(now: now)
        let deps = scopeClocks[scope] ?? VersionVector()
        let change = Change(
            site: site, seq: (heads[site] ?? 0) + 1, hlc: hlc, author: author, scope: scope, deps: deps, ops: ops)
        var copy = self
        try ChangeApplier(clockGuardMilliseconds: .max - now, now: now).apply(try change.encoded(), to: &copy)
        self = copy
        return change
    }

    /// Applies changes all-or-nothing, in the given order.
    @discardableResult
    public mutating func apply(_ changes: [EncodedChange], now: UInt64) throws -> [ChangeDisposition] {
        var copy = self
        let applier = ChangeApplier(clockGuardMilliseconds: clockGuardMilliseconds, now: now)
        var result: [ChangeDisposition] = []
        for change in changes { result.append(try applier.apply(change, to: &copy)) }
        self = copy
        return result
    }

    /// Every change this replica holds beyond `known`, in an order that respects causality.
    public func changes(after known: VersionVector) -> [EncodedChange] {
        log.values.filter { $0.change.seq > known[$0.change.site] }
            .sorted { ($0.hlc, $0.change.site) < ($1.hlc, $1.change.site) }.map(\.change)
    }

    /// The open conflicts, in record order.
    public var openConflicts: [(key: RecordKey, conflict: FieldConflict)] {
        records.keys.sorted().flatMap { key in records[key]!.conflicts.map { (key, $0) } }
    }

    /// The digest of the replicated state (see ``StateDigester``).
    public func digest() -> Digest32 {
        var digester = StateDigester()
        for key in records.keys.sorted() { digester.add(records[key]!, for: key) }
        return digester.finalize()
    }

    /// The per-pupil causal context this replica would give a new change about `scope`.
    public func scopeClock(_ scope: RecordID) -> VersionVector { scopeClocks[scope] ?? VersionVector() }
}

extension MemoryReplica: ReplicaBackend {
    package func heldChange(_ dot: Dot) -> EncodedChange? { log[dot]?.change }
    package func scopeClock(of scope: RecordID) -> VersionVector { scopeClocks[scope] ?? VersionVector() }
    package mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) { scopeClocks[scope] = clock }
    package func record(_ key: RecordKey) -> RecordState? { records[key] }
    package mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) {
        records[key] = state
    }
    package mutating func storeChange(
        _ change: EncodedChange, header: ChangeHeader, replacing: Bool, rejection: String?
    ) {
        log[change.dot] = (change, header.hlc)
        clock.observe(header.hlc)
        var head = heads[change.site] ?? 0
        while log[Dot(site: change.site, seq: head + 1)] != nil { head += 1 }
        heads[change.site] = head
        if let rejection { rejected[change.dot] = rejection }
    }
}
