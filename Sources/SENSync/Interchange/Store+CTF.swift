import Foundation
import GRDB

/// What importing a CTF did, pupil by pupil. It names pupils by the line of their `Pupil`
/// element and their record id here, never by name or UPN.
public struct CTFImportSummary: Sendable, Hashable, Encodable {
    public enum Outcome: String, Sendable, Hashable, Encodable {
        /// The pupil was new to this store and was added.
        case created
        /// The pupil was found by UPN (or a former UPN) and SEN records were added or ended.
        case updated
        /// The pupil was found and already had every SEN record the file gives.
        case unchanged
        /// The file gives no SEN history for the pupil, so nothing about them was read.
        case skipped
    }

    public struct PupilResult: Sendable, Hashable, Encodable {
        /// The line of the `Pupil` element.
        public var line: Int
        /// The pupil's record id here (none when skipped).
        public var pupilID: RecordID?
        public var outcome: Outcome
        public var episodesAdded = 0
        public var episodesEnded = 0
        public var needsAdded = 0
        public var needsEnded = 0
    }

    /// A historic provision code (S, A or P) recorded as today's code, and flagged with a note on
    /// the pupil's record.
    public struct HistoricCode: Sendable, Hashable, Encodable {
        /// The line of the `SEN` element.
        public var line: Int
        public var pupilID: RecordID
        public var startDate: String
        /// The code in the file.
        public var code: String
        /// The census code recorded.
        public var recordedAs: String
        /// Whether this import added the note (a re-import finds it already there).
        public var noteAdded: Bool
    }

    /// The file's `CTFversion`.
    public var version: String?
    /// How the file names another school as the one it is for (`URN 100002`), if it does: it was
    /// imported all the same (a pupil's SEN data is not refused), and the command says so.
    public var addressedElsewhere: String?
    public var pupils: [PupilResult] = []
    public var historicCodes: [HistoricCode] = []

    public func count(_ outcome: Outcome) -> Int { pupils.filter { $0.outcome == outcome }.count }

    /// Whether the import changed nothing in the store.
    public var isUnchanged: Bool { !pupils.contains { $0.outcome == .created || $0.outcome == .updated } }
}

extension Store {
    /// Imports the SEN data of a Common Transfer File: each pupil with an SEN history is matched
    /// by UPN (or a former UPN) or added, and given the provision episodes and ranked needs the
    /// file lists that the store does not hold yet.
    ///
    /// The whole file is one transaction (one change per pupil): a file that cannot be read, or a
    /// pupil whose records break a rule, changes nothing. Records are matched by content (an
    /// episode by start date and provision, a need by start date, type and rank), so importing
    /// the same file again changes nothing. Historic provision codes (S, A, P) are recorded as
    /// the code they map to (`ctf-historic-sen-provision`), and each is flagged by a note on the
    /// pupil's record naming the code the file gave. What is matched, added and ended is set out
    /// in `Schemas/ctf/ctf-sen.md`.
    ///
    /// ```swift
    /// let summary = try store.importCTF(Data(contentsOf: url), author: "SENCO")
    /// print(summary.count(.created), summary.historicCodes.count)
    /// ```
    ///
    /// - Throws: ``CTFError`` naming the XML line and element of the problem (never a value from
    ///   the file), or, when more than one pupil has one, listing each (``CTFError/problems``):
    ///   every pupil is checked; ``StoreError`` if the store cannot be written.
    ///
    /// `progress` is told (pupils checked, pupils in the file) after every
    /// ``ctfProgressInterval`` pupils: a file smaller than that reports nothing.
    @discardableResult
    public func importCTF(
        _ data: Data, author: String, progress: (_ checked: Int, _ total: Int) -> Void = { _, _ in }
    ) throws -> CTFImportSummary {
        try importCTF(.data(data), author: author, progress: progress)
    }

    /// Imports the CTF at `url` as ``importCTF(_:author:progress:)`` does, reading the file a part
    /// at a time (memory follows the SEN data in it, not the file's size).
    @discardableResult
    public func importCTF(
        contentsOf url: URL, author: String, progress: (_ checked: Int, _ total: Int) -> Void = { _, _ in }
    ) throws -> CTFImportSummary {
        try importCTF(.file(url), author: author, progress: progress)
    }

