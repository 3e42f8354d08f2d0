import Foundation
import GRDB

/// One site's SQLite store: its identity, readable record tables, change log, merge state,
/// conflict queue, peer acknowledgements, import log, and — at the LA — the area directory.
///
/// A store is one file (WAL mode, busy timeout, secure delete), readable with the `sqlite3` shell.
/// Its private keys live in a key file beside it (`<store>.keys`, owner-only). Every local write is
/// one change in one transaction; every bundle is applied in one transaction.
///
/// ```swift
/// let la = try Store.create(at: "/data/northshire.sensync",
///                           identity: SiteIdentity(id: .v7(), name: "Northshire", kind: .la))
/// let school = try Store.create(at: "/data/oakfield.sensync",
///                               identity: SiteIdentity(id: .v7(), name: "Oakfield Primary", kind: .maintainedSchool),
///                               la: la.publicIdentity)
/// try la.addToDirectory(school.publicIdentity)
/// ```
public final class Store: Sendable {
    /// The database. Code outside this file reaches it through ``writer``.
    private let database: any DatabaseWriter
    /// Who this site is.
    public let identity: SiteIdentity
    /// This site's public keys.
    public let publicKeys: PublicKeys
    /// The store file, or `nil` for an in-memory store.
    public let path: String?

    /// A warning to show when other accounts on this computer can read the store's files (stores
    /// are created owner-only; a copied or older one may not be).
    public var exposureWarning: String? { path.flatMap(PrivateFiles.exposure(ofStore:)) }
    /// A warning to show before a local write when the key file is missing, readable by other
    /// accounts or damaged: the write does not need the keys, but this site could not send it (or
    /// anything else) in a bundle until the key file is put right.
    public var keyFileWarning: String? {
        guard memoryKeys == nil, path != nil else { return nil }
        let problem: String
        let hint: String
        do {
            _ = try keys()
            return nil
        } catch let error as SecurityError {
            switch error.code {
            case .keyFileExposed: problem = "other accounts on this computer can read this site's key file"
            case .keyFileMissing: problem = "this site's key file is missing"
            default: problem = "this site's key file is damaged or belongs to another site"
            }
            hint = error.hint
        } catch {
            problem = "this site's key file cannot be read"
            hint = "Restore it from your secure backup."
        }
        return
            "Warning: \(problem). Changes made here are kept, but no bundle can be made until the key file is put right. \(hint)"
    }
    /// How far ahead of this machine's clock an incoming change may be stamped.
    public let clockGuardSeconds: Int
    /// Keys of an in-memory store (a file store reads its key file when it needs them).
    private let memoryKeys: SiteKeys?

    /// The wall clock, in Unix milliseconds. Replaceable for tests and the demo.
    let now: @Sendable () -> UInt64

