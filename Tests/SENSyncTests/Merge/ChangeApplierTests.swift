import Testing

@testable import SENSync

/// The applier's checks, run through ``MemoryReplica`` (which uses the same applier as the store).
struct ChangeApplierTests {
    static let a = fixedID(0x01)
    static let b = fixedID(0x02)
    static let c = fixedID(0x03)
    static let pupil = fixedID(0x50)
    static let now = baseMilliseconds
    static let hour: UInt64 = 3_600_000

    static func pupilOp(_ writes: [FieldWrite]) -> RecordOp { RecordOp(table: "pupil", id: pupil, writes: writes) }

    /// Replica `a` with `count` changes about the pupil.
    static func replicaWithChanges(_ count: Int) throws -> MemoryReplica {
        var r = MemoryReplica(site: a)
        try r.write(author: "t", scope: pupil, ops: [pupilOp([FieldWrite("forename", .text("Ada"))])], now: now)
        for i in 1..<count {
            try r.write(
                author: "t", scope: pupil, ops: [pupilOp([FieldWrite("year_group", .integer(Int64(i)))])],
                now: now + UInt64(i))
        }
        return r
    }

    static func expectUnchanged(_ replica: MemoryReplica, _ before: MemoryReplica) {
        #expect(replica.versionVector == before.versionVector)
        #expect(replica.digest() == before.digest())
        #expect(replica.rejected == before.rejected)
    }

    @Test func gapInASitesChainNamesTheMissingRange() throws {
        let source = try Self.replicaWithChanges(5)
        let all = source.changes(after: VersionVector())
        var target = MemoryReplica(site: Self.b)
        try target.apply([all[0]], now: Self.now)
        let before = target
        do {
            try target.apply([all[3], all[4]], now: Self.now)
            Issue.record("a gap was accepted")
        } catch let error as MergeError {
            #expect(error.code == .missingPrerequisites)
            #expect(error.missing == MissingRange(site: Self.a, from: 2, through: 3, isScopeHistory: true))
            #expect(error.message.contains("changes 2–3 of site \(Self.a)"))
        }
        Self.expectUnchanged(target, before)
        // All or nothing: a batch whose later part has a gap applies none of its earlier part.
        do {
            try target.apply([all[1], all[3]], now: Self.now)
            Issue.record("a gap was accepted")
        } catch let error as MergeError {
            #expect(error.missing == MissingRange(site: Self.a, from: 3, through: 3, isScopeHistory: true))
            #expect(error.message.contains("change 3 of site \(Self.a)"))
        }
        Self.expectUnchanged(target, before)
        try target.apply(Array(all[1...]), now: Self.now)
        #expect(target.digest() == source.digest())
    }

