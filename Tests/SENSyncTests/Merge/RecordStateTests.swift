import Testing

@testable import SENSync

/// The per-field merge rules, one change at a time.
struct RecordStateTests {
    // Site ids in a known order: a < b < c.
    static let a = fixedID(0x01)
    static let b = fixedID(0x02)
    static let c = fixedID(0x03)
    static let pupil = fixedID(0x50)
    static let plan = fixedID(0x51)

    /// A change writing `writes` to the plan record.
    static func change(
        _ site: SiteID, _ seq: UInt64, at time: HLC, deps: [SiteID: UInt64] = [:], _ writes: [FieldWrite]
    ) -> (Change, RecordOp) {
        let op = RecordOp(table: "support_plan", id: plan, writes: writes)
        return (
            Change(site: site, seq: seq, hlc: time, author: "t", scope: pupil, deps: VersionVector(deps), ops: [op]), op
        )
    }

    static func title(_ s: String) -> [FieldWrite] { [FieldWrite("title", .text(s))] }

    static func merged(_ changes: [(Change, RecordOp)]) -> RecordState {
        var state = RecordState()
        for (change, op) in changes { state.merge(op, of: change) }
        return state
    }

    @Test func sequentialWritesReplace() {
        let state = Self.merged([
            Self.change(Self.a, 1, at: hlc(1), Self.title("one")),
            Self.change(Self.a, 2, at: hlc(2), Self.title("two")),
        ])
        #expect(state["title"] == .text("two"))
        #expect(state.fields["title"]?.heads.count == 1)
        #expect(state.conflicts.isEmpty)
    }

    @Test func aWriteReplacesWhatItHadSeenEvenWithAnEarlierClock() {
        // b saw a's write; b's clock is behind a's (skew), but causality decides, not the clock.
        let state = Self.merged([
            Self.change(Self.a, 1, at: hlc(100), Self.title("a")),
            Self.change(Self.b, 1, at: hlc(50), deps: [Self.a: 1], Self.title("b")),
        ])
        #expect(state["title"] == .text("b"))
        #expect(state.conflicts.isEmpty)
    }

    @Test func concurrentWritesAreBothKeptAndTheLaterClockWins() {
        let first = Self.change(Self.b, 1, at: hlc(10), Self.title("from b"))
        let second = Self.change(Self.a, 1, at: hlc(20), Self.title("from a"))
        let state = Self.merged([first, second])
        #expect(state == Self.merged([second, first]))
        #expect(state["title"] == .text("from a"))  // later HLC beats the greater site id
        let conflicts = state.conflicts
        #expect(conflicts.count == 1)
        #expect(conflicts.first?.kind == .concurrentEdit)
        #expect(conflicts.first?.field == "title")
        #expect(conflicts.first?.winner.dot == Dot(site: Self.a, seq: 1))
        #expect(conflicts.first?.losers.map(\.value) == [.text("from b")])
    }

    @Test func equalClocksFallToTheGreaterSiteID() {
        let fromA = Self.change(Self.a, 1, at: hlc(10), Self.title("from a"))
        let fromB = Self.change(Self.b, 1, at: hlc(10), Self.title("from b"))
        let fromC = Self.change(Self.c, 4, at: hlc(10), Self.title("from c"))
        for order in [[fromA, fromB, fromC], [fromC, fromB, fromA], [fromB, fromC, fromA]] {
            let state = Self.merged(order)
            #expect(state["title"] == .text("from c"))
            #expect(state.fields["title"]?.heads.map(\.dot.site) == [Self.c, Self.b, Self.a])
        }
        // The tie-break compares all 16 bytes: only the last byte differs here.
        let low = fixedID(0x01, tail: 0x00)
        let high = UUID128(unchecked: [0x01] + [UInt8](repeating: 0, count: 14) + [0x01])
        let state = Self.merged([
            Self.change(high, 1, at: hlc(10), Self.title("high")), Self.change(low, 1, at: hlc(10), Self.title("low")),
        ])
        #expect(state["title"] == .text("high"))
    }