    private init(writer: any DatabaseWriter, path: String?, keys: SiteKeys?, now: @escaping @Sendable () -> UInt64)
        throws
    {
        self.database = writer
        self.path = path
        self.now = now
        self.memoryKeys = keys
        let loaded = try writer.read { db -> (SiteIdentity, Int, PublicKeys)? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT site_id, name, kind, urn, la_code, clock_guard_seconds, signing_key, agreement_key FROM site_identity"
                )
            else { return nil }
            guard let id = SiteID(row[0] as String), let kind = SiteKind(rawValue: row[2]) else { return nil }
            let keys = PublicKeys(
                signing: Array((row[6] as Data?) ?? Data()), agreement: Array((row[7] as Data?) ?? Data()))
            return (SiteIdentity(id: id, name: row[1], kind: kind, urn: row[3], laCode: row[4]), row[5], keys)
        }
        guard let (identity, guardSeconds, publicKeys) = loaded else {
            throw StoreError(.notAStore, "This file is not a SENSync store.", hint: "Check the --store path.")
        }
        self.identity = identity
        self.clockGuardSeconds = guardSeconds
        self.publicKeys = publicKeys
    }

    /// The system clock in Unix milliseconds: the default for `now`.
    public static func systemNow() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    private static func configuration() -> Configuration {
        var config = Configuration()
        // A write waits for another command's to finish: a large import or an LA's first sync
        // holds the store for tens of seconds (10 s was too short for 140,000 rows).
        config.busyMode = .timeout(60)
        config.label = "SENSync"
        config.prepareDatabase { db in
            // Deleted content (an erased pupil, a pupil who left) is overwritten, not left in
            // free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        return config
    }

    /// Creates a new store file for a site, with new keys in a key file beside it.
    ///
    /// - Parameters:
    ///   - la: The LA's public identity, pinned so this site accepts only directories the LA
    ///     signed. Not used when the site is itself an LA. Can be pinned later with ``pinLA(_:)``.
    /// - Throws: ``StoreError`` if the store or key file exists, or the details are invalid.
    public static func create(
        at path: String, identity: SiteIdentity, la: PublicIdentity? = nil, clockGuardSeconds: Int = 86_400,
        now: @escaping @Sendable () -> UInt64 = Store.systemNow
    ) throws -> Store {
        try validate(identity, la: la)
        // The name as other sites will see and type it: trimmed, of a name's length and characters
        // (a padded name was not found by its words; a 10,000-character one was taken).
        var identity = identity
        identity.name = try Check.text(identity.name, "site name", max: 100)
        let keyPath = KeyFile.path(forStore: path)
        StagedCreate.removeLeftovers(ofStore: path)
        guard !FileManager.default.fileExists(atPath: path), !FileManager.default.fileExists(atPath: keyPath) else {
            throw StoreError(
                .storeExists, "A store or key file already exists at that path.",
                hint: "Choose another --store path, or use the existing store.")
        }
        // Made under staging names, then put in place key file first, store last: killed at any
        // moment, this leaves a whole store with its key file, or staging files that the next
        // create at this path removes (with a key file it put in place for a store that never was).
        let staged = StagedCreate(store: path)
        let keys = SiteKeys.generate()
        var placedKeyFile = false
        do {
            do {
                try KeyFile.write(keys, site: identity.id, to: staged.keyFile)
            } catch {
                throw StoreError(
                    .file, "Could not create the key file beside the store.",
                    hint: "Check the folder exists and is writable.")
            }
            // Created owner-only before SQLite opens it; SQLite gives its WAL and shared-memory
            // files the same mode.
            guard PrivateFiles.createEmpty(atPath: staged.store) else {
                throw StoreError(
                    .file, "Could not create the store file.", hint: "Check the folder exists and is writable.")
            }
            let pool = try DatabasePool(path: staged.store, configuration: configuration())
            try initialise(pool, identity: identity, keys: keys, la: la, clockGuardSeconds: clockGuardSeconds, now: now)
            try pool.close()
            try staged.placeKeyFile(keys, site: identity.id)
            placedKeyFile = true
            guard rename(staged.store, path) == 0 else {
                throw StoreError(
                    .file, "Could not put the new store file in place.",
                    hint: "Check the folder is writable and nothing else is creating a store there.")
            }
            PrivateFiles.syncFolder(of: path)
            try? FileManager.default.removeItem(atPath: staged.keyFile)
        } catch {
            if placedKeyFile { try? FileManager.default.removeItem(atPath: keyPath) }
            staged.remove()
            if let error = error as? StoreError { throw error }
            throw StoreError(
                .database, "Could not create the store file (\(error)).",
                hint: "Check the folder exists and is writable.")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration())
        } catch {
            throw StoreError(
                .database, "Could not open the new store file (\(error)).",
                hint: "Check the folder exists and is writable.")
        }
        PrivateFiles.restrict(store: path)
        return try Store(writer: pool, path: path, keys: nil, now: now)
    }

    /// Creates a store held in memory, keys included (tests, benchmarks).
    ///
    /// - Parameter keys: Fixed keys for reproducible fixtures; new random keys when `nil`.
    public static func inMemory(
        identity: SiteIdentity, la: PublicIdentity? = nil, clockGuardSeconds: Int = 86_400,
        keys fixedKeys: SiteKeys? = nil,
        now: @escaping @Sendable () -> UInt64 = Store.systemNow
    ) throws -> Store {
        try validate(identity, la: la)
        let keys = fixedKeys ?? SiteKeys.generate()
        let queue = try DatabaseQueue(configuration: configuration())
        try initialise(queue, identity: identity, keys: keys, la: la, clockGuardSeconds: clockGuardSeconds, now: now)
        return try Store(writer: queue, path: nil, keys: keys, now: now)
    }

    /// How a store is opened.
    public enum Access: Sendable {
        /// Reads and writes; the store is upgraded if this build is newer.
        case readWrite
        /// Reads only: SQLite opens the file read-only, so it stays byte for byte as it was (no
        /// change counter or schema cookie bumped, no checkpoint); a write through it fails. A store that needs upgrading is upgraded once
        /// first.
        case readOnly
        /// Reads, and writes only in transactions that are rolled back (`bundle verify` tries a
        /// bundle this way). SQLite opens the file read-write but nothing is ever committed, so it
        /// too stays byte for byte as it was.
        case rollbackOnly
    }

    /// Opens an existing store, migrating it if this build is newer.
    ///
    /// - Parameter access: `.readOnly` for commands that only read (`status`, `digest`, reports,
    ///   `bundle verify`, …): they leave the file untouched.
    /// - Throws: ``StoreError`` if there is no store at `path`, the file is not a store, or it
    ///   was written by a newer SENSync.
    public static func open(
        at path: String, access: Access = .readWrite, now: @escaping @Sendable () -> UInt64 = Store.systemNow
    ) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(
                .storeNotFound, "There is no store at the given path.",
                hint: "Check --store, or create one with `sensync init`.")
        }
        // An empty file (a copy that failed) is no store: opening it to find out would write a
        // database header into it.
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0
        }
        if size(path) == 0 && size(path + "-wal") == 0 {
            throw StoreError(
                .notAStore, "This file is not a SENSync store (it is empty).",
                hint: "Check the --store path; a store is made with `sensync init`.")
        }
        // A create killed after putting the store in place leaves its staged key file.
        StagedCreate.removeLeftovers(ofStore: path)
        let writer: any DatabaseWriter
        do {
            switch access {
            case .readWrite:
                // Checked through a read-only connection first: opening a pool switches the file to
                // WAL journaling and writes into it, which another program's database given as
                // the store (a mistyped --store) must be spared.
                var probe = configuration()
                probe.readonly = true
                let applied = try checkMigrations(DatabaseQueue(path: path, configuration: probe))
                let pool = try DatabasePool(path: path, configuration: configuration())
                // Only when there is something to do: migrating writes (the schema cookie and
                // change counter move) even when every migration has run.
                if applied.count < StoreSchema.knownMigrations.count {
                    try StoreSchema.migrator.migrate(pool)
                    // Records are rewritten only when a migration taught the store new tables or
                    // fields: after one that adds only an index, it read and rewrote every record
                    // (a second for a 10,000-pupil school, once per upgrade).
                    let new = StoreSchema.knownMigrations.filter { !applied.contains($0) }
                    if !applied.isEmpty, new.contains(where: { !StoreSchema.storageOnlyMigrations.contains($0) }) {
                        try pool.write { db in try adoptNewlyKnownFields(in: db) }
                    }
                }
                writer = pool
            case .readOnly, .rollbackOnly:
                // One connection, not a pool: a pool primes the WAL with a committed write when it
                // opens.
                var config = configuration()
                config.readonly = access == .readOnly
                var queue: DatabaseQueue? = try DatabaseQueue(path: path, configuration: config)
                if try checkMigrations(queue!).count < StoreSchema.knownMigrations.count {
                    // Written by an older SENSync: upgraded once, then read as usual.
                    queue = nil
                    _ = try open(at: path, access: .readWrite, now: now)
                    queue = try DatabaseQueue(path: path, configuration: config)
                }
                writer = queue!
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(
                .notAStore, "This file is not a SENSync store, or it is damaged.", hint: "Check the --store path.")
        }
        return try Store(writer: writer, path: path, keys: nil, now: now)
    }

    /// The migrations a store has had, after checking this build can open it.
    private static func checkMigrations(_ reader: any DatabaseReader) throws -> Set<String> {
        let (applied, oldChanges) = try reader.read { db in
            let applied = try StoreSchema.migrator.appliedIdentifiers(db)
            let old =
                applied.contains("v1") && !applied.contains("v3-origin-signed")
                ? try Int.fetchOne(db, sql: "SELECT count(*) FROM change_log") ?? 0 : 0
            return (applied, old)
        }
        let unknown = applied.subtracting(StoreSchema.knownMigrations)
        guard unknown.isEmpty else {
            throw StoreError(
                .newerStore, "This store was written by a newer version of SENSync.",
                hint: "Install the newer version to use it.")
        }
        // No migration at all: an empty file (a copy that failed, a file made by hand), not a
        // store. Migrating it would write a whole schema into a file the command then refuses.
        guard !applied.isEmpty else {
            throw StoreError(
                .notAStore, "This file is not a SENSync store (it holds no store tables).",
                hint: "Check the --store path; a store is made with `sensync init`.")
        }
        guard oldChanges == 0 else {
            throw StoreError(
                .olderStore,
                "This store was made by an older SENSync whose change history carries no origin signatures, so it cannot be upgraded.",
                hint:
                    "Initialise a new store with `sensync init` and record the pupils again, or keep using the older SENSync release."
            )
        }
        return applied
    }

    /// After a migration that taught this store new tables or fields: records of those tables that
    /// arrived earlier (kept whole, by number) move into their tables, and fields kept as `#n` take
    /// their names and columns, so old and new writes of a field merge as one.
    static func adoptNewlyKnownFields(in db: Database) throws {
        var tx = try StoreTransaction(db)
        let known = Set(RecordSchema.tables.map(\.name))
        for row in try Row.fetchAll(db, sql: "SELECT table_name, pupil_id, id FROM generic_record") {
            let number = RecordSchema.unknownNumber(row[0] as String)
            guard
                let table = number.flatMap({ RecordSchema.table(number: $0) })?.name
                    ?? (known.contains(row[0]) ? row[0] : nil),
                let scope = RecordID(row[1] as String), let id = RecordID(row[2] as String)
            else { continue }
            let old = RecordKey(table: row[0], scope: scope, id: id)
            guard let state = try tx.record(old) else { continue }
            try db.execute(
                sql: "DELETE FROM generic_record WHERE table_name = ? AND pupil_id = ? AND id = ?",
                arguments: [old.table, scope.description, id.description])
            try db.execute(
                sql: "UPDATE conflict SET table_name = ? WHERE table_name = ? AND pupil_id = ? AND record_id = ?",
                arguments: [table, old.table, scope.description, id.description])
            try tx.saveRecord(
                renamed(state, in: table), for: RecordKey(table: table, scope: scope, id: id), changedFields: [])
        }
        for spec in RecordSchema.tables {
            for row in try Row.fetchAll(db, sql: "SELECT pupil_id, id FROM \(spec.name)") {
                guard let scope = RecordID(row[0] as String), let id = RecordID(row[1] as String) else { continue }
                let key = RecordKey(table: spec.name, scope: scope, id: id)
                guard let state = try tx.record(key) else { continue }
                try tx.saveRecord(state, for: key, changedFields: [])
            }
            for field in spec.fields where field.number > 0 {
                try db.execute(
                    sql: "UPDATE conflict SET field = ? WHERE table_name = ? AND field = ?",
                    arguments: [field.name, spec.name, RecordSchema.unknownName(field.number)])
            }
        }
    }

    private static func renamed(_ state: RecordState, in table: String) -> RecordState {
        var fields: [String: FieldState] = [:]
        for (name, field) in state.fields {
            fields[RecordSchema.unknownNumber(name).map { RecordSchema.fieldName($0, inTable: table) } ?? name] = field
        }
        return RecordState(fields: fields)
    }

    static func validate(_ identity: SiteIdentity, la: PublicIdentity?) throws {
        guard !identity.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError(.invalidInput, "The site name is empty.", hint: "Give --name.")
        }
        if let urn = identity.urn, !SiteRules.isValidURN(urn) {
            throw StoreError(.invalidInput, "A URN is six digits.", hint: "Check --urn.")
        }
        if let code = identity.laCode, !SiteRules.isValidLACode(code) {
            throw StoreError(.invalidInput, "An LA code is three digits.", hint: "Check --la-code.")
        }
        if let la {
            guard identity.kind != .la else {
                throw StoreError(
                    .invalidInput, "An LA does not pin another LA's identity.", hint: "Leave out --la-identity.")
            }
            guard la.site.kind == .la else {
                throw StoreError(
                    .invalidInput, "The identity given as the LA's is not an LA's.",
                    hint: "Use the identity file your LA exported.")
            }
            if let code = identity.laCode, let laCode = la.site.laCode, code != laCode {
                throw StoreError(
                    .invalidInput, "The LA code given is not the code of the LA pinned (\(laCode)).",
                    hint: "Give --la-code \(laCode), or leave it out: a site takes its LA's code.")
            }
        }
    }

    private static func initialise(
        _ writer: any DatabaseWriter, identity: SiteIdentity, keys: SiteKeys, la: PublicIdentity?,
        clockGuardSeconds: Int,
        now: () -> UInt64
    ) throws {
        try StoreSchema.migrator.migrate(writer)
        try writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO site_identity (singleton, site_id, name, kind, urn, la_code, created_at, clock_guard_seconds,
                      signing_key, agreement_key)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    identity.id.description, identity.name, identity.kind.rawValue, identity.urn, identity.laCode,
                    HLC(milliseconds: now(), counter: 0).description, clockGuardSeconds, Data(keys.publicKeys.signing),
                    Data(keys.publicKeys.agreement),
                ])
            try db.execute(
                sql: "INSERT INTO site (site_id, name, kind) VALUES (?, ?, ?)",
                arguments: [identity.id.description, identity.name, identity.kind.rawValue])
            let me = PublicIdentity(site: identity, keys: keys.publicKeys)
            if identity.kind == .la {
                let directory = try AreaDirectory(
                    la: identity.id, version: 1, issuedAt: now(), entries: [DirectoryEntry(identity: me, addedAt: 1)]
                )
                .signed(with: keys)
                try Self.saveDirectory(directory, in: db)
            } else if let la {
                try Self.savePinnedLA(la, in: db)
            }
        }
    }

    /// This site's private keys: from memory, or from the key file beside the store.
    public func keys() throws -> SiteKeys {
        if let memoryKeys { return memoryKeys }
        guard let path else { throw StoreError(.database, "This store has no keys.") }
        let keys = try KeyFile.read(from: KeyFile.path(forStore: path), expectedSite: identity.id)
        // The site id in the file is only a label: the keys themselves must be the ones this store
        // was made with, or this site's history would be signed for good with keys no peer accepts.
        guard keys.publicKeys == publicKeys else {
            throw SecurityError(
                .keyFileInvalid,
                "The key file names this site but holds keys that are not this site's keys (they do not match the public keys this store was made with), so it was not used.",
                hint:
                    "Put back the key file made with this store, from your secure backup; if it is lost, see \"A lost key file\" under Troubleshooting in the README."
            )
        }
        return keys
    }

    /// This site's public identity, as exported for the directory.
    public var publicIdentity: PublicIdentity { PublicIdentity(site: identity, keys: publicKeys) }

    /// Writes the WAL back into the main file so the store is one self-contained file.
    public func checkpoint() throws {
        if let pool = try writer as? DatabasePool {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        }
    }

    var applier: ChangeApplier {
        ChangeApplier(clockGuardMilliseconds: UInt64(clockGuardSeconds) * 1000, now: now())
    }
}

