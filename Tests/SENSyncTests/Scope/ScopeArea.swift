import Foundation
import GRDB
import Testing

@testable import SENSync

/// An area for the trust-and-scope tests: an LA with its signed directory, and sites that pinned
/// it. Unlike ``TestArea`` it names sites with ids drawn from a seed (so a printed seed replays
/// the same site order and tie-breaks), can make file-based stores, and keeps bundle files in
/// their own folder so a store folder holds only store files.
final class ScopeArea {
    let folder: URL
    let bundles: URL
    let clock: TestClock
    let fileBased: Bool
    private(set) var stores: [String: Store] = [:]
    /// Site names in the order they were added.
    private(set) var names: [String] = []
    /// For each academy, its trust's name.
    private(set) var trustOf: [String: String] = [:]
    /// Sites the LA replaced (a maintained school that converted to an academy): their stores
    /// stay, for bundles still in the post, but they are no longer among `names`.
    private(set) var retired: [String] = []
    private var converted: Set<String> = []
    private var ids: SplitMix64
    private var counter = 0

    /// The day ``TestClock`` starts on.
    static let today = "2026-01-05"

    init(folder: URL, seed: UInt64 = 0x5C0_9E, fileBased: Bool = false, clock: TestClock = TestClock()) throws {
        self.folder = folder
        self.bundles = folder.appendingPathComponent("bundles")
        self.clock = clock
        self.fileBased = fileBased
        self.ids = SplitMix64(seed: seed ^ 0x1D5_1D5)
        try FileManager.default.createDirectory(at: bundles, withIntermediateDirectories: true)
        let identity = SiteIdentity(id: nextID(), name: "LA", kind: .la, laCode: "999")
        let la =
            fileBased
            ? try Store.create(at: storePath("LA"), identity: identity, now: clock.now)
            : try Store.inMemory(identity: identity, now: clock.now)
        stores["LA"] = la
        names.append("LA")
    }

    private func nextID() -> SiteID { UUID128.v7(milliseconds: baseMilliseconds, using: &ids) }

    func storePath(_ name: String) -> String { folder.appendingPathComponent("\(name).sensync").path }

    var la: Store { stores["LA"]! }

    subscript(name: String) -> Store { stores[name]! }

    /// An LA and maintained schools named `schools`, every site holding the LA's directory.
    static func maintainedSchools(_ schools: String..., in folder: URL) throws -> ScopeArea {
        let area = try ScopeArea(folder: folder)
        for name in schools { try area.add(name, .maintainedSchool) }
        try area.distributeDirectory()
        return area
    }

    /// Adds a site: a store pinned to the LA, listed in the LA's directory.
    @discardableResult
    func add(_ name: String, _ kind: SiteKind, trust: String? = nil) throws -> Store {
        let identity = SiteIdentity(id: nextID(), name: name, kind: kind)
        let store =
            fileBased
            ? try Store.create(at: storePath(name), identity: identity, la: la.publicIdentity, now: clock.now)
            : try Store.inMemory(identity: identity, la: la.publicIdentity, now: clock.now)
        try la.addToDirectory(store.publicIdentity, trust: trust.map { stores[$0]!.identity.id })
        stores[name] = store
        names.append(name)
        if let trust { trustOf[name] = trust }
        return store
    }

    func id(_ name: String) -> SiteID { self[name].identity.id }

    /// The LA moves an academy to another trust (a new directory version): from now on the academy
    /// exchanges with its new trust.
    func moveAcademy(_ name: String, to trust: String) throws {
        try la.addToDirectory(self[name].publicIdentity, trust: id(trust))
        trustOf[name] = trust
    }

