import Foundation

/// What a replica must provide for ``ChangeApplier`` to apply changes to it.
///
/// Implemented by the in-memory ``MemoryReplica`` (used to property-test the merge laws) and by
/// the SQLite store's transaction, so both run exactly the same rules.
package protocol ReplicaBackend {
    /// The change this replica holds at `dot`, with its content or redacted, if any.
    mutating func heldChange(_ dot: Dot) throws -> EncodedChange?
    /// For each site, the latest change about `scope` held with its content (or, for an erased
    /// pupil, held at all), such that every earlier change of that site about `scope` is held too.
    mutating func scopeClock(of scope: RecordID) throws -> VersionVector
    mutating func setScopeClock(_ clock: VersionVector, of scope: RecordID) throws
    mutating func record(_ key: RecordKey) throws -> RecordState?
    mutating func saveRecord(_ state: RecordState, for key: RecordKey, changedFields: Set<String>) throws
    /// Stores a change (with its content, or redacted). `replacing` is true when the same change
    /// is already held redacted and now gains its content. `rejection` is set when the change is
    /// kept but not merged.
    mutating func storeChange(_ change: EncodedChange, header: ChangeHeader, replacing: Bool, rejection: String?)
        throws
    /// A site's own reason to keep a change without merging it: its origin was never entitled to
    /// the pupil, or the pupil has been erased. `nil` to merge.
    mutating func policyRejection(for change: Change) throws -> String?
    /// Called after a change has been merged, for effects beyond the records (erasure).
    mutating func didMerge(_ change: Change) throws
    /// Whether `scope` has been erased here: its changes may then be held without content.
    mutating func isErased(_ scope: RecordID) throws -> Bool
}

extension ReplicaBackend {
    package mutating func policyRejection(for change: Change) throws -> String? { nil }
    package mutating func didMerge(_ change: Change) throws {}
    package mutating func isErased(_ scope: RecordID) throws -> Bool { false }
}

/// What happened to one change.
public enum ChangeDisposition: Hashable, Sendable {
    /// Merged. Counts the conflicts it opened and closed.
    case applied(conflictsOpened: Int, conflictsClosed: Int)
    /// Already held.
    case duplicate
    /// Held in the log but not merged, for the given reason.
    case rejected(reason: String)
    /// Held without its content: the pupil was erased, so only the header is kept.
    case heldWithoutContent
}

