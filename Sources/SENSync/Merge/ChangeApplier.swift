import Foundation

/// What a replica must provide for ``ChangeApplier`` to apply changes to it.
///
/// Implemented by the in-memory ``MemoryReplica`` (used to property-test the merge laws) and by
/// the SQLite store's transaction, so both run exactly the same rules.
package protocol ReplicaBackend {
    mutating func chainHead(of site: SiteID) throws -> ChainHead
    mutating func setChainHead(_ head: ChainHead, of site: SiteID) throws
    mutating func scopeClock(of scope: RecordID) throws -> VersionVector
    mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) throws
    mutating func record(_ key: RecordKey) throws -> RecordState?
    mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) throws
    /// Appends a change to the log, before the site's chain head moves to it. `rejection` is set
    /// when the change is kept but not merged.
    mutating func appendChange(_ change: EncodedChange, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?)
        throws
    /// Stores a change that arrived outside its site's chain order (a pupil's history). The chain
    /// head does not move.
    mutating func appendHistory(
        _ change: EncodedChange, previousHash: Digest32, hash: Digest32, hlc: HLC, scope: RecordID, rejection: String?)
        throws
    /// A site's own reason to keep a change without merging it: its origin was never entitled to
    /// the pupil, or the pupil has been erased. `nil` to merge.
    mutating func policyRejection(for change: Change) throws -> String?
    /// Called after a change has been merged, for effects beyond the records (enrolment
    /// history, erasure).
    mutating func didMerge(_ change: Change) throws
    /// Which of the changes `change` depends on must be present before it applies: all of them
    /// (the default), or, exceptionally, fewer.
    mutating func dependencyWait(for change: Change) throws -> DependencyWait
}

/// Which dependencies a change waits for.
package enum DependencyWait: Sendable {
    /// Every change it depends on must be held (the rule).
    case all
    /// Only its place in each site's chain: the changes it depends on may be held as skipped.
    case chainOnly
    /// Nothing.
    case none
}

extension ReplicaBackend {
    package mutating func dependencyWait(for change: Change) throws -> DependencyWait { .all }
    package mutating func policyRejection(for change: Change) throws -> String? { nil }
    package mutating func didMerge(_ change: Change) throws {}
}

/// What happened to one change.
public enum ChangeDisposition: Hashable, Sendable {
    /// Merged. Counts the conflicts it opened and closed.
    case applied(conflictsOpened: Int, conflictsClosed: Int)
    /// Already held (same chain hash).
    case duplicate
    /// Held in the log (the chain stays whole) but not merged, for the given reason.
    case rejected(reason: String)
}

