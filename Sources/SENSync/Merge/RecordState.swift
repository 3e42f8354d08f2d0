import Foundation

/// Identifies a record in a replica: its table, the pupil it belongs to and its id.
///
/// The pupil scope is part of the identity, so a change can only ever touch records inside the
/// pupil it names; a forged id in another scope creates a separate record instead of reaching
/// across.
public struct RecordKey: Hashable, Sendable, Comparable {
    public var table: String
    public var scope: RecordID
    public var id: RecordID

    public init(table: String, scope: RecordID, id: RecordID) {
        self.table = table
        self.scope = scope
        self.id = id
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        (lhs.table, lhs.scope, lhs.id) < (rhs.table, rhs.scope, rhs.id)
    }
}

/// A write that no other known write has superseded: one of a field's current values.
public struct Head: Hashable, Sendable {
    public var dot: Dot
    public var hlc: HLC
    public var value: Value
    /// The writing change's causal context. Kept only for the ``RecordState/deletedField`` so a
    /// winning deletion can tell which edits it had seen.
    public var deps: VersionVector?

    public init(dot: Dot, hlc: HLC, value: Value, deps: VersionVector? = nil) {
        self.dot = dot
        self.hlc = hlc
        self.value = value
        self.deps = deps
    }

    /// The merge order: later HLC wins; equal HLCs (only possible across sites) fall to the
    /// greater site id.
    public static func wins(_ a: Head, over b: Head) -> Bool {
        a.hlc != b.hlc ? a.hlc > b.hlc : a.dot.site > b.dot.site
    }
}

/// All current values of one field, winner first. More than one head is an open conflict.
public struct FieldState: Hashable, Sendable {
    public private(set) var heads: [Head]

    public init(heads: [Head]) {
        self.heads = heads.sorted(by: Head.wins)
    }

    /// The value readers see.
    public var winner: Head { heads[0] }
    /// Heads holding a value other than the winner's: the values a reviewer must choose between.
    /// Concurrent writes of the same value are all kept (so the state does not depend on arrival
    /// order) but are not a conflict.
    public var losers: [Head] { heads.dropFirst().filter { $0.value != heads[0].value } }
    public var isConflicted: Bool { heads.dropFirst().contains { $0.value != heads[0].value } }

    /// Adds a write, dropping every head its change had seen. Returns `false` if the write was
    /// already present (re-delivery).
    @discardableResult
    mutating func merge(_ head: Head, seenBy change: Change) -> Bool {
        if heads.contains(where: { $0.dot == head.dot }) { return false }
        heads.removeAll { change.hasSeen($0.dot) }
        let index = heads.firstIndex { Head.wins(head, over: $0) } ?? heads.count
        heads.insert(head, at: index)
        return true
    }
}

/// One record's merge state: every field's heads.
///
/// The merge is a multi-value register per field displayed last-writer-wins: a write replaces
/// exactly the values its author had seen (by the change's ``Change/deps``), so concurrent
/// writes all survive as heads. The winner is the greatest `(HLC, site id)`. Because the state
/// is "all writes not seen by another write", it does not depend on the order changes arrive in.
public struct RecordState: Hashable, Sendable {
    /// The reserved field that marks a record deleted (integer 1) or present (0).
    public static let deletedField = "deleted"

    public private(set) var fields: [String: FieldState]

    public init(fields: [String: FieldState] = [:]) { self.fields = fields }

    public var isEmpty: Bool { fields.isEmpty }

    /// The winning value of `field`, or `nil` if it was never written.
    public subscript(field: String) -> Value? { fields[field]?.winner.value }

    /// Whether the winning write of ``deletedField`` is a deletion.
    public var isDeleted: Bool { self[Self.deletedField] == .integer(1) }

    /// Whether any write of this record was in `change`'s causal past.
    public func hasBeenSeen(by change: Change) -> Bool {
        fields.values.contains { $0.heads.contains { change.hasSeen($0.dot) } }
    }

    /// Merges one operation of `change`. Returns the names of fields whose winner changed.
    @discardableResult
    public mutating func merge(_ op: RecordOp, of change: Change) -> Set<String> {
        var changed: Set<String> = []
        for write in op.writes {
            let before = fields[write.field]?.heads.first
            let head = Head(
                dot: change.dot, hlc: change.hlc, value: write.value,
                deps: write.field == Self.deletedField ? change.deps : nil)
            // Merged in place (a copy taken out and put back would copy the heads each time); a
            // field not yet written cannot refuse the head, so the default is never left empty.
            guard fields[write.field, default: FieldState(heads: [])].merge(head, seenBy: change) else { continue }
            if before != fields[write.field]?.heads.first { changed.insert(write.field) }
        }
        return changed
    }

    /// The record's open conflicts, in field order.
    public var conflicts: [FieldConflict] {
        var result: [FieldConflict] = []
        for (field, state) in fields where state.isConflicted {
            result.append(
                FieldConflict(field: field, kind: .concurrentEdit, winner: state.winner, losers: state.losers))
        }
        if isDeleted, let tombstone = fields[Self.deletedField]?.winner {
            let seen = tombstone.deps ?? VersionVector()
            for (field, state) in fields where field != Self.deletedField {
                let unseen = state.heads.filter { head in
                    head.dot != tombstone.dot
                        && !(head.dot.site == tombstone.dot.site
                            ? head.dot.seq < tombstone.dot.seq : seen.includes(head.dot))
                }
                if !unseen.isEmpty {
                    result.append(
                        FieldConflict(field: field, kind: .editedWhileDeleted, winner: tombstone, losers: unseen))
                }
            }
        }
        return result.sorted { ($0.field, $0.kind.rawValue) < ($1.field, $1.kind.rawValue) }
    }
}

/// An open conflict on one field of one record.
public struct FieldConflict: Hashable, Sendable {
    public enum Kind: String, Sendable, Codable {
        /// Two or more writes to the field were made without seeing each other.
        case concurrentEdit = "concurrent-edit"
        /// The record was deleted by a change that had not seen this edit.
        case editedWhileDeleted = "edited-while-deleted"
    }

    public var field: String
    public var kind: Kind
    /// The value (or, for ``Kind/editedWhileDeleted``, the deletion) readers currently see.
    public var winner: Head
    /// The values that lost but are kept for review.
    public var losers: [Head]
}
