import Foundation
import GRDB
import Testing

@testable import SENSync

/// The store keeps exactly the merge state a change produces: the same digest as an in-memory
/// replica fed the same changes, for awkward values, unknown fields and open conflicts.
struct StoreCodecTests {
    static let school = SiteIdentity(id: fixedID(0x11), name: "School", kind: .academy)
    static let la = SiteIdentity(id: fixedID(0x22), name: "LA", kind: .la)
    static let pupil = fixedID(0x50)
    static let plan = fixedID(0x51)

    /// A store and a memory replica for the same site, after the same local writes.
    static func both(_ writes: [[RecordOp]]) throws -> (Store, MemoryReplica) {
        let clock = TestClock()
        let store = try Store.inMemory(identity: school, now: clock.now)
        var replica = MemoryReplica(site: school.id)
        for ops in writes { try store.write(author: "SENCO", scope: pupil, ops: ops) }
        let changes = try storeChanges(store)
        try replica.apply(changes, now: baseMilliseconds + 86_400_000)
        return (store, replica)
    }

    /// Every change a store holds, read back through a bundle to an outside site.
    static func storeChanges(_ store: Store) throws -> [EncodedChange] {
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("all.bundle")
            try store.makeBundle(to: [fixedID(0xEE)], at: url)
            return try changes(inBundleAt: url)
        }
    }

    @Test(arguments: [
        Value.text("plain"), .text(""), .text("0012"), .text("123"), .text("1e5"), .text("NULL"), .text(" padded "),
        .text("Zoë 测试 📚 e\u{301}"), .text("line\nbreak\ttab"), .text("nul\u{0}inside"), .text(String(repeating: "x", count: 10_000)), .null,
    ])
    func textValuesSurviveTheStore(_ value: Value) throws {
        let (store, replica) = try Self.both([
            [RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("title", value), FieldWrite("deleted", .integer(0))])]
        ])
        #expect(try store.digest() == replica.digest())
        let title = try store.writer.read { db in
            try DatabaseValue.fetchOne(db, sql: "SELECT title FROM support_plan WHERE id = ?", arguments: [Self.plan.description])
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
    @Test func textWithNULConvergesWhateverTheOrder() throws {
        let clock = TestClock()
        let a = try Store.inMemory(identity: Self.school, now: clock.now)
        let b = try Store.inMemory(identity: Self.la, now: clock.now)
        let first = try Store.inMemory(identity: SiteIdentity(id: fixedID(0xE1), name: "One", kind: .trust), now: clock.now)
        let second = try Store.inMemory(identity: SiteIdentity(id: fixedID(0xE2), name: "Two", kind: .trust), now: clock.now)
        // The same note id written concurrently at two sites: both values are kept, b's wins.
        try a.write(author: "SENCO", scope: Self.pupil, ops: [RecordOp(table: "note", id: Self.plan, writes: [FieldWrite("text", .text("nul\u{0}inside"))])])
        try b.write(author: "LA", scope: Self.pupil, ops: [RecordOp(table: "note", id: Self.plan, writes: [FieldWrite("text", .text("later"))])])
        try withTemporaryDirectory { dir in
            let fromA = dir.appendingPathComponent("a.bundle")
            let fromB = dir.appendingPathComponent("b.bundle")
            try a.makeBundle(to: [first.identity.id, second.identity.id], at: fromA)
            try b.makeBundle(to: [first.identity.id, second.identity.id], at: fromB)
            try first.apply(bundleAt: fromA)
            try first.apply(bundleAt: fromB)
            try second.apply(bundleAt: fromB)
            try second.apply(bundleAt: fromA)
            var replica = MemoryReplica(site: fixedID(0xE3))
            try replica.apply(try changes(inBundleAt: fromA) + changes(inBundleAt: fromB), now: baseMilliseconds + 86_400_000)
            #expect(try first.digest() == second.digest())
            #expect(try first.digest() == replica.digest())
            #expect(try first.conflictSnapshot == second.conflictSnapshot)
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
        let (store, replica) = try Self.both([
            [
                RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("title", .text("t")), FieldWrite("future_field", .text("kept"))]),
                RecordOp(table: "future_table", id: future, writes: [FieldWrite("a", .integer(-7)), FieldWrite("b", .null)]),
            ]
        ])
        #expect(try store.digest() == replica.digest())
        #expect(try store.findRecord(Self.plan.description).state["future_field"] == .text("kept"))
        let generic = try store.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM generic_record WHERE table_name = 'future_table'") }
        #expect(generic == 1)
        // And they travel on: a store that receives the bundle holds them too.
        let other = try Store.inMemory(identity: Self.la)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("b.bundle")
            try store.makeBundle(to: [Self.la.id], at: url)
            try other.apply(bundleAt: url)
        }
        #expect(try other.digest() == store.digest())
    }

    @Test func conflictsAndTombstonesSurviveTheStore() throws {
        let clock = TestClock()
        let a = try Store.inMemory(identity: Self.school, now: clock.now)
        let b = try Store.inMemory(identity: Self.la, now: clock.now)
        try a.write(author: "SENCO", scope: Self.pupil, ops: [RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("title", .text("x")), FieldWrite("deleted", .integer(0))])])
        try withTemporaryDirectory { dir in
            let first = dir.appendingPathComponent("1.bundle")
            try a.makeBundle(to: [Self.la.id], at: first)
            try b.apply(bundleAt: first)
            // Concurrently: a edits the title twice, b deletes the plan and edits the title.
            try a.write(author: "SENCO", scope: Self.pupil, ops: [RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("title", .text("y"))])])
            try b.write(author: "LA", scope: Self.pupil, ops: [RecordOp(table: "support_plan", id: Self.plan, writes: [FieldWrite("deleted", .integer(1)), FieldWrite("title", .text("z"))])])
            let toB = dir.appendingPathComponent("2.bundle")
            let toA = dir.appendingPathComponent("3.bundle")
            try a.makeBundle(to: [Self.la.id], at: toB)
            try b.makeBundle(to: [Self.school.id], at: toA)
            try b.apply(bundleAt: toB)
            try a.apply(bundleAt: toA)
        }
        #expect(try a.digest() == b.digest())
        let conflicts = try a.conflicts()
        #expect(Set(conflicts.map(\.kind)) == [.concurrentEdit, .editedWhileDeleted])
        #expect(try a.conflictSnapshot == b.conflictSnapshot)
        var replica = MemoryReplica(site: fixedID(0xEE))
        try replica.apply(try Self.storeChanges(a), now: baseMilliseconds + 86_400_000)
        #expect(replica.digest() == (try a.digest()))
        #expect(replica.openConflicts.count == conflicts.count)
        #expect(try a.status().tombstoneCounts.first { $0.table == "support_plan" }?.count == 1)
    }
}
