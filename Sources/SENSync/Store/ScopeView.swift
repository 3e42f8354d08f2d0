import Foundation
import GRDB

/// What a store knows about who may see which pupil, read lazily inside one transaction: each
/// pupil's enrolments are read when first needed, and candidate pupils are found through the
/// enrolment table's school index, so a check or a bundle costs in proportion to the pupils it
/// concerns, not to the whole store.
final class ScopeView {
    let db: Database
    let me: SiteIdentity
    let directory: AreaDirectory?
    let today: CalendarDate
    private let sites: SiteOrdinals
    private var enrolmentCache: [RecordID: Enrolments] = [:]
    private var erasedCache: Set<RecordID>?
    private var forgottenCache: Set<RecordID>?
    private var schoolsEverCache: [RecordID: Set<SiteID>] = [:]
    /// Schools whose pupils' enrolments are all in `enrolmentCache`.
    private var loadedSchools: Set<SiteID> = []

    init(_ db: Database, me: SiteIdentity, directory: AreaDirectory?, today: CalendarDate, sites: SiteOrdinals? = nil)
        throws
    {
        self.db = db
        self.me = me
        self.directory = directory
        self.today = today
        self.sites = try sites ?? SiteOrdinals(db)
    }

    static func load(_ db: Database, me: SiteIdentity, directory: AreaDirectory?, today: CalendarDate) throws
        -> ScopeView
    {
        try ScopeView(db, me: me, directory: directory, today: today)
    }

    /// The view from inside `tx`, sharing its site numbers (no second read of the site table).
    static func load(_ tx: inout StoreTransaction, me: SiteIdentity, today: CalendarDate) throws -> ScopeView {
        try ScopeView(tx.db, me: me, directory: try tx.directory(), today: today, sites: tx.sites)
    }

    /// Pupils whose records were erased.
    var erased: Set<RecordID> {
        get throws {
            if let erasedCache { return erasedCache }
            let set = Set(
                try String.fetchAll(try db.cachedStatement(sql: "SELECT DISTINCT pupil_id FROM erasure")).compactMap(
                    RecordID.init))
            erasedCache = set
            return set
        }
    }

    /// Pupils this store no longer sees and has removed.
    var forgotten: Set<RecordID> {
        get throws {
            if let forgottenCache { return forgottenCache }
            let set = Set(
                try String.fetchAll(try db.cachedStatement(sql: "SELECT pupil_id FROM forgotten_pupil")).compactMap(
                    RecordID.init))
            forgottenCache = set
            return set
        }
    }

    /// A pupil's enrolments, and the changes that ended those that have ended.
    typealias Enrolments = (facts: [EnrolmentFact], endings: [(school: SiteID, change: Dot)])

    private func load(_ pupil: RecordID) throws -> Enrolments {
        if let cached = enrolmentCache[pupil] { return cached }
        try loadEnrolments(where: "pupil_id = ?", [pupil.description])
        let loaded = enrolmentCache[pupil] ?? ([], [])
        enrolmentCache[pupil] = loaded
        return loaded
    }

    private static let enrolmentCodec = TableCodec.all[RecordSchema.enrolment.name]!
    private static let enrolmentColumns = enrolmentCodec.spec.fields.map(\.name).joined(separator: ", ")

    /// Reads, in one query, the enrolments of every pupil ever enrolled at `school`: a school's
    /// candidates are then checked without a query each (an LA's empty bundle to a school of
    /// 2,000 pupils ran 2,000 of them).
    private func loadEnrolments(ofPupilsAt school: SiteID) throws {
        guard loadedSchools.insert(school).inserted else { return }
        try loadEnrolments(
            where: "pupil_id IN (SELECT pupil_id FROM enrolment WHERE school_id = ?)", [school.description])
    }