    @Test func aWriteThatSawBothHeadsResolvesTheConflict() {
        let fromA = Self.change(Self.a, 1, at: hlc(10), Self.title("from a"))
        let fromB = Self.change(Self.b, 1, at: hlc(20), Self.title("from b"))
        let resolve = Self.change(Self.a, 2, at: hlc(30), deps: [Self.a: 1, Self.b: 1], Self.title("agreed"))
        let state = Self.merged([fromA, fromB, resolve])
        #expect(state["title"] == .text("agreed"))
        #expect(state.conflicts.isEmpty)
        #expect(state == Self.merged([fromB, fromA, resolve]))
        // Resolving by choosing the losing value also closes it, even with the old text.
        let keepLoser = Self.change(Self.c, 1, at: hlc(5), deps: [Self.a: 1, Self.b: 1], Self.title("from a"))
        let kept = Self.merged([fromA, fromB, keepLoser])
        #expect(kept["title"] == .text("from a"))
        #expect(kept.conflicts.isEmpty)
    }

    @Test func aWriteThatSawOnlyOneHeadLeavesTheConflictOpen() {
        let fromA = Self.change(Self.a, 1, at: hlc(10), Self.title("from a"))
        let fromB = Self.change(Self.b, 1, at: hlc(20), Self.title("from b"))
        let partial = Self.change(Self.c, 1, at: hlc(30), deps: [Self.a: 1], Self.title("from c"))
        let state = Self.merged([fromA, fromB, partial])
        #expect(state.fields["title"]?.heads.map(\.dot) == [Dot(site: Self.c, seq: 1), Dot(site: Self.b, seq: 1)])
        #expect(state.conflicts.count == 1)
    }

    @Test func conflictsAreTrackedPerField() {
        let fromA = Self.change(
            Self.a, 1, at: hlc(10), [FieldWrite("title", .text("x")), FieldWrite("status", .text("active"))])
        let fromB = Self.change(Self.b, 1, at: hlc(20), [FieldWrite("title", .text("y"))])
        let state = Self.merged([fromA, fromB])
        #expect(state.conflicts.map(\.field) == ["title"])
        #expect(state["status"] == .text("active"))
    }

    @Test func redeliveryIsIdempotent() {
        let fromA = Self.change(Self.a, 1, at: hlc(10), Self.title("from a"))
        let fromB = Self.change(Self.b, 1, at: hlc(20), Self.title("from b"))
        var state = Self.merged([fromA, fromB])
        let before = state
        #expect(state.merge(fromA.1, of: fromA.0).isEmpty)
        #expect(state.merge(fromB.1, of: fromB.0).isEmpty)
        #expect(state == before)
    }

    @Test func mergeReportsTheFieldsWhoseWinnerChanged() {
        var state = RecordState()
        let first = Self.change(
            Self.a, 1, at: hlc(10), [FieldWrite("title", .text("x")), FieldWrite("status", .text("draft"))])
        #expect(state.merge(first.1, of: first.0) == ["title", "status"])
        let loser = Self.change(Self.b, 1, at: hlc(5), Self.title("older"))
        #expect(state.merge(loser.1, of: loser.0).isEmpty)  // a new head, but not the winner
        let winner = Self.change(Self.c, 1, at: hlc(50), Self.title("newer"))
        #expect(state.merge(winner.1, of: winner.0) == ["title"])
    }

    // MARK: Deletion

    static let created = change(
        Self.a, 1, at: hlc(10), [FieldWrite("title", .text("plan")), FieldWrite("deleted", .integer(0))])