    private func importCTF(
        _ source: CTFSource, author: String, progress: (_ checked: Int, _ total: Int) -> Void
    ) throws -> CTFImportSummary {
        let read = try CTFDocument.read(source)
        let document = read.document
        // Every pupil is checked, those after a problem too, so that one attempt lists them all.
        var problems = read.problems
        let summary = try writeBatch(author: author) { batch in
            var summary = CTFImportSummary(version: document.header.version)
            summary.addressedElsewhere = document.header.addressedElsewhere(than: identity)
            for (index, pupil) in document.pupils.enumerated() {
                if index > 0, index % Self.ctfProgressInterval == 0 { progress(index, document.pupils.count) }
                guard pupil.hasSENHistory else {
                    summary.pupils.append(.init(line: pupil.line, pupilID: nil, outcome: .skipped))
                    continue
                }
                do {
                    let plan = try ctfPlan(for: pupil, author: author, in: batch.tx.db)
                    if !plan.ops.isEmpty { try batch.write(scope: plan.pupilID, ops: plan.ops) }
                    summary.pupils.append(plan.result)
                    summary.historicCodes += plan.historicCodes
                } catch let error as StoreError where error.code != .database {
                    problems.append(
                        CTFError(
                            .refused, "This pupil's SEN data cannot be recorded here: \(error.message)",
                            line: pupil.line, element: CTFDocument.Element.pupil, hint: error.hint))
                }
            }
            return (summary, keep: problems.isEmpty)
        }
        guard problems.isEmpty else {
            throw CTFError.combining(
                problems.enumerated().sorted { ($0.element.line ?? 0, $0.offset) < ($1.element.line ?? 0, $1.offset) }
                    .map(\.element),
                pupils: read.pupilCount)
        }
        return summary
    }

    /// How many pupils of a CTF are checked between two progress reports.
    public static let ctfProgressInterval = 500

    private struct CTFPlan {
        var pupilID: RecordID
        var ops: [RecordOp] = []
        var result: CTFImportSummary.PupilResult
        var historicCodes: [CTFImportSummary.HistoricCode] = []
    }

