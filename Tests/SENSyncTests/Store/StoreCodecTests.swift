import Foundation
import GRDB
import Testing

@testable import SENSync

/// The store keeps exactly the merge state a change produces: the same digest as an in-memory
/// replica fed the same changes, for awkward values, unknown fields and open conflicts. The
/// changes are read back from the store's own log (``Store/storedChanges()``), not through a
/// bundle; values that must travel are sent inside a real area (LA, directory, pinned keys).
struct StoreCodecTests {
    static let la = SiteIdentity(id: fixedID(0x22), name: "LA", kind: .la)
    static let pupil = fixedID(0x50)
    static let plan = fixedID(0x51)

    /// An LA store after `writes` (each one change about ``pupil``), and a memory replica fed the
    /// changes read back from the store's log.
    static func both(_ writes: [[RecordOp]]) throws -> (Store, MemoryReplica) {
        let store = try Store.inMemory(identity: la, now: TestClock().now)
        for ops in writes { try store.write(author: "SENCO", scope: pupil, ops: ops) }
        let changes = try store.storedChanges()
        #expect(changes.count == writes.count)
        return (store, try MemoryReplica.replaying(changes, as: fixedID(0xEE)))
    }

    /// A pupil record and an enrolment at `school`, as one change's ops.
    static func pupilOps(_ pupil: RecordID, at school: SiteID, enrolment: RecordID) -> [RecordOp] {
        [
            RecordOp(
                table: "pupil", id: pupil,
                writes: [
                    FieldWrite("upn", .text(syntheticUPN(1))), FieldWrite("forename", .text("Ada")),
                    FieldWrite("surname", .text("Example")),
                    FieldWrite("date_of_birth", .text("2016-04-01")),
                ]),
            RecordOp(
                table: "enrolment", id: enrolment,
                writes: [
                    FieldWrite("school_id", .text(school.description)), FieldWrite("entry_date", .text("2025-09-03")),
                ]),
        ]
    }

    @Test(arguments: [
        Value.text("plain"), .text(""), .text("0012"), .text("123"), .text("1e5"), .text("NULL"), .text(" padded "),
        .text("Zoë 测试 📚 e\u{301}"), .text("line\nbreak\ttab"), .text("nul\u{0}inside"),
        .text(String(repeating: "x", count: 10_000)), .null,
    ])
    func textValuesSurviveTheStore(_ value: Value) throws {
        let (store, replica) = try Self.both([
            [
                RecordOp(
                    table: "support_plan", id: Self.plan,
                    writes: [FieldWrite("title", value), FieldWrite("deleted", .integer(0))])
            ]
        ])
        #expect(try store.digest() == replica.digest())
        let title = try store.writer.read { db in
            try DatabaseValue.fetchOne(
                db, sql: "SELECT title FROM support_plan WHERE id = ?", arguments: [Self.plan.description])
        }
        // The column is for readers such as the sqlite3 shell; text with a NUL shows up to it.
        let shown = value.text.map { Value.text(String($0.prefix { $0 != "\u{0}" })) } ?? value
        #expect(title.map(Value.init) == shown)
        #expect(try store.findRecord(Self.plan.description).state["title"] == value)
    }

    /// SQLite's text binding stops at U+0000, so a winning value holding one cannot live in its
    /// column: two stores receiving the same concurrent writes in different orders used to
    /// disagree (one kept the value whole as a losing head, the other truncated it as the winner
    /// and kept the truncated text when it lost).
    ///
    /// In an area: a pupil dual-registered at an academy and a maintained school. The academy's
    /// trust and the LA write the same note id concurrently (the LA's later value wins); the
    /// academy applies the trust's bundle first, the school the LA's.
    @Test func textWithNULConvergesWhateverTheOrder() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.add("School", .maintainedSchool)
            let pupil = fixedID(0x60)
            var ops = Self.pupilOps(pupil, at: area["Academy"].identity.id, enrolment: fixedID(0x61))
            ops.append(
                RecordOp(
                    table: "enrolment", id: fixedID(0x62),
                    writes: [
                        FieldWrite("school_id", .text(area["School"].identity.id.description)),
                        FieldWrite("entry_date", .text("2025-09-03")),
                    ]))
            try area.la.write(author: "LA officer", scope: pupil, ops: ops)
            for to in ["Trust", "Academy", "School"] { try area.send("LA", to) }
            #expect(try area["Trust"].heldPupils() == [pupil])