    /// Reads the enrolments of the pupils `condition` picks into the cache, keeping those of
    /// pupils already in it.
    private func loadEnrolments(where condition: String, _ arguments: StatementArguments) throws {
        let codec = Self.enrolmentCodec
        let cursor = try Row.fetchCursor(
            try db.cachedStatement(
                sql: """
                    SELECT pupil_id, \(Self.enrolmentColumns), crdt_clock FROM enrolment
                    WHERE \(condition) ORDER BY pupil_id, id
                    """), arguments: arguments)
        var loaded: [RecordID: Enrolments] = [:]
        while let row = try cursor.next() {
            guard let pupil = RecordID(row[0] as String), enrolmentCache[pupil] == nil else { continue }
            try add(row, offset: 1, codec: codec, to: &loaded[pupil, default: ([], [])])
        }
        enrolmentCache.merge(loaded) { cached, _ in cached }
    }

    private func add(_ row: Row, offset: Int, codec: TableCodec, to loaded: inout Enrolments) throws {
        let state = try codec.state(from: row, offset: offset, sites: sites)
        guard let school = state["school_id"]?.text.flatMap(SiteID.init) else { return }
        let fact = EnrolmentFact(
            school: school, entryDate: state["entry_date"]?.text, leavingDate: state["leaving_date"]?.text,
            isDeleted: state.isDeleted)
        loaded.facts.append(fact)
        if !fact.isCurrent(on: today), fact.leavingDate != nil, let ended = state.fields["leaving_date"]?.winner.dot {
            loaded.endings.append((school, ended))
        }
    }

    func enrolments(of pupil: RecordID) throws -> [EnrolmentFact] { try load(pupil).facts }

    /// The enrolments of `pupil` that have ended: the school and the change that ended each.
    func endings(of pupil: RecordID) throws -> [(school: SiteID, change: Dot)] { try load(pupil).endings }

    func isEntitled(_ site: SiteIdentity, to pupil: RecordID) throws -> Bool {
        if site.kind == .la { return true }
        return ScopePolicy.isEntitled(site, enrolments: try enrolments(of: pupil), directory: directory, today: today)
    }

    /// The schools whose enrolments concern `site` (`nil`: every school, for the LA).
    private func schools(of site: SiteIdentity) -> [SiteID]? {
        switch site.kind {
        case .la: nil
        case .maintainedSchool, .academy: [site.id]
        case .trust: directory?.entries.filter { $0.trust == site.id }.map(\.site.id) ?? []
        }
    }

    /// Pupils with an enrolment at one of `site`'s schools, optionally only ended ones.
    private func candidates(of site: SiteIdentity, endedOnly: Bool) throws -> [RecordID] {
        let ended = endedOnly ? " leaving_date IS NOT NULL" : ""
        guard let schools = schools(of: site) else {
            return try String.fetchAll(
                try db.cachedStatement(
                    sql: "SELECT DISTINCT pupil_id FROM enrolment\(endedOnly ? " WHERE" + ended : "") ORDER BY pupil_id"
                )
            )
            .compactMap(RecordID.init)
        }
        var result: Set<RecordID> = []
        let statement = try db.cachedStatement(
            sql: "SELECT DISTINCT pupil_id FROM enrolment WHERE school_id = ?\(endedOnly ? " AND" + ended : "")")
        for school in schools {
            if !endedOnly {
                try loadEnrolments(ofPupilsAt: school)
            } else if !loadedSchools.contains(school) {
                // Only the pupils who left: a bundle with nothing new looks at its leavers every
                // time, not at every pupil of the school.
                try loadEnrolments(
                    where:
                        "pupil_id IN (SELECT pupil_id FROM enrolment WHERE school_id = ? AND leaving_date IS NOT NULL)",
                    [school.description])
            }
            for id in try String.fetchAll(statement, arguments: [school.description]) {
                if let pupil = RecordID(id) { result.insert(pupil) }
            }
        }
        return result.sorted()
    }

    /// Pupils this store knows of that `site` may see.
    func pupils(visibleTo site: SiteIdentity) throws -> [RecordID] {
        try candidates(of: site, endedOnly: false).filter { try isVisible($0, to: site) }
    }

    /// Pupils who have left `site` (or one of its academies): each with the changes that ended
    /// those enrolments.
    func leavers(of site: SiteIdentity) throws -> [(pupil: RecordID, endings: [(school: SiteID, change: Dot)])] {
        try candidates(of: site, endedOnly: true).compactMap { pupil in
            try leaverEndings(of: pupil, at: site).map { (pupil, $0) }
        }
    }