// MARK: - Local writes

/// A store that holds fewer of its own site's changes than its peers acknowledge holding, or
/// that has learnt another site holds other changes under its numbers: it was restored from a
/// backup, or copied from another computer. Making changes here would reuse the numbers of the
/// ones it lost (or has already), and every other site would refuse them as a fork.
public struct OwnHistoryGap: Hashable, Sendable {
    /// How many of its own changes this store holds.
    public var held: UInt64
    /// The most any peer has acknowledged holding.
    public var acknowledged: UInt64
    /// The first of this site's numbers that another site holds with a different change, when
    /// this store learnt that (its copy wrote again under numbers that had already gone out).
    public var forkedAt: UInt64?

    public init(held: UInt64, acknowledged: UInt64, forkedAt: UInt64? = nil) {
        self.held = held
        self.acknowledged = acknowledged
        self.forkedAt = forkedAt
    }

    public var message: String {
        if let forkedAt {
            "This store's history has forked: another site holds a different change under this site's number \(forkedAt). This store was probably restored from a backup (or copied from another computer) and used before it synced."
        } else {
            "This store is behind its own history: other sites hold this site's changes up to number \(acknowledged), but this store has only \(held). It was probably restored from a backup or copied from another computer."
        }
    }
    public var hint: String {
        if forkedAt != nil {
            "Do not record anything on this copy: no site will take its changes. Rejoin the area under a new site id with `sensync rejoin start`, which carries over what only this copy holds: see \"A restored backup\" under Troubleshooting in the README."
        } else {
            "Do not record anything on this copy. Send your LA or trust a bundle (`sensync bundle create`: it tells them what this copy holds), then apply the one they send back, which brings back what reached them; if that does not end this warning, rejoin the area under a new site id with `sensync rejoin start`, which carries over what only this copy holds: see \"A restored backup\" under Troubleshooting in the README."
        }
    }
}