/// The merge rules, in one place, with no storage of their own.
///
/// For each change, in order: the site's chain must continue exactly (a gap names the missing
/// range); every dependency must be present; the HLC must not be ahead of the local clock by
/// more than the guard; then the change is validated and merged record by record.
package struct ChangeApplier {
    /// How far ahead of the local clock a change may be stamped.
    package var clockGuardMilliseconds: UInt64
    /// Local wall-clock time, Unix milliseconds.
    package var now: UInt64

    package init(clockGuardMilliseconds: UInt64, now: UInt64) {
        self.clockGuardMilliseconds = clockGuardMilliseconds
        self.now = now
    }

    /// Checks that `change` can follow what `backend` holds: chain position and hash,
    /// dependencies, clock guard. Returns `nil` for a duplicate, else the decoded change and its
    /// chain hash.
    package func checkPrerequisites<B: ReplicaBackend>(
        _ change: EncodedChange, in backend: inout B
    ) throws -> (change: Change, hash: Digest32)? {
        let head = try backend.chainHead(of: change.site)
        if change.seq <= head.seq { return nil }
        guard change.seq == head.seq + 1 else {
            let range = MissingRange(
                site: change.site, from: head.seq + 1, through: change.seq - 1, isScopeHistory: false)
            throw MergeError(
                code: .missingPrerequisites,
                message: "Missing \(range).",
                hint:
                    "Ask that site, or the site that relays its changes, for a bundle that includes them; then apply this one again.",
                missing: range)
        }
        return (try checkHistory(change, in: &backend), change.chainHash(previous: head.hash))
    }

    /// Every dependency present; the clock guard.
    private func checkDependencies<B: ReplicaBackend>(of decoded: Change, in backend: inout B) throws {
        let change = decoded
        let scopeClock = try backend.scopeClock(of: decoded.scope)
        let wait = try backend.dependencyWait(for: decoded)
        for (site, seq) in decoded.deps.entries where wait != .none && scopeClock[site] < seq {
            let chain = try backend.chainHead(of: site)
            if wait == .chainOnly && chain.seq >= seq { continue }
            let range =
                chain.seq < seq
                ? MissingRange(site: site, from: chain.seq + 1, through: seq, isScopeHistory: false)
                : MissingRange(site: site, from: scopeClock[site] + 1, through: seq, isScopeHistory: true)
            throw MergeError(
                code: .missingPrerequisites,
                message:
                    "Change \(change.seq) of site \(change.site) depends on \(range), which this store does not hold.",
                hint: range.isScopeHistory
                    ? "The pupil's earlier history has not reached this store; it is requested automatically in the next bundle you send."
                    : "Ask that site, or the site that relays its changes, for a bundle that includes them; then apply this one again.",
                missing: range)
        }
        if decoded.hlc.milliseconds > now + clockGuardMilliseconds {
            let ahead = (decoded.hlc.milliseconds - now) / 1000 / 60
            throw MergeError(
                code: .clockAhead,
                message:
                    "Change \(change.seq) of site \(change.site) is stamped \(ahead) minutes ahead of this machine's clock (limit \(clockGuardMilliseconds / 60_000) minutes).",
                hint: "Check the clock on this machine and on the sending machine; apply again once they agree.",
                missing: nil)
        }
    }

    /// Applies one change. Throws (applying nothing) if a prerequisite is missing.
    @discardableResult
    package func apply<B: ReplicaBackend>(_ change: EncodedChange, to backend: inout B) throws -> ChangeDisposition {
        guard let (decoded, hash) = try checkPrerequisites(change, in: &backend) else { return .duplicate }
        return try apply(decoded, encoded: change, hash: hash, to: &backend)
    }

    /// Checks a change's content: that it can be read, its dependencies and the clock guard.
    /// Used alone for a history change (one outside its site's chain order). Returns the decoded
    /// change.
    package func checkHistory<B: ReplicaBackend>(_ change: EncodedChange, in backend: inout B) throws -> Change {
        let decoded: Change
        do {
            decoded = try change.decoded()
        } catch {
            throw MergeError(
                code: .malformed,
                message: "Change \(change.seq) of site \(change.site) cannot be read: \(error.reason).",
                hint: "The sending site may run a newer SENSync; update this one.", missing: nil)
        }
        try checkDependencies(of: decoded, in: &backend)
        return decoded
    }

    /// Applies a history change checked with ``checkHistory(_:in:)``.
    @discardableResult
    package func applyHistory<B: ReplicaBackend>(
        _ decoded: Change, encoded: EncodedChange, previousHash: Digest32, hash: Digest32, to backend: inout B
    ) throws -> ChangeDisposition {
        try apply(decoded, encoded: encoded, hash: hash, history: previousHash, to: &backend)
    }

    /// Applies a change whose prerequisites were checked.
    package func apply<B: ReplicaBackend>(
        _ decoded: Change, encoded: EncodedChange, hash: Digest32, to backend: inout B
    ) throws -> ChangeDisposition {
        try apply(decoded, encoded: encoded, hash: hash, history: nil, to: &backend)
    }

    private func apply<B: ReplicaBackend>(
        _ decoded: Change, encoded: EncodedChange, hash: Digest32, history previousHash: Digest32?, to backend: inout B
    ) throws -> ChangeDisposition {
        var disposition: ChangeDisposition
        var loaded: [(RecordKey, RecordState)] = []
        var rejection = Self.statelessRejection(of: decoded)
        if rejection == nil { rejection = try backend.policyRejection(for: decoded) }
        if rejection == nil {
            for op in decoded.ops {
                let key = RecordKey(table: op.table, scope: decoded.scope, id: op.id)
                let state = try backend.record(key) ?? RecordState()
                if let spec = RecordSchema.table(op.table), spec.isAppendOnly, state.hasBeenSeen(by: decoded) {
                    rejection = "changes an existing \(op.table) record; \(op.table) records are append-only"
                    break
                }
                loaded.append((key, state))
            }
        }
        if let rejection {
            disposition = .rejected(reason: rejection)
        } else {
            var opened = 0
            var closed = 0
            var states: [RecordKey: RecordState] = [:]
            for (index, op) in decoded.ops.enumerated() {
                let key = loaded[index].0
                var state = states[key] ?? loaded[index].1
                let before = state.conflicts.count
                let changed = state.merge(op, of: decoded)
                let after = state.conflicts.count
                if after > before { opened += after - before } else { closed += before - after }
                states[key] = state
                try backend.saveRecord(state, for: key, changedFields: changed)
            }
            disposition = .applied(conflictsOpened: opened, conflictsClosed: closed)
        }
        if let previousHash {
            try backend.appendHistory(
                encoded, previousHash: previousHash, hash: hash, hlc: decoded.hlc, scope: decoded.scope,
                rejection: rejection)
        } else {
            try backend.appendChange(encoded, hash: hash, hlc: decoded.hlc, scope: decoded.scope, rejection: rejection)
        }
        if rejection == nil { try backend.didMerge(decoded) }
        var clock = try backend.scopeClock(of: decoded.scope)
        clock.advance(to: decoded.dot)
        try backend.setScopeClock(clock, of: decoded.scope)
        if previousHash == nil { try backend.setChainHead(ChainHead(seq: decoded.seq, hash: hash), of: decoded.site) }
        return disposition
    }

    /// Rules that depend on the change alone.
    package static func statelessRejection(of change: Change) -> String? {
        if change.ops.isEmpty { return "makes no writes" }
        var seen: Set<RecordKey> = []
        for op in change.ops {
            let key = RecordKey(table: op.table, scope: change.scope, id: op.id)
            if !seen.insert(key).inserted { return "writes the same record twice" }
            if op.table == RecordSchema.pupil.name && op.id != change.scope {
                return "writes a pupil record outside its own scope"
            }
            if op.writes.isEmpty { return "makes an empty write to a \(op.table) record" }
            var fields: Set<String> = []
            for write in op.writes {
                if !fields.insert(write.field).inserted { return "writes field \(write.field) twice" }
                guard let spec = RecordSchema.table(op.table) else { continue }
                guard let field = spec.field(write.field) else { continue }
                switch (field.type, write.value) {
                case (_, .null), (.text, .text), (.integer, .integer): break
                default:
                    return
                        "writes a \(write.value) value to \(op.table).\(write.field), which holds \(field.type.rawValue)"
                }
                if write.field == RecordState.deletedField, write.value != .integer(0), write.value != .integer(1) {
                    return "writes \(op.table).deleted with a value other than 0 or 1"
                }
            }
        }
        return nil
    }
}