    /// The LA adds a new academy store, `academy`, in place of the maintained school `school`
    /// (it keeps the school's name, as most converting schools do) in `trust` (or none): the
    /// school's pupils move to it and the school leaves the directory.
    @discardableResult
    func convert(_ school: String, to academy: String, in trust: String?) throws -> Store {
        let old = self[school]
        let identity = SiteIdentity(id: nextID(), name: old.identity.name, kind: .academy)
        let store =
            fileBased
            ? try Store.create(at: storePath(academy), identity: identity, la: la.publicIdentity, now: clock.now)
            : try Store.inMemory(identity: identity, la: la.publicIdentity, now: clock.now)
        try la.replaceInDirectory(
            old.identity.id, with: store.publicIdentity, trust: trust.map(id), on: Self.today, author: "LA officer")
        stores[academy] = store
        names.removeAll { $0 == school }
        names.append(academy)
        retired.append(school)
        converted.insert(academy)
        if let trust { trustOf[academy] = trust }
        return store
    }

    /// Whether `name` is an academy a school converted to (``convert(_:to:in:)``): a site other
    /// sites learn of only when the LA's directory reaches them.
    func isNew(_ name: String) -> Bool { converted.contains(name) }

    func name(of site: SiteID) -> String? { (names + retired).first { stores[$0]!.identity.id == site } }

    /// Makes a bundle from `from` to `to` and returns its file.
    func make(_ from: String, _ to: String) throws -> URL {
        counter += 1
        let file = bundles.appendingPathComponent("\(counter)-\(from)-to-\(to).bundle")
        try self[from].makeBundle(to: [id(to)], at: file)
        return file
    }

    /// Makes a bundle from `from` to `to` and applies it.
    @discardableResult
    func send(_ from: String, _ to: String) throws -> ImportReport {
        try self[to].apply(bundleAt: try make(from, to))
    }

    /// Sends along `route` in order (`["A", "Trust", "LA"]`: A → Trust, then Trust → LA).
    func relay(_ route: String...) throws {
        for (from, to) in zip(route, route.dropFirst()) { try send(from, to) }
    }

    /// The upstream route of a school: an academy goes through its trust, anything else straight
    /// to the LA.
    func upstream(of name: String) -> [String] {
        if let trust = trustOf[name] { return [name, trust, "LA"] }
        return [name, "LA"]
    }

    /// Every legal upstream/downstream link: school ↔ LA for maintained schools, academy ↔ trust,
    /// trust ↔ LA.
    var routes: [(String, String)] {
        var result: [(String, String)] = []
        for name in names where name != "LA" {
            let up = trustOf[name] ?? "LA"
            result.append((name, up))
            result.append((up, name))
        }
        return result
    }

    /// Exchanges bundles along every route, in order, `rounds` times.
    func gossip(rounds: Int = 3) throws {
        for _ in 0..<rounds {
            for (from, to) in routes { try send(from, to) }
        }
    }

    /// Everyone hears from the LA (and the trusts pass the directory on to their academies).
    func distributeDirectory() throws {
        for name in names where name != "LA" && trustOf[name] == nil { try send("LA", name) }
        for (academy, trust) in trustOf.sorted(by: { $0.key < $1.key }) { try send(trust, academy) }
    }

    /// The files that make up the stores: `*.sensync` and their `-wal` and `-shm` files.
    func storeFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { url in
            let name = url.lastPathComponent
            return name.hasSuffix(".sensync") || name.hasSuffix(".sensync-wal") || name.hasSuffix(".sensync-shm")
        }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }
}

// MARK: - What a store holds

/// One record row as text: every column but the CRDT clock (whose site ordinals differ per store).
struct RecordRow: Hashable, Comparable, CustomStringConvertible {
    var table: String
    var pupil: RecordID
    var text: String
    var description: String { "\(table) \(text)" }
    static func < (a: RecordRow, b: RecordRow) -> Bool { (a.table, a.text) < (b.table, b.text) }
}