    /// Whether `site` may see `pupil` (one of its candidates, not erased, entitled).
    func isVisible(_ pupil: RecordID, to site: SiteIdentity) throws -> Bool {
        guard !(try erased).contains(pupil) else { return false }
        let facts = try enrolments(of: pupil)
        if let schools = schools(of: site) {
            guard facts.contains(where: { schools.contains($0.school) }) else { return false }
        } else {
            guard !facts.isEmpty else { return false }
        }
        return try isEntitled(site, to: pupil)
    }

    /// The changes that ended `pupil`'s enrolments at `site` (or one of its academies) when the
    /// pupil left it (`nil`: not a leaver of `site`).
    func leaverEndings(of pupil: RecordID, at site: SiteIdentity) throws -> [(school: SiteID, change: Dot)]? {
        guard !(try erased).contains(pupil) else { return nil }
        let facts = try enrolments(of: pupil)
        if let schools = schools(of: site) {
            guard facts.contains(where: { schools.contains($0.school) && $0.leavingDate != nil }) else { return nil }
        } else {
            guard facts.contains(where: { $0.leavingDate != nil }) else { return nil }
        }
        guard !(try isEntitled(site, to: pupil)) else { return nil }
        let relevant = try endings(of: pupil).filter {
            ScopePolicy.isParty(site, toEnrolmentAt: $0.school, directory: directory)
        }
        return relevant.isEmpty ? nil : relevant
    }

    /// Every school `pupil` was ever enrolled at, as this store knows.
    func schoolsEver(_ pupil: RecordID) throws -> Set<SiteID> {
        if let cached = schoolsEverCache[pupil] { return cached }
        let schools = Set(
            try String.fetchAll(
                try db.cachedStatement(sql: "SELECT school_id FROM enrolment_history WHERE pupil_id = ?"),
                arguments: [pupil.description]
            )
            .compactMap(SiteID.init))
        schoolsEverCache[pupil] = schools
        return schools
    }

    /// Whether `site` must receive `pupil`'s erasure: it may ever have held the pupil.
    func receivesErasure(_ site: SiteIdentity, of pupil: RecordID) throws -> Bool {
        ScopePolicy.receivesErasure(site, schoolsEver: try schoolsEver(pupil), directory: directory)
    }
}

/// Reads the changes this store holds of one site, from a sequence number on, in order: with
/// their content or redacted, skipping numbers it does not hold.
struct LogReader {
    let site: SiteID
    let from: UInt64
    private let cursor: RowCursor?
    private var row: StoreTransaction.LogRow?
    private var index = 0

    init(site: SiteID, from: UInt64, db: Database, sites: SiteOrdinals) throws {
        self.site = site
        self.from = from
        guard let ord = sites.byID[site] else {
            cursor = nil
            return
        }
        cursor = try Row.fetchCursor(
            db,
            sql: """
                SELECT first_seq, changes FROM change_log
                WHERE site_ord = ?1 AND \(Self.seekRow) ORDER BY first_seq
                """, arguments: [ord, Int64(from)])
    }

    /// Starts at the log row holding sequence number `?2` of site `?1` (its first row when none
    /// does), so reading a recent range does not walk the site's whole history.
    static let seekRow =
        "first_seq >= (SELECT coalesce(max(first_seq), 0) FROM change_log WHERE site_ord = ?1 AND first_seq <= ?2)"

    static func damaged() -> StoreError {
        StoreError(.database, "The change log is damaged.", hint: "Run `sensync audit verify`.")
    }

    mutating func next() throws -> EncodedChange? {
        guard let cursor else { return nil }
        while true {
            if let row, index < row.entries.count {
                let entry = row.entries[index]
                index += 1
                if entry.seq >= from { return entry }
                continue
            }
            guard let next = try cursor.next() else { return nil }
            row = try StoreTransaction.decodeRow(
                site: site, first: UInt64(next[0] as Int64), bytes: Array(next[1] as Data))
            index = 0
        }
    }
}