/// The result of a local write.
public struct WriteReceipt: Hashable, Sendable, CustomStringConvertible {
    /// The change that recorded it, or `nil` when every value written was already there and no
    /// change was made.
    public var dot: Dot?
    public var hlc: HLC?
    /// Conflicts this write resolved (a write supersedes every value its author has seen).
    public var conflictsClosed: Int

    /// Whether a change was made.
    public var changed: Bool { dot != nil }

    public var description: String { dot.map { "\($0)" } ?? "no change" }

    /// Nothing to record: the store already held every value.
    static let unchanged = WriteReceipt(dot: nil, hlc: nil, conflictsClosed: 0)
}

extension Store {
    /// Records `ops` as one change by `author` about pupil `scope`.
    ///
    /// `check` runs inside the transaction, before the change is made, with a way to read the
    /// current merge state of records; it throws to refuse the write.
    @discardableResult
    func write(
        author: String, scope: RecordID, ops: [RecordOp],
        check: (inout StoreTransaction) throws -> Void = { _ in },
        opsAfterCheck: () -> [RecordOp] = { [] }
    ) throws -> WriteReceipt {
        let author = try Self.requireAuthor(author)
        if let batch = openBatch {
            // Inside ``batch(_:)``: join its transaction. A write refused by its checks has changed
            // nothing (they run before its clock ticks); one that fails after that spoils the batch,
            // which then records nothing.
            if batch.spoiled { throw OpenBatch.spoiledError }
            let clockBefore = batch.tx.clock.last
            do {
                return try writeChange(
                    author: author, scope: scope, ops: ops, check: check, opsAfterCheck: opsAfterCheck, in: &batch.tx)
            } catch {
                if batch.tx.clock.last != clockBefore { batch.spoiled = true }
                throw error
            }
        }
        return try writer.write { db in
            var tx = try StoreTransaction(db)
            let receipt = try writeChange(
                author: author, scope: scope, ops: ops, check: check, opsAfterCheck: opsAfterCheck, in: &tx)
            try tx.flush()
            return receipt
        }
    }