/// The merge rules, in one place, with no storage of their own.
///
/// For each change, in order: a change already held is a duplicate, and one held with a
/// different leaf under the same number is a fork; every change it depends on about its pupil
/// must be present; its HLC must not be ahead of the local clock by more than the guard; then it
/// is validated and merged record by record. A change whose content was erased is held only when
/// its pupil is erased here.
package struct ChangeApplier {
    /// How far ahead of the local clock a change may be stamped.
    package var clockGuardMilliseconds: UInt64
    /// Local wall-clock time, Unix milliseconds.
    package var now: UInt64
    /// Sites whose changes are accepted however far ahead they are stamped: asked for explicitly
    /// by the receiving site's user once the sender's clock has been put right.
    package var acceptsClockAhead: Set<SiteID> = []

    package init(clockGuardMilliseconds: UInt64, now: UInt64) {
        self.clockGuardMilliseconds = clockGuardMilliseconds
        self.now = now
    }

    /// What ``check(_:in:)`` found.
    package enum Checked {
        /// Already held in the same form (or better).
        case duplicate
        /// A change without content, to hold as a header (its pupil is erased, or being erased).
        case header(ChangeHeader, replacing: Bool)
        /// A change with content whose prerequisites are met.
        case content(Change, replacing: Bool)
    }

    /// Decodes `change` (its header unless `known`, as a payload reader rebuilt it) and checks it
    /// against what `backend` holds: fork, dependencies, clock guard. Throws (changing nothing)
    /// if a prerequisite is missing.
    package func check<B: ReplicaBackend>(
        _ change: EncodedChange, header known: ChangeHeader? = nil, in backend: inout B
    )
        throws -> Checked
    {
        let header: ChangeHeader
        if let known {
            header = known
        } else {
            do { header = try change.decodedHeader() } catch { throw Self.malformed(change.dot, error) }
        }
        var replacing = false
        if let held = try backend.heldChange(change.dot) {
            guard held.leaf == change.leaf else {
                throw MergeError(code: .fork, reason: .fork(change.dot), hint: MergeError.forkHint)
            }
            if !held.isRedacted || change.isRedacted { return .duplicate }
            replacing = true
        }
        guard let content = change.content else { return .header(header, replacing: false) }
        let decoded: Change
        do {
            decoded = try Change.decode(site: change.site, seq: change.seq, header: header, content: content)
        } catch {
            throw Self.malformed(change.dot, error)
        }
        try checkDependencies(of: decoded, in: &backend)
        try checkClock(decoded)
        return .content(decoded, replacing: replacing)
    }

    private static func malformed(_ dot: Dot, _ error: DecodingFailure) -> MergeError {
        MergeError(
            code: .malformed, reason: .malformed(dot, error.reason),
            hint: "The sending site may run a newer SENSync; update this one.")
    }

    /// Every change about the pupil that `change` depends on must be held: with content, or for an
    /// erasure (which removes content anyway) at least its header.
    private func checkDependencies<B: ReplicaBackend>(of change: Change, in backend: inout B) throws {
        let scopeClock = try backend.scopeClock(of: change.scope)
        for (site, seq) in change.deps.entries where scopeClock[site] < seq {
            if change.erasesItsPupil,
                try headersHeld(site: site, through: seq, scope: change.scope, clock: scopeClock, in: &backend)
            {
                continue
            }
            let range = MissingRange(
                site: site, from: scopeClock[site] + 1, through: seq, isScopeHistory: true)
            throw MergeError(
                code: .missingPrerequisites, reason: .missingDependencies(change.dot, range),
                hint:
                    "Send a bundle to the site this one came from (it tells that site what this store holds), then apply its next bundle.",
                missing: range)
        }
    }

    /// Whether every change of `site` about `scope` up to `seq` is held, with or without content:
    /// walks back through each change's own-site dependency.
    private func headersHeld<B: ReplicaBackend>(
        site: SiteID, through seq: UInt64, scope: RecordID, clock: VersionVector, in backend: inout B
    ) throws -> Bool {
        var next = seq
        while next > clock[site] {
            guard let held = try backend.heldChange(Dot(site: site, seq: next)),
                let header = try? held.decodedHeader(), header.scope == scope
            else { return false }
            next = header.deps[site]
        }
        return true
    }

    private func checkClock(_ change: Change) throws {
        guard isAhead(change.hlc), !acceptsClockAhead.contains(change.site) else { return }
        let ahead = (change.hlc.milliseconds - now) / 1000 / 60
        throw MergeError(
            code: .clockAhead,
            reason: .clockAhead(
                change.dot, minutesAhead: ahead, limitMinutes: clockGuardMilliseconds / 60_000,
                acceptedFrom: change.hlc.milliseconds - clockGuardMilliseconds),
            hint:
                "If that site's clock ran fast and has been put right, accept its changes now with `sensync bundle apply --accept-clock-ahead SITE` (recorded in the import log); otherwise check the clocks on both machines."
        )
    }

    /// Whether `hlc` is stamped further ahead of this machine's clock than the guard allows.
    package func isAhead(_ hlc: HLC) -> Bool {
        hlc.milliseconds > now && hlc.milliseconds - now > clockGuardMilliseconds
    }

    /// Checks and applies one change. Throws (applying nothing) if a prerequisite is missing.
    @discardableResult
    package func apply<B: ReplicaBackend>(_ change: EncodedChange, to backend: inout B) throws -> ChangeDisposition {
        try apply(check(change, in: &backend), encoded: change, to: &backend)
    }

    /// Applies a change this site has just made, `encoded` from `change`: nothing to decode, and
    /// no dependency or clock check (its dependencies are what this store holds, its stamp is
    /// this site's own clock). Its number must not be held already (a fork of this site's own
    /// history). Debug builds check that `encoded` decodes to `change`, so this site merges
    /// exactly what every other site will.
    package func applyLocal<B: ReplicaBackend>(_ change: Change, encoded: EncodedChange, to backend: inout B) throws
        -> ChangeDisposition
    {
        assert((try? encoded.decoded()) == change, "a local change must merge as it decodes")
        if try backend.heldChange(encoded.dot) != nil {
            throw MergeError(
                code: .fork, reason: .fork(encoded.dot),
                hint: "This store already holds a change of its own with that number: see `sensync status`.")
        }
        return try merge(change, encoded: encoded, replacing: false, to: &backend)
    }

    /// Applies a change checked with ``check(_:in:)``.
    package func apply<B: ReplicaBackend>(_ checked: Checked, encoded: EncodedChange, to backend: inout B) throws
        -> ChangeDisposition
    {
        switch checked {
        case .duplicate:
            return .duplicate
        case .header(let header, let replacing):
            try backend.storeChange(encoded, header: header, replacing: replacing, rejection: nil)
            if try backend.isErased(header.scope) {
                var clock = try backend.scopeClock(of: header.scope)
                clock.advance(to: encoded.dot)
                try backend.setScopeClock(clock, of: header.scope)
            }
            return .heldWithoutContent
        case .content(let decoded, let replacing):
            return try merge(decoded, encoded: encoded, replacing: replacing, to: &backend)
        }
    }

    private func merge<B: ReplicaBackend>(
        _ decoded: Change, encoded: EncodedChange, replacing: Bool, to backend: inout B
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
        try backend.storeChange(encoded, header: decoded.header, replacing: replacing, rejection: rejection)
        if rejection == nil { try backend.didMerge(decoded) }
        var clock = try backend.scopeClock(of: decoded.scope)
        clock.advance(to: decoded.dot)
        try backend.setScopeClock(clock, of: decoded.scope)
        return disposition
    }

    /// Rules that depend on the change alone.
    package static func statelessRejection(of change: Change) -> String? {
        if change.ops.isEmpty { return "makes no writes" }
        // Repeats are found by comparing with what came before when there are few (every local
        // write runs this: no set to build), through a set when there are many.
        let fewOps = change.ops.count <= 16
        var seen: Set<RecordKey> = []
        for (i, op) in change.ops.enumerated() {
            if fewOps {
                if change.ops[..<i].contains(where: { $0.id == op.id && $0.table == op.table }) {
                    return "writes the same record twice"
                }
            } else if !seen.insert(RecordKey(table: op.table, scope: change.scope, id: op.id)).inserted {
                return "writes the same record twice"
            }
            if op.table == RecordSchema.pupil.name && op.id != change.scope {
                return "writes a pupil record outside its own scope"
            }
            if op.writes.isEmpty { return "makes an empty write to a \(op.table) record" }
            let spec = RecordSchema.table(op.table)
            let fewWrites = op.writes.count <= 32
            var fields: Set<String> = []
            for (j, write) in op.writes.enumerated() {
                if fewWrites {
                    if op.writes[..<j].contains(where: { $0.field == write.field }) {
                        return "writes field \(write.field) twice"
                    }
                } else if !fields.insert(write.field).inserted {
                    return "writes field \(write.field) twice"
                }
                guard let spec, let field = spec.field(write.field) else { continue }
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