    @Test func deleteAgainstAConcurrentEditIsEditedWhileDeleted() {
        let delete = Self.change(Self.b, 1, at: hlc(30), deps: [Self.a: 1], [FieldWrite("deleted", .integer(1))])
        let edit = Self.change(Self.a, 2, at: hlc(20), Self.title("edited"))
        for order in [[Self.created, delete, edit], [Self.created, edit, delete]] {
            let state = Self.merged(order)
            #expect(state.isDeleted)
            #expect(state["title"] == .text("edited"))
            let conflicts = state.conflicts
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.kind == .editedWhileDeleted)
            #expect(conflicts.first?.field == "title")
            #expect(conflicts.first?.winner.dot == Dot(site: Self.b, seq: 1))
            #expect(conflicts.first?.losers.map(\.dot) == [Dot(site: Self.a, seq: 2)])
        }
    }

    @Test func anEditWithALaterClockStillLosesToTheDeletionItDidNotSee() {
        // The edit is later by the clock but the record stays deleted: the deletion is a field
        // of its own, so the edit does not undelete; the edit is kept in the review queue.
        let delete = Self.change(Self.b, 1, at: hlc(30), deps: [Self.a: 1], [FieldWrite("deleted", .integer(1))])
        let edit = Self.change(Self.a, 2, at: hlc(40), Self.title("edited"))
        let state = Self.merged([Self.created, delete, edit])
        #expect(state.isDeleted)
        #expect(state.conflicts.map(\.kind) == [.editedWhileDeleted])
    }

    @Test func deleteThatSawTheEditHasNoConflict() {
        let edit = Self.change(Self.a, 2, at: hlc(20), Self.title("edited"))
        let delete = Self.change(Self.b, 1, at: hlc(30), deps: [Self.a: 2], [FieldWrite("deleted", .integer(1))])
        let state = Self.merged([Self.created, edit, delete])
        #expect(state.isDeleted)
        #expect(state.conflicts.isEmpty)
        // The deleting site's own earlier edits are seen by its deletion too.
        let ownEdit = Self.change(Self.a, 2, at: hlc(20), Self.title("edited"))
        let ownDelete = Self.change(Self.a, 3, at: hlc(30), [FieldWrite("deleted", .integer(1))])
        #expect(Self.merged([Self.created, ownEdit, ownDelete]).conflicts.isEmpty)
    }

    @Test func restoreUndeletesAndClosesTheConflict() {
        let delete = Self.change(Self.b, 1, at: hlc(30), deps: [Self.a: 1], [FieldWrite("deleted", .integer(1))])
        let edit = Self.change(Self.a, 2, at: hlc(20), Self.title("edited"))
        let restore = Self.change(
            Self.c, 1, at: hlc(40), deps: [Self.a: 2, Self.b: 1], [FieldWrite("deleted", .integer(0))])
        let state = Self.merged([Self.created, delete, edit, restore])
        #expect(!state.isDeleted)
        #expect(state["title"] == .text("edited"))
        #expect(state.conflicts.isEmpty)
        // Keeping the deletion having seen the edit closes it the other way.
        let keep = Self.change(
            Self.c, 1, at: hlc(40), deps: [Self.a: 2, Self.b: 1], [FieldWrite("deleted", .integer(1))])
        let kept = Self.merged([Self.created, delete, edit, keep])
        #expect(kept.isDeleted)
        #expect(kept.conflicts.isEmpty)
    }

    @Test func concurrentDeleteAndRestoreIsAConcurrentEdit() {
        let delete = Self.change(Self.b, 1, at: hlc(30), deps: [Self.a: 1], [FieldWrite("deleted", .integer(1))])
        let deleteAgain = Self.change(Self.a, 2, at: hlc(35), [FieldWrite("deleted", .integer(1))])
        let restore = Self.change(Self.a, 3, at: hlc(36), [FieldWrite("deleted", .integer(0))])
        let state = Self.merged([Self.created, delete, deleteAgain, restore])
        // a's restore had not seen b's deletion: both heads survive; b's is older so a wins.
        #expect(!state.isDeleted)
        #expect(state.conflicts.map(\.kind) == [.concurrentEdit])
        #expect(state.conflicts.first?.field == "deleted")
    }

    /// The merged state does not depend on the order of concurrent changes.
    @Test func concurrentWritesCommuteInEveryOrder() {
        let writes = [
            Self.change(Self.a, 2, at: hlc(20), deps: [Self.a: 1], Self.title("a")),
            Self.change(
                Self.b, 1, at: hlc(20), deps: [Self.a: 1],
                [FieldWrite("title", .text("b")), FieldWrite("status", .text("closed"))]),
            Self.change(Self.c, 1, at: hlc(15), deps: [Self.a: 1], [FieldWrite("deleted", .integer(1))]),
        ]
        let expected = Self.merged([Self.created] + writes)
        for permutation in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            #expect(Self.merged([Self.created] + permutation.map { writes[$0] }) == expected)
        }
        #expect(expected.isDeleted)
        #expect(expected["title"] == .text("b"))
        #expect(Set(expected.conflicts.map(\.kind)) == [.concurrentEdit, .editedWhileDeleted])
    }
}