    /// The one pupil in this store the CTF pupil is (by UPN, or a former UPN either side holds).
    private func ctfMatch(_ pupil: CTFPupil, in db: Database) throws -> RecordID? {
        let upns = [pupil.upn] + pupil.formerUPNs
        var ids = Set(
            try String.fetchAll(
                db,
                sql:
                    "SELECT id FROM pupil WHERE deleted = 0 AND upn IN (\(upns.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(upns)))
        ids.formUnion(try Self.formerHolders(of: pupil.upn, in: db))
        guard ids.count <= 1 else {
            throw CTFError(
                .refused, "This pupil's UPN or former UPN matches more than one pupil in this store.",
                line: pupil.line, element: CTFDocument.Element.pupil,
                hint: "Resolve the duplicate records first (`sensync pupil duplicates`), then import again.")
        }
        return ids.first.flatMap(RecordID.init)
    }

    /// The writes that bring one pupil's records up to what the file gives.
    private func ctfPlan(for pupil: CTFPupil, author: String, in db: Database) throws -> CTFPlan {
        let today = self.today
        let existingID = try ctfMatch(pupil, in: db)
        let pupilID = existingID ?? RecordID.v7(milliseconds: now())
        var plan = CTFPlan(pupilID: pupilID, result: .init(line: pupil.line, pupilID: pupilID, outcome: .unchanged))
        var pupilWrites: [FieldWrite] = []
        let school: SiteID
        if let existingID {
            let row = try Row.fetchOne(
                db, sql: "SELECT date_of_birth FROM pupil WHERE id = ?", arguments: [existingID.description])
            // A UPN is the child's for life, so another date of birth means a wrong UPN in the
            // file or here: the SEN data would be put on another child's record.
            if let dob = pupil.dateOfBirth, let held = (row?[0] as String?).flatMap(CalendarDate.init), dob != held {
                throw CTFError(
                    .refused, "The pupil with this UPN here has another date of birth than the file gives.",
                    line: pupil.line, element: CTFDocument.Element.pupil,
                    hint:
                        "Check the UPN and date of birth with the sending school (`sensync pupil show UPN` shows this store's); correct the one that is wrong, then import again."
                )
            }
            school = try senSchool(of: existingID, in: db) ?? identity.id
        } else {
            guard let surname = pupil.surname, let forename = pupil.forename, let dob = pupil.dateOfBirth else {
                let f = CTFDocument.Field.self
                throw CTFError(
                    .invalidValue,
                    "A pupil new to this store needs <\(f.surname)>, <\(f.forename)> and <\(f.dateOfBirth)>.",
                    line: pupil.line, element: CTFDocument.Element.pupil,
                    hint: "Ask the sending school for a corrected file, or add the pupil first (`sensync pupil add`).")
            }
            guard dob <= today else {
                throw CTFError(
                    .invalidValue, "The date of birth is in the future.", line: pupil.line,
                    element: CTFDocument.Field.dateOfBirth, hint: "Ask the sending school for a corrected file.")
            }
            let upn = try Check.upn(pupil.upn)
            try Self.requireUnusedUPN(upn.value, except: nil, in: db)
            pupilWrites = [
                FieldWrite(Pupil.Field.upn.rawValue, .text(upn.value)),
                FieldWrite(Pupil.Field.forename.rawValue, .text(forename)),
                FieldWrite(Pupil.Field.surname.rawValue, .text(surname)),
                FieldWrite(Pupil.Field.dateOfBirth.rawValue, .text(dob.description)),
            ]
            if !pupil.formerUPNs.isEmpty {
                pupilWrites.append(
                    FieldWrite(Pupil.Field.formerUPNs.rawValue, .text(pupil.formerUPNs.joined(separator: ","))))
            }
            try Self.requireDeclaredFields(Pupil.spec, in: pupilWrites)
            plan.result.outcome = .created
            school = identity.id
        }
        var ops: [RecordOp] = []
        if existingID == nil, identity.kind.isSchool {
            ops.append(
                RecordOp(
                    table: RecordSchema.enrolment.name, id: .v7(milliseconds: now()),
                    writes: [
                        FieldWrite("school_id", .text(identity.id.description)),
                        FieldWrite("entry_date", .text(today.description)),
                    ]))
        }

        // Provision: each entry runs until the next one starts; an N entry only ends the one before.
        typealias NewEpisode = (provision: String, start: CalendarDate, end: CalendarDate?)
        let episodes = try Record<SENEpisode>.fetchAll(
            db, Table(SENEpisode.name).filter(Column("pupil_id") == pupilID.description && Column("deleted") == 0))
        var episodeEnds: [RecordID: CalendarDate] = [:]
        var newEpisodes: [NewEpisode] = []
        for (i, entry) in pupil.provision.enumerated() where entry.provision != SENStatus.none.rawValue {
            let end = i + 1 < pupil.provision.count ? pupil.provision[i + 1].startDate : nil
            if let held = episodes.first(where: {
                $0.date(.startDate) == entry.startDate && $0.text(.provision) == entry.provision
            }) {
                if held[.endDate] == nil, let end { episodeEnds[held.id] = end }
            } else {
                newEpisodes.append((entry.provision, entry.startDate, end))
            }
        }
        // One provision is open at a school at a time: the file's current one and the store's
        // meet on the later start date.
        if let last = newEpisodes.indices.last, newEpisodes[last].end == nil {
            for held in episodes
            where held.text(.schoolID) == school.description && held[.endDate] == nil && episodeEnds[held.id] == nil {
                guard let start = held.date(.startDate) else { continue }
                if start < newEpisodes[last].start {
                    episodeEnds[held.id] = newEpisodes[last].start
                } else {
                    newEpisodes[last].end = min(newEpisodes[last].end ?? start, start)
                }
            }
        }
        for (id, end) in episodeEnds.sorted(by: { $0.key < $1.key }) {
            ops.append(
                RecordOp(
                    table: SENEpisode.name, id: id,
                    writes: [FieldWrite(SENEpisode.Field.endDate.rawValue, .text(end.description))]))
        }
        var newEpisodeIDs: [RecordID] = []
        for episode in newEpisodes {
            var writes = [
                FieldWrite(SENEpisode.Field.provision.rawValue, .text(episode.provision)),
                FieldWrite(SENEpisode.Field.schoolID.rawValue, .text(school.description)),
                FieldWrite(SENEpisode.Field.startDate.rawValue, .text(episode.start.description)),
            ]
            if let end = episode.end {
                writes.append(FieldWrite(SENEpisode.Field.endDate.rawValue, .text(end.description)))
            }
            try Self.requireDeclaredFields(SENEpisode.spec, in: writes)
            let id = RecordID.v7(milliseconds: now())
            newEpisodeIDs.append(id)
            ops.append(RecordOp(table: SENEpisode.name, id: id, writes: writes))
        }

        // Needs: matched by start date, type and rank; a need the store holds open that the file
        // has ended is ended.
        let needs = try Record<SENNeedRecord>.fetchAll(
            db, Table(SENNeedRecord.name).filter(Column("pupil_id") == pupilID.description && Column("deleted") == 0))
        var needEnds: [RecordID: CalendarDate] = [:]
        var newNeeds: [CTFNeed] = []
        for need in pupil.needs {
            if let held = needs.first(where: {
                $0.date(.startDate) == need.startDate && $0.text(.need) == need.need
                    && $0.integer(.rank) == Int64(need.rank)
            }) {
                if held[.endDate] == nil, let end = need.endDate { needEnds[held.id] = end }
            } else {
                newNeeds.append(need)
            }
        }
        for (id, end) in needEnds.sorted(by: { $0.key < $1.key }) {
            ops.append(
                RecordOp(
                    table: SENNeedRecord.name, id: id,
                    writes: [FieldWrite(SENNeedRecord.Field.endDate.rawValue, .text(end.description))]))
        }
        for need in newNeeds {
            var writes = [
                FieldWrite(SENNeedRecord.Field.need.rawValue, .text(need.need)),
                FieldWrite(SENNeedRecord.Field.rank.rawValue, .integer(Int64(need.rank))),
                FieldWrite(SENNeedRecord.Field.startDate.rawValue, .text(need.startDate.description)),
            ]
            if let end = need.endDate {
                writes.append(FieldWrite(SENNeedRecord.Field.endDate.rawValue, .text(end.description)))
            }
            try Self.requireDeclaredFields(SENNeedRecord.spec, in: writes)
            ops.append(RecordOp(table: SENNeedRecord.name, id: .v7(milliseconds: now()), writes: writes))
        }

        // Historic codes: recorded as the code they map to, and flagged by a note naming the code.
        for entry in pupil.provision {
            guard let code = entry.historicCode else { continue }
            let text = Self.historicCodeNote(entry)
            let held =
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM note WHERE pupil_id = ? AND text = ?)",
                    arguments: [pupilID.description, text]) ?? false
            if !held {
                ops.append(
                    RecordOp(
                        table: Note.name, id: .v7(milliseconds: now()),
                        writes: [
                            FieldWrite(Note.Field.text.rawValue, .text(text)),
                            FieldWrite(
                                Note.Field.recordedAt.rawValue, .text(HLC(milliseconds: now(), counter: 0).description)),
                            FieldWrite(Note.Field.recordedBy.rawValue, .text(author)),
                        ]))
            }
            plan.historicCodes.append(
                .init(
                    line: entry.line, pupilID: pupilID, startDate: entry.startDate.description, code: code,
                    recordedAs: entry.provision, noteAdded: !held))
        }

        if !pupilWrites.isEmpty {
            ops.insert(RecordOp(table: RecordSchema.pupil.name, id: pupilID, writes: pupilWrites), at: 0)
        }
        plan.ops = ops
        plan.result.episodesAdded = newEpisodes.count
        plan.result.episodesEnded = episodeEnds.count
        plan.result.needsAdded = newNeeds.count
        plan.result.needsEnded = needEnds.count
        if existingID != nil && !ops.isEmpty { plan.result.outcome = .updated }
        return plan
    }

