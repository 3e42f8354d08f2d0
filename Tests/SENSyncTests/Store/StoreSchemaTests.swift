import Foundation
import GRDB
import Testing

@testable import SENSync

/// Pins the store's SQL schema, after each migration, to `Schemas/store-vN.sql`.
///
/// Each file holds every `sqlite_master` entry with SQL of a store migrated up to that migration,
/// ordered by type then name, one statement per entry, separated by ";\n\n". The comparison ignores
/// whitespace differences. Migrations are append-only, so a released file never changes; a new
/// migration comes with a new file. To write them on purpose, run
///
///     SENSYNC_REGENERATE_FIXTURES=1 swift test --filter StoreSchemaTests
///
/// and review the diff.
struct StoreSchemaTests {
    /// Each schema file and the migration it stops at.
    static let files: [(name: String, upTo: String)] = StoreSchema.knownMigrations.enumerated().map {
        ("store-v\($0.offset + 1).sql", $0.element)
    }

    /// The schema statements of a store migrated up to `migration`, in the file's order.
    static func migratedSchema(upTo migration: String) throws -> [String] {
        let queue = try DatabaseQueue()
        try StoreSchema.migrator.migrate(queue, upTo: migration)
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
        }
    }

    static func normalised(_ sql: String) -> String {
        sql.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            .replacingOccurrences(of: "( ", with: "(").replacingOccurrences(of: " )", with: ")")
    }

    @Test(arguments: files.map(\.name))
    func schemaMatchesTheCommittedFile(_ name: String) throws {
        let migration = Self.files.first { $0.name == name }!.upTo
        let file = repositoryRoot.appendingPathComponent("Schemas/\(name)")
        let statements = try Self.migratedSchema(upTo: migration)
        if regenerateFixtures {
            try (statements.joined(separator: ";\n\n") + ";\n").write(to: file, atomically: true, encoding: .utf8)
            print("regenerated \(file.path)")
        }
        let committed = try String(contentsOf: file, encoding: .utf8)
        let expected = committed.components(separatedBy: ";\n\n").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        .map { $0.hasSuffix(";") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty }
        #expect(expected.map(Self.normalised) == statements.map(Self.normalised))
    }

    @Test func theLatestSchemaFileIsAFullyMigratedStore() throws {
        #expect(Self.files.last!.upTo == StoreSchema.knownMigrations.last)
        #expect(Self.files.map(\.upTo) == StoreSchema.knownMigrations)
    }

    @Test func schemaFileIsInTheDocumentedOrder() throws {
        // Entries are ordered by type (index < table), then by name.
        let store = try Store.inMemory(identity: SiteIdentity(id: fixedID(1), name: "Schema", kind: .la))
        let rows = try store.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT type, name FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
                .map { "\($0[0] as String) \($0[1] as String)" }
        }
        #expect(rows.first == "index bundle_sent_by_recipient")
        #expect(rows.contains("table grdb_migrations"))
        #expect(rows.last == "table support_plan")  // the last table by name
    }

    /// A record is found by its id (or a prefix of it) without knowing its pupil, so every
    /// readable table needs an index led by `id`; without one, each lookup scans the table.
    @Test(arguments: RecordSchema.tables)
    func aRecordIsFoundByIdWithoutScanningItsTable(_ spec: TableSpec) throws {
        let store = try Store.inMemory(identity: SiteIdentity(id: fixedID(1), name: "Schema", kind: .la))
        let plan = try store.writer.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN SELECT pupil_id, id FROM \(spec.name) WHERE id >= ? AND id < ?",
                arguments: ["0196", "0196~"]
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING") && $0.contains("INDEX") && $0.contains("id>?") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
    }

    /// Each readable table is `pupil_id, id`, then the schema's fields and `crdt_clock` (fields
    /// appended by a later migration come after `crdt_clock`: columns are read by name).
    @Test(arguments: RecordSchema.tables)
    func readableTableColumnsFollowTheRecordSchema(_ spec: TableSpec) throws {
        let store = try Store.inMemory(identity: SiteIdentity(id: fixedID(1), name: "Schema", kind: .la))
        let columns = try store.writer.read { db in try db.columns(in: spec.name) }
        #expect(Array(columns.map(\.name).prefix(2)) == ["pupil_id", "id"])
        #expect(Set(columns.map(\.name)) == Set(["pupil_id", "id"] + spec.fields.map(\.name) + ["crdt_clock"]))
        for field in spec.fields {
            let column = try #require(columns.first { $0.name == field.name })
            #expect(column.type == (field.type == .integer ? "INTEGER" : "TEXT"), "\(spec.name).\(field.name)")
        }
        #expect(spec.isAppendOnly == !spec.fields.contains { $0.name == RecordState.deletedField })
        let primaryKey = try store.writer.read { db in try db.primaryKey(spec.name).columns }
        #expect(primaryKey == ["pupil_id", "id"])
    }

    /// A former UPN (a pupil named by an old UPN; every pupil of a CTF) is looked up among the
    /// pupils that have one, not by reading every pupil: a CTF import read the whole pupil table
    /// once for each pupil in the file.
    @Test func aFormerUPNIsLookedUpWithoutReadingEveryPupil() throws {
        let store = try Store.inMemory(identity: SiteIdentity(id: fixedID(1), name: "Schema", kind: .la))
        let plan = try store.writer.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN \(Store.formerHoldersSQL)", arguments: [syntheticUPN(1)]
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("pupil_former_upns") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN pupil") && !$0.contains("INDEX") }, "\(plan)")
    }

    /// A school's leavers (looked at by every bundle to it) are found among the enrolments that
    /// ended, not by reading each enrolment of the school.
    @Test func aSchoolsLeaversAreFoundWithoutReadingEachEnrolment() throws {
        let store = try Store.inMemory(identity: SiteIdentity(id: fixedID(1), name: "Schema", kind: .la))
        let plan = try store.writer.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "EXPLAIN QUERY PLAN SELECT DISTINCT pupil_id FROM enrolment WHERE school_id = ? AND leaving_date IS NOT NULL",
                arguments: ["school"]
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING") && $0.contains("INDEX enrolment_leavers") }, "\(plan)")
    }

    @Test func everyRecordTableHasACodec() {
        #expect(Set(TableCodec.all.keys) == Set(RecordSchema.tables.map(\.name)))
        // Tables travel by number: the numbers and names of released kinds never change, and new
        // kinds take the next number.
        let released = [
            "pupil", "enrolment", "note", "support_plan", "plan_outcome", "provision_item", "plan_review",
            "erasure", "concern", "concern_action", "referral", "escalation", "sen_episode", "sen_need",
            "ehc_assessment", "ehc_advice", "ehc_exception", "ehc_plan", "ehc_section", "ehc_review",
        ]
        #expect(Array(RecordSchema.tables.map(\.name).prefix(released.count)) == released)
        #expect(RecordSchema.tables.map(\.number) == Array(1...UInt64(RecordSchema.tables.count)))
        // Each release that adds kinds or fields adds a migration and bumps the record schema; a
        // migration that only adds indexes does not.
        #expect(
            Int(RecordSchema.version)
                == StoreSchema.knownMigrations.filter { !StoreSchema.storageOnlyMigrations.contains($0) }.count)
        #expect(StoreSchema.storageOnlyMigrations.isSubset(of: StoreSchema.knownMigrations))
        for table in RecordSchema.tables {
            let numbers = table.fields.map(\.number)
            #expect(Set(numbers).count == numbers.count, "\(table.name)")
            #expect(table.field(RecordState.deletedField).map { $0.number == 0 } ?? table.isAppendOnly)
        }
    }

    @Test func aStoreWrittenByANewerVersionIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("newer.sensync").path
            let store = try Store.create(at: path, identity: SiteIdentity(id: fixedID(1), name: "Newer", kind: .la))
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999')")
            }
            try store.checkpoint()
            do {
                _ = try Store.open(at: path)
                Issue.record("a store from a newer version opened")
            } catch let error as StoreError {
                #expect(error.code == .newerStore)
            }
        }
    }

    /// An empty file (a copy that failed) is not a store, and refusing it leaves it empty: every
    /// command, reading or writing, wrote a whole store schema into it and then refused it.
    @Test(arguments: [Store.Access.readOnly, .readWrite, .rollbackOnly])
    func anEmptyFileIsRefusedAndLeftEmpty(_ access: Store.Access) throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("empty.sensync").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let error = #expect(throws: StoreError.self) { _ = try Store.open(at: path, access: access) }
            #expect(error?.code == .notAStore)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
            #expect(size == 0)
        }
    }

    /// Another program's SQLite database given as the store (a mistyped `--store`) is refused and
    /// left byte for byte as it was: opening it to write used to switch it to WAL journaling and
    /// write into it before finding it was no store.
    @Test(arguments: [Store.Access.readOnly, .readWrite, .rollbackOnly], [false, true])
    func anotherProgramsDatabaseIsRefusedAndLeftAsItWas(_ access: Store.Access, wal: Bool) throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("other.db").path
            let other = try DatabaseQueue(path: path)
            try other.writeWithoutTransaction { db in
                if wal { try db.execute(sql: "PRAGMA journal_mode = WAL") }
                try db.execute(sql: "CREATE TABLE t (a); INSERT INTO t VALUES (1)")
            }
            try other.close()
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = #expect(throws: StoreError.self) { _ = try Store.open(at: path, access: access) }
            #expect(error?.code == .notAStore)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
            #expect(!FileManager.default.fileExists(atPath: path + "-wal") || wal)
        }
    }

    /// A store from before origin-signed history that holds changes cannot be carried forward:
    /// it is refused with what to do, and left as it was.
    @Test func aStoreWithUnsignedHistoryIsRefused() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("older.sensync").path
            let queue = try DatabasePool(path: path)
            try StoreSchema.migrator.migrate(queue, upTo: "v2-trust-and-scope")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO site_identity (singleton, site_id, name, kind, created_at)
                        VALUES (1, '\(fixedID(3))', 'Older', 'la', '2026-01-01');
                        INSERT INTO site (site_id) VALUES ('\(fixedID(3))');
                        INSERT INTO change_log (site_ord, first_seq, last_seq, prev_hash, last_hash, max_hlc, changes)
                        VALUES (1, 1, 1, zeroblob(32), zeroblob(32), 0, x'00');
                        """)
            }
            try queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            try queue.close()
            do {
                _ = try Store.open(at: path)
                Issue.record("a store with unsigned history opened")
            } catch let error as StoreError {
                #expect(error.code == .olderStore)
                #expect(error.hint?.contains("sensync init") == true)
            }
            // Nothing was migrated or lost: the old history is still there for the older release.
            let check = try DatabaseQueue(path: path)
            let (migrations, changes) = try check.read { db in
                (
                    try StoreSchema.migrator.appliedIdentifiers(db),
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM change_log") ?? 0
                )
            }
            #expect(migrations == ["v1", "v2-trust-and-scope"])
            #expect(changes == 1)
        }
    }

    @Test func openingAStoreKeepsItsIdentity() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("site.sensync").path
            let identity = SiteIdentity(
                id: fixedID(7), name: "Oakfield", kind: .maintainedSchool, urn: "123456", laCode: "801")
            _ = try Store.create(at: path, identity: identity)
            #expect(try Store.open(at: path).identity == identity)
            #expect(throws: StoreError.self) { try Store.create(at: path, identity: identity) }
            #expect(throws: StoreError.self) { try Store.open(at: dir.appendingPathComponent("missing.sensync").path) }
        }
    }

    /// Every state a `create` killed part way can leave (made here from a finished store's files
    /// under the staging names) lets the same create run again, or is a whole store; a key file
    /// with no staging beside it is never removed.
    @Test func aCreateKilledPartWayLeavesNothingThatBlocksTheNext() throws {
        try withTemporaryDirectory { dir in
            let fm = FileManager.default
            let path = dir.appendingPathComponent("site.sensync").path
            let keyPath = KeyFile.path(forStore: path)
            let suffix = StagedCreate.suffix
            let identity = SiteIdentity(id: fixedID(9), name: "Oakfield", kind: .maintainedSchool)
            func clear() throws {
                for file in try fm.contentsOfDirectory(atPath: dir.path) {
                    try fm.removeItem(atPath: dir.appendingPathComponent(file).path)
                }
            }
            /// A finished store's files, moved to the names a killed create leaves.
            func leave(stagedStore: Bool, stagedKey: Bool, placedKey: Bool, placedStore: Bool) throws {
                try clear()
                let other = dir.appendingPathComponent("other.sensync").path
                _ = try Store.create(at: other, identity: SiteIdentity(id: fixedID(10), name: "Elm", kind: .academy))
                let otherKeys = KeyFile.path(forStore: other)
                if stagedKey { try fm.copyItem(atPath: otherKeys, toPath: keyPath + suffix) }
                if placedKey { try fm.copyItem(atPath: otherKeys, toPath: keyPath) }
                if placedStore {
                    try fm.moveItem(atPath: other, toPath: path)
                } else if stagedStore {
                    try fm.moveItem(atPath: other, toPath: path + suffix)
                }
                try? fm.removeItem(atPath: other)
                try fm.removeItem(atPath: otherKeys)
            }
            let interrupted: [(stagedStore: Bool, stagedKey: Bool, placedKey: Bool)] = [
                (false, true, false), (true, true, false), (true, true, true), (true, false, false),
            ]
            for state in interrupted {
                try leave(
                    stagedStore: state.stagedStore, stagedKey: state.stagedKey, placedKey: state.placedKey,
                    placedStore: false)
                let store = try Store.create(at: path, identity: identity)
                _ = try store.keys()
                let files = try fm.contentsOfDirectory(atPath: dir.path).filter {
                    !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm")
                }
                #expect(files.sorted() == ["site.sensync", "site.sensync.keys"], "\(state)")
            }
            // Killed while the key file was being put in place: one part written, or none (the
            // create had opened it). The retry refused: "a store or key file already exists".
            for kept in [0, 40] {
                try leave(stagedStore: true, stagedKey: true, placedKey: true, placedStore: false)
                let whole = try #require(fm.contents(atPath: keyPath))
                try whole.prefix(kept).write(to: URL(fileURLWithPath: keyPath))
                let store = try Store.create(at: path, identity: identity)
                _ = try store.keys()
                #expect(!fm.fileExists(atPath: keyPath + suffix), "\(kept) bytes")
            }
            // Killed after the store was put in place: the store is whole; opening it tidies up.
            try leave(stagedStore: false, stagedKey: true, placedKey: true, placedStore: true)
            _ = try Store.open(at: path).keys()
            #expect(!fm.fileExists(atPath: keyPath + suffix))
            // A key file with no staged one beside it may belong to a store moved away: kept.
            try leave(stagedStore: true, stagedKey: false, placedKey: true, placedStore: false)
            #expect(throws: StoreError.self) { try Store.create(at: path, identity: identity) }
            #expect(fm.fileExists(atPath: keyPath))
        }
    }

    /// A store opened read-only reads as usual, refuses writes, and leaves its file byte for byte
    /// as it was; so does one opened for trial writes that are rolled back.
    @Test func aReadOnlyOpenLeavesTheFileAsItWas() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("site.sensync").path
            let identity = SiteIdentity(id: fixedID(8), name: "Oakfield", kind: .maintainedSchool)
            let store = try Store.create(at: path, identity: identity)
            let pupil = NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Test", dateOfBirth: "2016-01-01")
            try store.addPupil(pupil, author: "SENCO")
            try store.checkpoint()
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            for access in [Store.Access.readOnly, .rollbackOnly] {
                let opened = try Store.open(at: path, access: access)
                #expect(try opened.pupils().count == 1)
                #expect(opened.identity == identity)
                if access == .readOnly {
                    #expect(throws: (any Error).self) {
                        try opened.addPupil(
                            NewPupil(upn: syntheticUPN(2), forename: "Bo", surname: "Test", dateOfBirth: "2016-01-01"),
                            author: "SENCO")
                    }
                }
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "\(access)")
            }
            // A read-write open commits as it opens (GRDB primes the WAL), so the file moves once
            // that is checkpointed: what this test tells apart.
            try Store.open(at: path).checkpoint()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) != before)
        }
    }
}
