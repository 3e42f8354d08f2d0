import Foundation

/// A replica held entirely in memory, running the same ``ChangeApplier`` rules as the store.
///
/// It exists so the merge laws can be property-tested quickly and without SQLite, and so the
/// store's behaviour can be checked against a reference.
public struct MemoryReplica: Sendable {
    public let site: SiteID
    public private(set) var clock = HybridClock()
    public var clockGuardMilliseconds: UInt64 = 24 * 3_600_000
    private var chains: [SiteID: ChainHead] = [:]
    private var log: [SiteID: [(change: EncodedChange, hlc: HLC)]] = [:]
    private var scopeClocks: [RecordID: VersionVector] = [:]
    public private(set) var records: [RecordKey: RecordState] = [:]
    public private(set) var rejected: [Dot: String] = [:]

    public init(site: SiteID) { self.site = site }

    /// What this replica holds of each site's chain.
    public var versionVector: VersionVector {
        VersionVector(chains.mapValues(\.seq))
    }

    /// Makes a local change (one transaction) and applies it.
    @discardableResult
    public mutating func write(author: String, scope: RecordID, ops: [RecordOp], now: UInt64) throws -> Change {
        let hlc = clock.tick(now: now)
        let change = Change(
            site: site, seq: (chains[site]?.seq ?? 0) + 1, hlc: hlc, author: author, scope: scope,
            deps: scopeClocks[scope] ?? VersionVector(), ops: ops)
        var copy = self
        try ChangeApplier(clockGuardMilliseconds: .max - now, now: now).apply(EncodedChange(change), to: &copy)
        self = copy
        return change
    }

    /// Applies changes all-or-nothing, in the given order.
    @discardableResult
    public mutating func apply(_ changes: [EncodedChange], now: UInt64) throws -> [ChangeDisposition] {
        var copy = self
        let applier = ChangeApplier(clockGuardMilliseconds: clockGuardMilliseconds, now: now)
        var result: [ChangeDisposition] = []
        for change in changes {
            if change.seq <= (copy.chains[change.site]?.seq ?? 0) {
                guard let held = copy.log[change.site]?[Int(change.seq) - 1].change, held.body == change.body else {
                    throw MergeError(
                        code: .fork, message: "Site \(change.site) has two different changes numbered \(change.seq).",
                        hint: "That site was probably restored from a backup.", missing: nil)
                }
                result.append(.duplicate)
                continue
            }
            result.append(try applier.apply(change, to: &copy))
        }
        self = copy
        return result
    }

    /// Every change this replica holds beyond `known`, in an order that respects causality.
    public func changes(after known: VersionVector) -> [EncodedChange] {
        var selected: [(change: EncodedChange, hlc: HLC)] = []
        for (site, entries) in log {
            let from = Int(known[site])
            if from < entries.count { selected += entries[from...] }
        }
        return selected.sorted { ($0.hlc, $0.change.site) < ($1.hlc, $1.change.site) }.map(\.change)
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
    package func chainHead(of site: SiteID) -> ChainHead { chains[site] ?? .empty }
    package mutating func setChainHead(_ head: ChainHead, of site: SiteID) { chains[site] = head }
    package func scopeClock(of scope: RecordID) -> VersionVector { scopeClocks[scope] ?? VersionVector() }
    package mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) { scopeClocks[scope] = clock }
    package func record(_ key: RecordKey) -> RecordState? { records[key] }
    package mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) {
        records[key] = state
    }
    package mutating func appendHistory(
        _ change: EncodedChange, previousHash: Digest32, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?
    ) {
        clock.observe(hlc)
        if let rejection { rejected[change.dot] = rejection }
    }
    package mutating func appendChange(
        _ change: EncodedChange, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?
    ) {
        log[change.site, default: []].append((change, hlc))
        clock.observe(hlc)
        if let rejection { rejected[change.dot] = rejection }
    }
}