            let note = fixedID(0x63)
            try area["Trust"].write(
                author: "Trust", scope: pupil,
                ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("nul\u{0}inside"))])])
            try area.la.write(
                author: "LA officer", scope: pupil,
                ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("later"))])])
            let trustToAcademy = try area.make("Trust", "Academy")
            let laToAcademy = try area.make("LA", "Academy")
            let laToSchool = try area.make("LA", "School")
            let trustToSchool = try area.make("Trust", "School")
            try area.send("Trust", "LA")
            try area["Academy"].apply(bundleAt: trustToAcademy)
            try area["Academy"].apply(bundleAt: laToAcademy)
            try area["School"].apply(bundleAt: laToSchool)
            try area["School"].apply(bundleAt: trustToSchool)

            let academy = area["Academy"]
            let school = area["School"]
            #expect(try academy.versionVector() == school.versionVector())
            #expect(try academy.digest() == school.digest())
            #expect(try academy.conflictSnapshot == school.conflictSnapshot)
            #expect(try academy.conflicts().count == 1)
            #expect(try academy.notes(of: pupil.description).map(\.text) == ["later"])
            // Both equal a memory replica fed every change the two bundles carried (each once).
            var carried: [Dot: StoredChange] = [:]
            for url in [laToAcademy, trustToAcademy] {
                for item in try storedChanges(inBundleAt: url, openedBy: academy) { carried[item.dot] = item }
            }
            #expect(carried.count == 3)
            let replica = try MemoryReplica.replaying(
                carried.values.sorted { ($0.header.hlc, $0.change.site) < ($1.header.hlc, $1.change.site) },
                as: fixedID(0xE3))
            #expect(try academy.digest() == replica.digest())
            #expect(try academy.conflictLines == replica.conflictLines)
            #expect(try area.la.digest() == replica.digest())
        }
    }

    @Test(arguments: [Int64.min, -1, 0, 1, Int64.max])
    func integerValuesSurviveTheStore(_ n: Int64) throws {
        let (store, replica) = try Self.both([
            [RecordOp(table: "provision_item", id: Self.plan, writes: [FieldWrite("cost_pence", .integer(n))])]
        ])
        #expect(try store.digest() == replica.digest())
        #expect(try store.findRecord(Self.plan.description).state["cost_pence"] == .integer(n))
    }

    @Test func unknownFieldsAndTablesAreKept() throws {
        let future = fixedID(0x52)
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("School", .maintainedSchool)
            try area.la.write(
                author: "LA officer", scope: Self.pupil,
                ops: Self.pupilOps(Self.pupil, at: school.identity.id, enrolment: fixedID(0x53)))
            try area.la.write(
                author: "LA officer", scope: Self.pupil,
                ops: [
                    RecordOp(
                        table: "support_plan", id: Self.plan,
                        writes: [FieldWrite("title", .text("t")), FieldWrite("#50", .text("kept"))]),
                    RecordOp(
                        table: "#90", id: future,
                        writes: [FieldWrite("#1", .integer(-7)), FieldWrite("#2", .null)]),
                ])
            let replica = try MemoryReplica.replaying(try area.la.storedChanges(), as: fixedID(0xEE))
            #expect(try area.la.digest() == replica.digest())
            #expect(try area.la.findRecord(Self.plan.description).state["#50"] == .text("kept"))
            let generic = try area.la.writer.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM generic_record WHERE table_name = '#90'")
            }
            #expect(generic == 1)
            // And they travel on: the school, which sees the pupil, holds them too.
            let report = try area.send("LA", "School")
            #expect(report.applied == 2 && report.rejected.isEmpty)
            #expect(try school.digest() == area.la.digest())
            #expect(try school.findRecord(Self.plan.description).state["#50"] == .text("kept"))
        }
    }

    @Test func conflictsAndTombstonesSurviveTheStore() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let a = try area.add("School", .maintainedSchool)
            let b = area.la
            try area.send("LA", "School")
            let pupil = try a.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try a.write(
                author: "SENCO", scope: pupil,
                ops: [
                    RecordOp(
                        table: "support_plan", id: Self.plan,
                        writes: [FieldWrite("title", .text("x")), FieldWrite("deleted", .integer(0))])
                ])
            try area.send("School", "LA")
            // Concurrently: the school edits the title, the LA deletes the plan and edits the title.
            try a.write(
                author: "SENCO", scope: pupil,
                ops: [RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("title", .text("y"))])])
            try b.write(
                author: "LA", scope: pupil,
                ops: [
                    RecordOp(
                        table: "support_plan", id: Self.plan,
                        writes: [FieldWrite("deleted", .integer(1)), FieldWrite("title", .text("z"))])
                ])
            let toB = try area.make("School", "LA")
            let toA = try area.make("LA", "School")
            try b.apply(bundleAt: toB)
            try a.apply(bundleAt: toA)
            #expect(try a.digest() == b.digest())
            let conflicts = try a.conflicts()
            #expect(Set(conflicts.map(\.kind)) == [.concurrentEdit, .editedWhileDeleted])
            #expect(try a.conflictSnapshot == b.conflictSnapshot)
            for store in [a, b] {
                let replica = try MemoryReplica.replaying(try store.storedChanges(), as: fixedID(0xEE))
                #expect(replica.digest() == (try store.digest()))
                #expect(replica.conflictLines == (try store.conflictLines))
            }
            #expect(try a.status().tombstoneCounts.first { $0.table == "support_plan" }?.count == 1)
        }
    }
}