    /// Runs `body` as one transaction: every record write `body` makes on this store (``addPupil(_:author:)``,
    /// ``addNote(pupil:text:area:amends:author:)``, ``addRecord(_:pupil:_:author:)`` and the rest)
    /// joins it, and reads of records inside `body` see the batch's own writes. Each write is
    /// checked as it would be alone; one its checks refuse throws and leaves the batch as it was
    /// (the batch goes on). If `body` throws, or a write failed after its checks had passed (a
    /// change too large to encode, say), nothing of the batch is recorded. About twice as fast as
    /// one transaction per write (`sensync-bench --writes`). The LA's directory edits
    /// (``addToDirectory(_:trust:)``, ``removeFromDirectory(_:)``) join the batch; bundles and
    /// other store-wide operations cannot run inside one: they throw.
    public func batch<T>(_ body: () throws -> T) throws -> T {
        if openBatch != nil { return try body() }
        return try database.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction {
                let batch = OpenBatch(store: ObjectIdentifier(self), tx: try StoreTransaction(db))
                result = try Self.$currentBatch.withValue(batch) { try body() }
                if batch.spoiled { throw OpenBatch.spoiledError }
                try batch.tx.flush()
                return .commit
            }
            return result!
        }
    }

    /// Runs one public record write (``addNote(pupil:text:area:amends:author:)`` and the rest) as
    /// a batch of one: the lookups it makes before writing (the pupil a reference names, the plan
    /// an id names) read the write transaction instead of opening a read transaction each, which
    /// cost a local write about as much as its own checks (`sensync-bench --writes`). Inside a
    /// batch it simply joins it.
    func writing<T>(_ body: () throws -> T) throws -> T { try batch(body) }

    /// The database, for everything but record writes and reads (which go through
    /// ``write(author:scope:ops:check:opsAfterCheck:)`` and ``reading(_:)``). Inside ``batch(_:)``
    /// it throws: a bundle, the directory or any other store-wide operation would need a
    /// transaction of its own while the batch holds the store's.
    var writer: any DatabaseWriter {
        get throws {
            if openBatch != nil {
                throw StoreError(
                    .invalidInput, "This cannot be done inside a batch of record writes.",
                    hint: "End the batch (return from Store.batch) first, then do it.")
            }
            return database
        }
    }

    /// Changes the LA's directory with `body`: inside ``batch(_:)``, in the batch's transaction
    /// (so a directory change and the record writes that go with it, as in
    /// ``replaceInDirectory(_:with:on:author:)``, are recorded together or not at all, and the
    /// batch's later writes see the new directory); otherwise in a transaction of its own.
    ///
    /// Refused while a site holds a newer directory than this one, which only this LA can have
    /// signed (its store was restored from a backup): a new version would carry the same number as
    /// the one out there and list other sites, splitting the area in two.
    func writingDirectory<T>(_ body: (Database) throws -> T) throws -> T {
        func checked(_ db: Database) throws -> T {
            try Self.requireNewestDirectory(in: db)
            return try body(db)
        }
        guard let batch = openBatch else { return try database.write(checked) }
        let result = try checked(batch.tx.db)
        batch.tx.directoryChanged()
        return result
    }

    /// Throws when a site's last bundle showed a newer area directory than this LA's own.
    static func requireNewestDirectory(in db: Database) throws {
        guard let current = try directory(in: db),
            let row = try Row.fetchOne(
                db,
                sql: "SELECT site_id, directory_version FROM site ORDER BY directory_version DESC, ord LIMIT 1"),
            let newest = row[1] as Int64?, newest > Int64(current.version)
        else { return }
        let site = (try? SiteID.stored(row[0] as String)).flatMap { current.entry($0)?.site.name }
        throw StoreError(
            .behindOwnHistory,
            "\(site ?? "A site in the area") holds version \(newest) of the area directory, which this LA signed; this store holds version \(current.version): it was restored from a backup.",
            hint:
                "Make a bundle for \(site ?? "that site") and apply its reply: it brings the newer directory back. Then change the directory."
        )
    }

    /// The batch open on this store on this thread, if any.
    var openBatch: OpenBatch? {
        guard let batch = Self.currentBatch, batch.store == ObjectIdentifier(self) else { return nil }
        return batch
    }

    /// Reads with `body`: inside ``batch(_:)``, from the batch's transaction (so the batch's own
    /// writes are seen); otherwise from a read transaction of its own.
    func reading<T>(_ body: (Database) throws -> T) throws -> T {
        if let batch = openBatch { return try body(batch.tx.db) }
        return try database.read(body)
    }

    /// Records many changes in one transaction: `body` calls ``LocalBatch/write(scope:ops:check:)``
    /// once per change. Each change is checked as a single write is; if `body` throws, nothing is
    /// recorded. The transaction commits only if `body` says to keep it (a dry run does not).
    func writeBatch<T>(author: String, _ body: (inout LocalBatch) throws -> (value: T, keep: Bool)) throws -> T {
        let author = try Self.requireAuthor(author)
        return try writer.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction {
                var batch = LocalBatch(store: self, author: author, tx: try StoreTransaction(db))
                let (value, keep) = try body(&batch)
                result = value
                guard keep else { return .rollback }
                try batch.tx.flush()
                return .commit
            }
            return result!
        }
    }

    /// How far this store is behind its own history, if it is: other sites hold more of its
    /// changes than it does, or hold other changes under its numbers.
    static func ownHistoryGap(of me: SiteID, in db: Database) throws -> OwnHistoryGap? {
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT s.chain_seq, (SELECT max(a.seq) FROM peer_ack a WHERE a.origin_ord = s.ord),
                          (SELECT min(f.seq) FROM fork f WHERE f.site_ord = s.ord)
                        FROM site s WHERE s.site_id = ?
                        """), arguments: [me.description]),
            let held = row[0] as Int64?
        else { return nil }
        let acknowledged = (row[1] as Int64?) ?? 0
        let forkedAt = (row[2] as Int64?).map(UInt64.init)
        guard acknowledged > held || forkedAt != nil else { return nil }
        return OwnHistoryGap(held: UInt64(held), acknowledged: UInt64(acknowledged), forkedAt: forkedAt)
    }

    static func requireAuthor(_ author: String) throws -> String {
        let author = author.trimmedOfSpace
        guard !author.isEmpty else {
            throw StoreError(
                .invalidInput, "No author was given for this change.", hint: "Pass --author NAME or set SENSYNC_AUTHOR."
            )
        }
        // As a name: it goes into every change and every site's history.
        return try Check.text(author, "author", max: 100)
    }

    /// Makes one local change inside `tx` (not flushed).
    fileprivate func writeChange(
        author: String, scope: RecordID, ops: [RecordOp], check: (inout StoreTransaction) throws -> Void,
        opsAfterCheck: () -> [RecordOp], in tx: inout StoreTransaction
    ) throws -> WriteReceipt {
        // The checks, the unchanged-write filter and the merge read the same records: once each.
        try tx.cachingRecords { tx in
            try makeChange(author: author, scope: scope, ops: ops, check: check, opsAfterCheck: opsAfterCheck, in: &tx)
        }
    }

    private func makeChange(
        author: String, scope: RecordID, ops: [RecordOp], check: (inout StoreTransaction) throws -> Void,
        opsAfterCheck: () -> [RecordOp], in tx: inout StoreTransaction
    ) throws -> WriteReceipt {
        var wallClock: UInt64?
        if !tx.localWritesChecked {
            if let gap = try Self.ownHistoryGap(of: identity.id, in: tx.db) {
                throw StoreError(.behindOwnHistory, gap.message, hint: gap.hint)
            }
            wallClock = try checkClockBeforeWriting(in: tx.db)
            tx.localWritesChecked = true
        }
        try check(&tx)
        let given = ops + opsAfterCheck()
        let unchangedDropped = try Self.withoutUnchangedWrites(given, scope: scope, in: &tx)
        let ops = unchangedDropped
        if ops.isEmpty { return .unchanged }
        try requireEntitled(to: scope, ops: ops, in: &tx)
        // The clock is read once per change, here as before (its reading also dates the rules').
        let wallNow = wallClock ?? now()
        try Self.checkDeclaredRules(
            ops, scope: scope, today: StatutoryClock.localDate(at: Date(timeIntervalSince1970: Double(wallNow) / 1000)),
            in: &tx)
        let hlc = tx.clock.tick(now: wallNow)
        var deps = try tx.scopeClock(of: scope)
        // This site's own previous change about the pupil, even one whose content it no longer
        // holds (a pupil it passed on and has again): every store must hold it before this one.
        deps[identity.id] = max(deps[identity.id], try tx.lastOwnChange(about: scope, site: identity.id))
        let change = Change(
            site: identity.id, seq: try tx.prefix(of: identity.id) + 1, hlc: hlc, author: author, scope: scope,
            deps: deps, directoryVersion: try tx.directoryVersion(), ops: ops)
        let encoded: EncodedChange
        do { encoded = try change.encoded() } catch {
            throw StoreError(.invalidInput, "This change cannot be recorded: \(String(describing: error)).")
        }
        // No clock guard: it protects against other machines' clocks, and this site's own HLC
        // never goes backwards, so after the wall clock is set back it may legitimately run ahead.
        let disposition = try applier.applyLocal(change, encoded: encoded, to: &tx)
        guard case .applied(_, let closed) = disposition else {
            if case .rejected(let reason) = disposition {
                throw StoreError(.invalidInput, "This change would be refused by every site: it \(reason).")
            }
            throw StoreError(.database, "The change was not applied.")
        }
        return WriteReceipt(dot: change.dot, hlc: hlc, conflictsClosed: closed)
    }
}

extension Store {
    /// `ops` without the writes that would not change anything: a field of a live record that
    /// already holds that value, with no open conflict. A record whose every write is dropped is
    /// not touched at all. (Re-writing a value would claim a change nobody made, and would beat a
    /// concurrent edit made elsewhere.) Writes to a deleted record, to a conflicted field, and
    /// every write of a new record are kept.
    static func withoutUnchangedWrites(
        _ ops: [RecordOp], scope: RecordID, in tx: inout StoreTransaction
    ) throws -> [RecordOp] {
        // A pupil this store holds no change about has no records to compare with (and once its
        // empty clock is read, no lookup of its records reaches the database).
        if try tx.scopeClock(of: scope).isEmpty { return ops }
        var kept: [RecordOp] = []
        kept.reserveCapacity(ops.count)
        for op in ops {
            guard !op.writes.isEmpty,
                let state = try tx.record(RecordKey(table: op.table, scope: scope, id: op.id)),
                !state.isEmpty, !state.isDeleted
            else {
                kept.append(op)
                continue
            }
            var trimmed = op
            trimmed.writes.removeAll { write in
                guard let field = state.fields[write.field] else { return false }
                return field.heads.allSatisfy { $0.value == write.value }
            }
            if !trimmed.writes.isEmpty { kept.append(trimmed) }
        }
        return kept
    }
}

/// The transaction a ``Store/batch(_:)`` holds open on one store.
final class OpenBatch: @unchecked Sendable {
    // Unchecked: used only by the thread running the batch's body, inside its transaction.
    let store: ObjectIdentifier
    var tx: StoreTransaction
    /// A write failed part-way: the transaction may hold part of it, so nothing may be recorded.
    var spoiled = false

    static let spoiledError = StoreError(
        .database, "A write in this batch failed part-way, so nothing of the batch was recorded.",
        hint: "Fix the cause of the first error and run the whole batch again.")

    init(store: ObjectIdentifier, tx: StoreTransaction) {
        self.store = store
        self.tx = tx
    }
}

extension Store {
    /// The batch the running code is inside, if any (bound by ``batch(_:)`` for its body).
    @TaskLocal static var currentBatch: OpenBatch?
}

/// Local changes written in one transaction (see ``Store/writeBatch(author:_:)``).
struct LocalBatch {
    let store: Store
    let author: String
    var tx: StoreTransaction

    /// Records `ops` as one change about `scope`, after `check` (which may read the store as
    /// this batch has changed it so far).
    @discardableResult
    mutating func write(
        scope: RecordID, ops: [RecordOp], check: (inout StoreTransaction) throws -> Void = { _ in }
    ) throws -> WriteReceipt {
        try store.writeChange(author: author, scope: scope, ops: ops, check: check, opsAfterCheck: { [] }, in: &tx)
    }
}