    /// The note that flags a historic code: the code, what it meant, and what was recorded.
    static func historicCodeNote(_ entry: CTFProvision) -> String {
        let code = entry.historicCode ?? entry.provision
        let meaning =
            CodeLists.label("ctf-historic-sen-provision", code).components(separatedBy: " (maps to").first ?? code
        let recorded = CodeLists.label("census-sen-provision", entry.provision)
        return
            "Imported from a Common Transfer File: the SEN provision from \(entry.startDate) was recorded there with "
            + "the historic code \(code) (\(meaning)); SENSync records it as \(entry.provision) (\(recorded))."
    }

    /// A pupil's SEN data as a CTF: a `CTfile` with a minimal header (this site as the source) and
    /// one `Pupil` with UPN, names, date of birth, former UPNs, provision history and ranked needs.
    ///
    /// Provision episodes become `SEN` entries by start date; an episode that ended without
    /// another starting that day is followed by an `N` entry on its end date, so a re-import
    /// ends it there. What CTF cannot carry (plans, reviews, provision items, referrals, notes,
    /// concerns) travels in SENSync's own bundles; see `Schemas/ctf/ctf-sen.md`.
    ///
    /// ```swift
    /// try store.ctfDocument(for: "A801200020007").xmlData().write(to: url)
    /// ```
    ///
    /// - Parameter reference: The pupil's UPN or record id.
    /// - Throws: ``StoreError`` if there is no such pupil.
    public func ctfDocument(for reference: String) throws -> CTFDocument {
        let record = try pupil(reference)
        guard !record.isDeleted else {
            throw StoreError(
                .recordDeleted, "That pupil has been deleted.",
                hint: "Restore them with `sensync record restore` first.")
        }
        let id = record.id.description
        let episodes = try records(SENEpisode.self, of: id).sorted {
            ($0.date(.startDate) ?? .init(year: 1, month: 1, day: 1), $0.id)
                < ($1.date(.startDate) ?? .init(year: 1, month: 1, day: 1), $1.id)
        }
        var provision: [CTFProvision] = []
        for episode in episodes {
            guard let start = episode.date(.startDate), let code = episode.text(.provision) else { continue }
            // Ended the day it began: never in force (SEN support ended on the day an EHC plan's
            // episode began gave K for that day, and the E was left out).
            if let end = episode.date(.endDate), end <= start { continue }
            provision.append(CTFProvision(startDate: start, provision: code))
            if let end = episode.date(.endDate), !episodes.contains(where: { $0.date(.startDate) == end }) {
                provision.append(CTFProvision(startDate: end, provision: SENStatus.none.rawValue))
            }
        }
        // One entry a day: a provision that starts wins over an N that only ends another.
        provision.sort {
            ($0.startDate, $0.provision == SENStatus.none.rawValue ? 1 : 0) < (
                $1.startDate, $1.provision == SENStatus.none.rawValue ? 1 : 0
            )
        }
        var daily: [CTFProvision] = []
        for entry in provision where daily.last?.startDate != entry.startDate { daily.append(entry) }
        let needs = try records(SENNeedRecord.self, of: id).compactMap { need -> CTFNeed? in
            guard let code = need.text(.need), let rank = need.integer(.rank), let start = need.date(.startDate) else {
                return nil
            }
            return CTFNeed(need: code, rank: Int(rank), startDate: start, endDate: need.date(.endDate))
        }.sorted { ($0.startDate, $0.rank, $0.need) < ($1.startDate, $1.rank, $1.need) }
        // A name holding a character XML cannot carry (a control character kept from before
        // SENSync refused them) would make a file no reader takes, SENSync's own import included.
        for (field, value) in [("forename", record.forename), ("surname", record.surname)] {
            guard let value else { continue }
            do { try Check.requirePrintable(value, field, lineBreaks: false) } catch {
                throw StoreError(
                    .invalidInput, "The pupil's \(field) holds a character a CTF cannot carry.",
                    hint: "Correct it with `sensync pupil update --\(field)`, then export again.")
            }
        }
        let pupil = CTFPupil(
            upn: record.upn ?? "", formerUPNs: record.formerUPNs, surname: record.surname, forename: record.forename,
            dateOfBirth: record.dateOfBirth.flatMap(CalendarDate.init), provision: daily, needs: needs)
        return CTFDocument(header: ctfHeader(), pupils: [pupil])
    }

    /// A header naming this site as the source, dated now; the version is the academic year's
    /// (files made from 1 August 2025 are CTF 25).
    func ctfHeader() -> CTFHeader {
        let instant = Date(timeIntervalSince1970: Double(now()) / 1000)
        let today = StatutoryClock.localDate(at: instant)
        let academicYear = today.month >= 8 ? today.year : today.year - 1
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = StatutoryClock.timeZone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return CTFHeader(
            documentName: "Common Transfer File", version: String(format: "%02d.0", academicYear % 100),
            dateTime: formatter.string(from: instant), documentQualifier: "partial", supplierID: "SENSync",
            sourceLEA: identity.laCode, sourceURN: identity.urn, sourceSchoolName: identity.name,
            academicYear: String(academicYear))
    }
}
