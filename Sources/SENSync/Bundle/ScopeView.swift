import Foundation
import GRDB

/// What a store knows about who may see which pupil, loaded once for a bundle or a check.
struct ScopeView {
    let me: SiteIdentity
    let directory: AreaDirectory?
    let today: CalendarDate
    let enrolments: [RecordID: [EnrolmentFact]]
    let erased: Set<RecordID>
    let forgotten: Set<RecordID>

    /// For each pupil, the enrolments that have ended: the school and the change that ended it.
    let endings: [RecordID: [(school: SiteID, change: Dot)]]
    /// For each erased pupil, every school they were ever enrolled at.
    let schoolsEverOfErased: [RecordID: Set<SiteID>]

    /// Whether `change` is the erasure of a pupil `site` may ever have held.
    func isErasure(_ change: Change, for site: SiteIdentity) -> Bool {
        guard erased.contains(change.scope), change.ops.allSatisfy({ $0.table == RecordSchema.erasure.name }) else { return false }
        return ScopePolicy.receivesErasure(site, schoolsEver: schoolsEverOfErased[change.scope] ?? [], directory: directory)
    }

    static func load(_ db: Database, me: SiteIdentity, directory: AreaDirectory?, today: CalendarDate) throws -> ScopeView {
        var enrolments: [RecordID: [EnrolmentFact]] = [:]
        var endings: [RecordID: [(school: SiteID, change: Dot)]] = [:]
        let sites = try SiteOrdinals(db)
        let codec = TableCodec.all[RecordSchema.enrolment.name]!
        let columns = codec.spec.fields.map(\.name).joined(separator: ", ")
        for row in try Row.fetchAll(db, sql: "SELECT pupil_id, \(columns), crdt_clock FROM enrolment") {
            guard let pupil = RecordID(row[0] as String) else { continue }
            let state = try codec.state(from: row, offset: 1, sites: sites)
            guard let school = state["school_id"]?.text.flatMap(SiteID.init) else { continue }
            let fact = EnrolmentFact(
                school: school, entryDate: state["entry_date"]?.text, leavingDate: state["leaving_date"]?.text, isDeleted: state.isDeleted)
            enrolments[pupil, default: []].append(fact)
            if !fact.isCurrent(on: today), let ended = state.fields["leaving_date"]?.winner.dot, fact.leavingDate != nil {
                endings[pupil, default: []].append((school, ended))
            }
        }
        let erased = Set(try String.fetchAll(db, sql: "SELECT pupil_id FROM erasure").compactMap(RecordID.init))
        var schoolsEver: [RecordID: Set<SiteID>] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT h.pupil_id, h.school_id FROM enrolment_history h JOIN erasure e ON e.pupil_id = h.pupil_id")
        {
            if let pupil = RecordID(row[0] as String), let school = SiteID(row[1] as String) { schoolsEver[pupil, default: []].insert(school) }
        }
        let forgotten = Set(try String.fetchAll(db, sql: "SELECT pupil_id FROM forgotten_pupil").compactMap(RecordID.init))
        return ScopeView(
            me: me, directory: directory, today: today, enrolments: enrolments, erased: erased, forgotten: forgotten, endings: endings,
            schoolsEverOfErased: schoolsEver)
    }

    func isEntitled(_ site: SiteIdentity, to pupil: RecordID) -> Bool {
        ScopePolicy.isEntitled(site, enrolments: enrolments[pupil] ?? [], directory: directory, today: today)
    }

    /// Pupils this store knows of that `site` may see.
    func pupils(visibleTo site: SiteIdentity) -> [RecordID] {
        enrolments.keys.filter { isEntitled(site, to: $0) && !erased.contains($0) }.sorted()
    }
}

/// One entry of a site's chain as stored.
enum ChainItem {
    case full(EncodedChange, Change, hash: Digest32, previous: Digest32)
    case redacted(EncodedChange, scope: RecordID, hash: Digest32, previous: Digest32)
    case skipRun(first: UInt64, last: UInt64, lastHash: Digest32, previous: Digest32)
}

/// Reads one site's chain from a sequence number on: changes, redacted changes and skipped runs.
struct ChainReader {
    let site: SiteID
    let from: UInt64
    private let cursor: RowCursor?
    private var reader = BinaryReader([])
    private var seq: UInt64 = 0
    private var hash = Digest32.zero
    private var expectedFirst: UInt64?

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
                SELECT first_seq, last_seq, prev_hash, last_hash, changes, is_skip FROM change_log
                WHERE site_ord = ? AND last_seq >= ? ORDER BY first_seq
                """, arguments: [ord, Int64(from)])
    }

    static func damaged() -> StoreError {
        StoreError(.database, "The change log is damaged.", hint: "Run `sensync audit verify`.")
    }

    mutating func next() throws -> ChainItem? {
        guard let cursor else { return nil }
        while true {
            if reader.isAtEnd {
                guard let row = try cursor.next() else { return nil }
                let first = UInt64(row[0] as Int64)
                let last = UInt64(row[1] as Int64)
                if let expectedFirst, first != expectedFirst { throw Self.damaged() }
                expectedFirst = last + 1
                let previous = Digest32(Array(row[2] as Data)) ?? .zero
                if (row[5] as Int) != 0 {
                    let lastHash = Digest32(Array(row[3] as Data)) ?? .zero
                    return .skipRun(first: first, last: last, lastHash: lastHash, previous: previous)
                }
                seq = first
                hash = previous
                reader = BinaryReader(Array(row[4] as Data))
                continue
            }
            let body: [UInt8]
            do { body = try reader.readBytesWithLength() } catch { throw Self.damaged() }
            let change = EncodedChange(site: site, seq: seq, body: body)
            let previous = hash
            hash = change.chainHash(previous: previous)
            seq += 1
            guard change.seq >= from else { continue }
            if change.isRedacted {
                return .redacted(change, scope: change.redactedScope!, hash: hash, previous: previous)
            }
            guard let decoded = try? change.decoded() else { throw Self.damaged() }
            return .full(change, decoded, hash: hash, previous: previous)
        }
    }
}