extension Store {
    /// Every row of every record table (the erasure table included), by pupil, read with SQL.
    func recordRowsByPupil() throws -> [RecordID: Set<RecordRow>] {
        try writer.read { db in
            var result: [RecordID: Set<RecordRow>] = [:]
            for table in RecordSchema.tables.map(\.name) {
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
                    .filter { $0 != "crdt_clock" }
                for row in try Row.fetchAll(db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table)") {
                    guard let pupil = RecordID(row["pupil_id"] as String) else { continue }
                    let text = columns.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: "|")
                    result[pupil, default: []].insert(RecordRow(table: table, pupil: pupil, text: text))
                }
            }
            for row in try Row.fetchAll(db, sql: "SELECT table_name, pupil_id, id FROM generic_record") {
                guard let pupil = RecordID(row[1] as String) else { continue }
                result[pupil, default: []].insert(
                    RecordRow(table: row[0], pupil: pupil, text: "id=\(row[2] as String)"))
            }
            return result
        }
    }

    /// Pupils with a row in any record table but the erasure table.
    func pupilsWithRecords() throws -> Set<RecordID> {
        Set(try recordRowsByPupil().filter { $0.value.contains { $0.table != RecordSchema.erasure.name } }.keys)
    }

    /// The pupils whose changes this store holds with their content (in its chains or as
    /// history), and how many such changes per pupil. Erasures (which hold no personal data and
    /// are kept as proof) are left out unless asked for.
    func changeBodiesByPupil(includingErasures: Bool = false) throws -> [RecordID: Int] {
        var result: [RecordID: Int] = [:]
        for item in try storedChanges(includingRedacted: false) {
            if !includingErasures, try item.decoded.isErasure { continue }
            result[item.header.scope, default: 0] += 1
        }
        return result
    }

    /// Pupils any change this store has logged (with content or redacted) was about: the pupils
    /// it has held at some time.
    func pupilsEverLogged() throws -> Set<RecordID> {
        try writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT scope FROM scope_change").compactMap(RecordID.init))
        }
    }

    /// Every school the store knows `pupil` was ever enrolled at.
    func schoolsEver(_ pupil: RecordID) throws -> Set<SiteID> {
        try writer.read { db in
            Set(
                try String.fetchAll(
                    db, sql: "SELECT school_id FROM enrolment_history WHERE pupil_id = ?",
                    arguments: [pupil.description]
                ).compactMap(SiteID.init))
        }
    }

    /// Pupils this store has recorded as erased.
    func erasedPupils() throws -> Set<RecordID> {
        try writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT pupil_id FROM erasure").compactMap(RecordID.init))
        }
    }

    /// Pupils this store has forgotten (moved away, upstream holds them).
    func forgottenPupils() throws -> Set<RecordID> {
        try writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT pupil_id FROM forgotten_pupil").compactMap(RecordID.init))
        }
    }

    /// The schools each pupil is currently enrolled at, as this store sees it (the scope rules'
    /// view: not deleted, no leaving date or one after today).
    func currentSchoolsByPupil(today: String = ScopeArea.today) throws -> [RecordID: Set<SiteID>] {
        try writer.read { db in
            var result: [RecordID: Set<SiteID>] = [:]
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT pupil_id, school_id FROM enrolment WHERE deleted = 0 AND (leaving_date IS NULL OR leaving_date > ?)",
                arguments: [today])
            {
                if let pupil = RecordID(row[0] as String), let school = (row[1] as String?).flatMap(SiteID.init) {
                    result[pupil, default: []].insert(school)
                }
            }
            return result
        }
    }

    /// The number of import-log entries.
    func importLogCount() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM import_log") ?? 0 }
    }
}

// MARK: - Byte scans

extension Data {
    /// Whether `needle`'s bytes occur anywhere in this data.
    func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        return range(of: Data(needle)) != nil
    }
}

/// Which of `needles` occur (as UTF-8) in which of `files`: `[needle: [file name]]`, only the
/// needles found.
func scan(_ files: [URL], for needles: [String]) throws -> [String: [String]] {
    var found: [String: [String]] = [:]
    for file in files {
        let bytes = try Data(contentsOf: file)
        for needle in needles where bytes.containsBytes(Array(needle.utf8)) {
            found[needle, default: []].append(file.lastPathComponent)
        }
    }
    return found
}