    @Test func missingDependencyNamesTheOtherSite() throws {
        var a = try Self.replicaWithChanges(3)
        var b = MemoryReplica(site: Self.b)
        try b.apply(a.changes(after: VersionVector()), now: Self.now)
        try b.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("surname", .text("Lovelace"))])],
            now: Self.now + 10)
        let fromB = b.changes(after: VersionVector([Self.a: 3]))
        #expect(fromB.count == 1)
        var c = MemoryReplica(site: Self.c)
        let before = c
        do {
            try c.apply(fromB, now: Self.now)
            Issue.record("a change with missing dependencies was accepted")
        } catch let error as MergeError {
            #expect(error.code == .missingPrerequisites)
            #expect(error.missing == MissingRange(site: Self.a, from: 1, through: 3, isScopeHistory: true))
        }
        Self.expectUnchanged(c, before)
        // Given a's changes first, b's applies; a then receives b's and all three agree.
        try c.apply(a.changes(after: VersionVector()) + fromB, now: Self.now)
        try a.apply(fromB, now: Self.now)
        #expect(c.digest() == b.digest())
        #expect(a.digest() == b.digest())
    }

    @Test func dependenciesAreOnlyCheckedForTheSamePupil() throws {
        // b writes about another pupil having seen a's changes about the first one: those are
        // not its dependencies, so it applies on a replica that lacks them.
        let a = try Self.replicaWithChanges(2)
        var b = MemoryReplica(site: Self.b)
        try b.apply(a.changes(after: VersionVector()), now: Self.now)
        let other = fixedID(0x51)
        let change = try b.write(
            author: "t", scope: other,
            ops: [RecordOp(table: "pupil", id: other, writes: [FieldWrite("forename", .text("Bo"))])],
            now: Self.now + 5)
        #expect(change.deps.isEmpty)
        var c = MemoryReplica(site: Self.c)
        let result = try c.apply([EncodedChange(change)], now: Self.now)
        #expect(result == [.applied(conflictsOpened: 0, conflictsClosed: 0)])
    }

    @Test(arguments: [(UInt64(23), true), (24, true), (25, false), (240, false)])
    func clockGuard(hoursAhead: UInt64, accepted: Bool) throws {
        var a = MemoryReplica(site: Self.a)
        try a.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("forename", .text("Ada"))])],
            now: Self.now + hoursAhead * Self.hour)
        var b = MemoryReplica(site: Self.b)
        let before = b
        do {
            try b.apply(a.changes(after: VersionVector()), now: Self.now)
            #expect(accepted, "a change \(hoursAhead) h ahead was accepted")
            #expect(b.digest() == a.digest())
        } catch let error as MergeError {
            #expect(!accepted, "a change \(hoursAhead) h ahead was refused")
            #expect(error.code == .clockAhead)
            #expect(error.missing == nil)
            #expect(error.message.contains("\((hoursAhead * 60)) minutes ahead"))
            Self.expectUnchanged(b, before)
        }
    }

    @Test func clockGuardIsExactToTheMillisecond() throws {
        var a = MemoryReplica(site: Self.a)
        try a.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("forename", .text("Ada"))])],
            now: Self.now + 24 * Self.hour + 1)
        var b = MemoryReplica(site: Self.b)
        #expect(throws: MergeError.self) { try b.apply(a.changes(after: VersionVector()), now: Self.now) }
        try b.apply(a.changes(after: VersionVector()), now: Self.now + 1)
        var strict = MemoryReplica(site: Self.c)
        strict.clockGuardMilliseconds = 60_000
        #expect(throws: MergeError.self) {
            try strict.apply(a.changes(after: VersionVector()), now: Self.now + 24 * Self.hour - 60_000)
        }
    }

    @Test func changingANoteIsRejectedButKeptInTheChain() throws {
        var a = MemoryReplica(site: Self.a)
        let note = fixedID(0x70)
        try a.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("forename", .text("Ada"))])], now: Self.now)
        try a.write(
            author: "t", scope: Self.pupil,
            ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("first"))])], now: Self.now + 1)
        let edit = try a.write(
            author: "t", scope: Self.pupil,
            ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("changed"))])], now: Self.now + 2)
        try a.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("surname", .text("Lovelace"))])],
            now: Self.now + 3)
        #expect(a.rejected[edit.dot]?.contains("append-only") == true)

        var b = MemoryReplica(site: Self.b)
        let result = try b.apply(a.changes(after: VersionVector()), now: Self.now)
        #expect(result.count == 4)
        #expect(result[0] == .applied(conflictsOpened: 0, conflictsClosed: 0))
        #expect(result[1] == .applied(conflictsOpened: 0, conflictsClosed: 0))
        guard case .rejected(let reason) = result[2] else {
            Issue.record("the note edit was not rejected: \(result[2])")
            return
        }
        #expect(reason.contains("append-only"))
        #expect(result[3] == .applied(conflictsOpened: 0, conflictsClosed: 0))
        #expect(b.versionVector == VersionVector([Self.a: 4]))
        #expect(b.records[RecordKey(table: "note", scope: Self.pupil, id: note)]?["text"] == .text("first"))
        #expect(
            b.records[RecordKey(table: "pupil", scope: Self.pupil, id: Self.pupil)]?["surname"] == .text("Lovelace"))
        #expect(b.rejected == a.rejected)
        #expect(b.digest() == a.digest())
    }

    @Test func concurrentlyWrittenNotesWithOneIDAreNotAnEdit() throws {
        // Two sites that never saw each other's note cannot be "changing" it; both are kept.
        let note = fixedID(0x70)
        var a = MemoryReplica(site: Self.a)
        var b = MemoryReplica(site: Self.b)
        try a.write(
            author: "t", scope: Self.pupil,
            ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("a"))])], now: Self.now)
        try b.write(
            author: "t", scope: Self.pupil,
            ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("b"))])], now: Self.now)
        let fromA = a.changes(after: VersionVector())
        try a.apply(b.changes(after: VersionVector()), now: Self.now)
        try b.apply(fromA, now: Self.now)
        #expect(a.rejected.isEmpty && b.rejected.isEmpty)
        #expect(a.digest() == b.digest())
        #expect(a.openConflicts.count == 1)
    }

    static func rejection(of ops: [RecordOp]) -> String? {
        ChangeApplier.statelessRejection(
            of: Change(site: a, seq: 1, hlc: hlc(1), author: "t", scope: pupil, deps: VersionVector(), ops: ops))
    }

    @Test func statelessRules() {
        let plan = fixedID(0x71)
        #expect(Self.rejection(of: [Self.pupilOp([FieldWrite("forename", .text("Ada"))])]) == nil)
        #expect(
            Self.rejection(of: [
                RecordOp(table: "pupil", id: fixedID(0x99), writes: [FieldWrite("forename", .text("x"))])
            ])?.contains("outside its own scope") == true)
        #expect(Self.rejection(of: [])?.contains("no writes") == true)
        #expect(
            Self.rejection(of: [RecordOp(table: "support_plan", id: plan, writes: [])])?.contains("empty write") == true
        )
        #expect(
            Self.rejection(of: [
                RecordOp(table: "support_plan", id: plan, writes: [FieldWrite("title", .text("x"))]),
                RecordOp(table: "support_plan", id: plan, writes: [FieldWrite("status", .text("x"))]),
            ])?.contains("same record twice") == true)
        #expect(
            Self.rejection(of: [
                RecordOp(
                    table: "support_plan", id: plan,
                    writes: [FieldWrite("title", .text("x")), FieldWrite("title", .text("y"))])
            ])?
            .contains("field title twice") == true)
    }

    @Test(arguments: [
        ("pupil", "year_group", Value.text("4"), false),
        ("pupil", "forename", .integer(4), false),
        ("provision_item", "cost_pence", .text("£4.50"), false),
        ("support_plan", "deleted", .integer(2), false),
        ("support_plan", "deleted", .null, false),
        ("support_plan", "deleted", .text("1"), false),
        ("pupil", "year_group", .null, true),
        ("pupil", "year_group", .integer(-1), true),
        ("support_plan", "deleted", .integer(1), true),
        ("support_plan", "#50", .integer(1), true),  // unknown fields are kept
        ("#90", "#1", .text("x"), true),  // unknown tables are kept
    ])
    func valueTypes(_ table: String, _ field: String, _ value: Value, _ accepted: Bool) {
        let id = table == "pupil" ? Self.pupil : fixedID(0x72)
        let reason = Self.rejection(of: [RecordOp(table: table, id: id, writes: [FieldWrite(field, value)])])
        #expect((reason == nil) == accepted, "\(table).\(field) = \(value): \(reason ?? "accepted")")
    }

    @Test func rejectedChangesAdvanceTheChainAndDoNotMerge() throws {
        var a = MemoryReplica(site: Self.a)
        let change = try a.write(
            author: "t", scope: Self.pupil,
            ops: [RecordOp(table: "pupil", id: fixedID(0x99), writes: [FieldWrite("forename", .text("x"))])],
            now: Self.now)
        #expect(a.rejected[change.dot] != nil)
        #expect(a.records.isEmpty)
        #expect(a.versionVector == VersionVector([Self.a: 1]))
        #expect(a.scopeClock(Self.pupil) == VersionVector([Self.a: 1]))
    }

    @Test func duplicatesAndForks() throws {
        let a = try Self.replicaWithChanges(2)
        var b = MemoryReplica(site: Self.b)
        let all = a.changes(after: VersionVector())
        try b.apply(all, now: Self.now)
        let digest = b.digest()
        #expect(try b.apply(all, now: Self.now) == [.duplicate, .duplicate])
        #expect(b.digest() == digest)
        // A different change numbered 2 from the same site is a fork.
        var restored = MemoryReplica(site: Self.a)
        try restored.apply([all[0]], now: Self.now)
        try restored.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("surname", .text("Other"))])],
            now: Self.now + 9)
        do {
            try b.apply(restored.changes(after: VersionVector()), now: Self.now)
            Issue.record("a fork was accepted")
        } catch let error as MergeError {
            #expect(error.code == .fork)
        }
        #expect(b.digest() == digest)
    }

    @Test func malformedBodyIsRefused() throws {
        var b = MemoryReplica(site: Self.b)
        do {
            try b.apply(
                [EncodedChange(site: Self.a, seq: 1, header: [2, 1, 2, 3], content: [1, 2, 3])], now: Self.now)
            Issue.record("a malformed change was accepted")
        } catch let error as MergeError {
            #expect(error.code == .malformed)
        }
        #expect(b.versionVector.isEmpty)
    }

    @Test func changesComeOutInCausalOrder() throws {
        var a = MemoryReplica(site: Self.a)
        var b = MemoryReplica(site: Self.b)
        // b's clock runs an hour ahead; a's later change must still follow b's in the output.
        try b.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("forename", .text("B"))])],
            now: Self.now + Self.hour)
        try a.apply(b.changes(after: VersionVector()), now: Self.now)
        let later = try a.write(
            author: "t", scope: Self.pupil, ops: [Self.pupilOp([FieldWrite("forename", .text("A"))])], now: Self.now)
        #expect(later.hlc > HLC(milliseconds: Self.now + Self.hour, counter: 0))
        let out = a.changes(after: VersionVector())
        #expect(out.map(\.dot) == [Dot(site: Self.b, seq: 1), Dot(site: Self.a, seq: 1)])
        var c = MemoryReplica(site: Self.c)
        try c.apply(out, now: Self.now + Self.hour)
        #expect(c.digest() == a.digest())
    }
}
