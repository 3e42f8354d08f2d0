import Foundation
import GRDB
import GRDBSQLite

// MARK: - Validation helpers

enum Check {
    // `what` names the value in an error message: worked out only for one (every imported
    // cell passes through these checks).
    static func date(_ value: String, _ what: @autoclosure () -> String) throws -> String {
        guard let date = CalendarDate(value.trimmedOfSpace) else {
            if CalendarDate.isOutsideKeptRange(value.trimmedOfSpace) {
                throw StoreError(
                    .invalidInput, "The \(what()) is outside the dates SENSync keeps (\(CalendarDate.keptRange)).",
                    hint: "Check the year.")
            }
            throw StoreError(
                .invalidInput, "The \(what()) is not a valid date.", hint: "Use YYYY-MM-DD, for example 2025-09-03.")
        }
        return date.description
    }

    static func text(_ value: String, _ what: @autoclosure () -> String, max: Int = 200) throws -> String {
        var trimmed = value.trimmedOfSpace
        // Free text takes line breaks; one typed or exported on Windows (CR LF), or an old Mac's
        // (CR), is kept as the line break it is.
        let lineBreaks = max > 200
        if lineBreaks, trimmed.utf8.contains(0x0D) {
            trimmed = trimmed.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        }
        // So is a line or paragraph separator (pasted from a web page or a JSON string).
        if lineBreaks, trimmed.unicodeScalars.contains(where: \.isLineSeparator) {
            trimmed = String(String.UnicodeScalarView(trimmed.unicodeScalars.map { $0.isLineSeparator ? "\n" : $0 }))
        }
        // A text that shows nothing (a Hangul filler, a braille blank, a soft hyphen, a variation
        // selector: each was a name that looked blank) is empty too.
        guard !trimmed.isEmpty, !trimmed.unicodeScalars.allSatisfy(\.showsNothing) else {
            throw StoreError(.invalidInput, "The \(what()) is empty.", hint: "Give a value.")
        }
        // Characters are counted only when the bytes could be too many; the bytes are bounded
        // too, so that combining marks stacked on a letter (600 of them count as one character)
        // cannot make a 100-character name a kilobyte, or a note megabytes.
        guard trimmed.utf8.count <= max || trimmed.count <= max, trimmed.utf8.count <= max * 8 else {
            throw StoreError(.invalidInput, "The \(what()) is longer than \(max) characters.", hint: "Shorten it.")
        }
        try requirePrintable(trimmed, what(), lineBreaks: lineBreaks)
        return trimmed
    }

    /// What to do about a character ``requirePrintable(_:_:lineBreaks:)`` refuses, said to a
    /// person typing (an import says what to do about a file instead).
    static let unsafeCharacterHint = "Remove it: type the text again, or copy it from a plain-text source."

    /// Refuses a control character (NUL, an escape, a carriage return; a line break or tab
    /// except in free text) or a bidirectional override: they were kept (NUL cut the value short),
    /// replicated, and shown raw on other sites' terminals, and no CTF can carry them.
    static func requirePrintable(_ text: String, _ what: String, lineBreaks: Bool) throws {
        guard
            let bad = text.unicodeScalars.first(where: { scalar in
                if lineBreaks && (scalar == "\n" || scalar == "\t") { return false }
                return scalar.isUnsafeInText
            })
        else { return }
        let name = String(format: "U+%04X", bad.value)
        throw StoreError(
            .invalidInput,
            "The \(what) holds a character that cannot be recorded (\(name), a control character\(lineBreaks ? "" : ", a line break"), an invisible space or a text-direction override).",
            hint: unsafeCharacterHint)
    }

    /// A UPN a person typed: structure and check letter (rule 1510), then the LA number (rule 1530).
    static func upn(_ value: String) throws -> UPN {
        let upn: UPN
        do {
            upn = try UPN(value)
        } catch {
            throw StoreError(
                .invalidInput, "\(error.rawValue).", hint: "Check the UPN against the pupil's record in your MIS.")
        }
        if let problem = upn.laProblem {
            throw StoreError(
                .invalidInput, "\(problem.rawValue).",
                hint: "Characters 2-4 are the DfE number of the LA that issued it (Schemas/codes/la-number.json).")
        }
        return upn
    }

    static func yearGroup(_ value: Int) throws -> Int {
        guard (-2...14).contains(value) else {
            throw StoreError(.invalidInput, "Year group must be between -2 (nursery) and 14.", hint: "Reception is 0.")
        }
        return value
    }
}

extension String {
    /// Without leading and trailing white space and newlines. Hot (every imported cell): a text
    /// that starts and ends with a printable ASCII character is returned as it is.
    var trimmedOfSpace: String {
        guard let first = utf8.first, let last = utf8.last, (0x21...0x7E).contains(first),
            (0x21...0x7E).contains(last)
        else { return trimmingCharacters(in: .whitespacesAndNewlines) }
        return self
    }

    /// Ending with one full stop: a sentence (a problem's reason, say) that may end with its own
    /// stop, or a question mark, put inside another.
    var withFullStop: String { last.map { ".?!".contains($0) } == true ? self : self + "." }
}

extension Optional where Wrapped == String {
    var value: Value { map { Value.text($0) } ?? .null }
}

// MARK: - Finding records

extension Store {
    /// Resolves a pupil given as a record id (or a unique prefix of one, at least 8 characters) or a
    /// UPN.
    public func pupilID(for reference: String) throws -> RecordID {
        try reading { db in try Self.pupilID(for: reference, in: db) }
    }

    /// The live pupils (ids, in order) whose former UPNs include `upn`. Read through the partial
    /// index of pupils that have former UPNs: a scan of every pupil cost a CTF import one pass
    /// of the store for each pupil in the file.
    static func formerHolders(of upn: String, in db: Database) throws -> [String] {
        try Row.fetchAll(
            try db.cachedStatement(sql: formerHoldersSQL),
            arguments: [upn]
        ).filter { row in ((row[1] as String?) ?? "").split(separator: ",").contains { $0 == upn } }
            .map { $0[0] as String }
    }

    static let formerHoldersSQL = """
        SELECT id, former_upns FROM pupil INDEXED BY pupil_former_upns
        WHERE former_upns IS NOT NULL AND former_upns != '' AND deleted = 0 AND instr(former_upns, ?) > 0
        ORDER BY id
        """

    static func pupilID(for reference: String, in db: Database) throws -> RecordID {
        let ref = reference.trimmedOfSpace
        if ref.utf8.count == 13, ref.first?.isLetter == true {
            let upn = try Check.upn(ref)
            var ids = try String.fetchAll(
                try db.cachedStatement(sql: "SELECT id FROM pupil WHERE upn = ? AND deleted = 0 ORDER BY id"),
                arguments: [upn.value])
            if ids.isEmpty {
                // A UPN the pupil had before (a corrected UPN, or one a CTF gave): still theirs.
                ids = try formerHolders(of: upn.value, in: db)
            }
            guard !ids.isEmpty else {
                throw StoreError(.notFound, "No pupil in this store has that UPN.", hint: "See `sensync pupil list`.")
            }
            guard ids.count == 1, let id = RecordID(ids[0]) else {
                throw StoreError(
                    .ambiguous, "More than one pupil record has that UPN.",
                    hint: "Use the record id from `sensync pupil list`.")
            }
            return id
        }
        return try recordID(for: ref, table: "pupil", noun: "pupil", in: db).id
    }

    /// Finds a record by id or unique id prefix. Returns its pupil scope and id.
    static func recordID(for reference: String, table: String, noun: String, in db: Database) throws -> (
        scope: RecordID, id: RecordID
    ) {
        let ref = try idPrefix(reference, table: table, noun: noun)
        let rows = try Row.fetchAll(
            try db.cachedStatement(
                sql: "SELECT pupil_id, id FROM \(table) WHERE id >= ? AND id < ? ORDER BY id LIMIT 11"),
            arguments: [ref, ref + "~"])
        guard let row = rows.first else {
            throw StoreError(
                .notFound, "No \(noun) with that id is in this store.", hint: "Check the id with the list command.")
        }
        guard rows.count == 1 else {
            throw StoreError(
                .ambiguous, "More than one \(noun) id starts with that prefix.",
                hint: "Give more of the id; the records it could mean are below.",
                candidates: try candidates(rows.map { ($0[0], $0[1]) }, table: table, in: db))
        }
        return (try RecordID.stored(row[0] as String), try RecordID.stored(row[1] as String))
    }

    /// `reference` as an id prefix to look up (lower case, at least 8 characters of an id), or an
    /// error that says how records of `table` are named.
    static func idPrefix(_ reference: String, table: String, noun: String) throws -> String {
        let ref = reference.trimmedOfSpace.lowercased()
        let hex = UInt8(ascii: "0")...UInt8(ascii: "9")
        let letters = UInt8(ascii: "a")...UInt8(ascii: "f")
        guard ref.utf8.count >= 8,
            ref.utf8.allSatisfy({ hex.contains($0) || letters.contains($0) || $0 == UInt8(ascii: "-") })
        else {
            let list =
                switch table {
                case "support_plan": "plan list"
                case "pupil": "pupil list"
                default:
                    noun == "record" ? "record list KIND" : "\(table.replacingOccurrences(of: "_", with: "-")) list"
                }
            let message =
                table == "pupil"
                ? "That is neither a UPN nor a pupil id: a pupil is named by UPN (13 characters) or by record id (at least its first 8 characters)."
                : "That is not \(KindSpec.withArticle(noun)) id: \(KindSpec.withArticle(noun)) is named by its id, or at least the first 8 characters of it."
            throw StoreError(
                .invalidInput, message, hint: "Copy it from `sensync \(list)\(table == "pupil" ? "" : " --pupil UPN")`."
            )
        }
        return ref
    }

    /// One line per record an ambiguous id could mean: its id, kind, its pupil's record id and the
    /// day it was created (from its time-ordered id). Not the pupil's UPN or name: this is an
    /// error message, and they stay out of those (`sensync pupil show ID` shows who it is).
    /// The records an ambiguous prefix could mean, one line each: the first ten of `rows` (a
    /// lookup reads eleven), then "…and more" if there were more.
    static func candidates(_ rows: [(scope: String, id: String)], table: String, in db: Database) throws -> [String] {
        rows.prefix(10).map { scope, id in
            let created = RecordID(id).map { StatutoryClock.localDate(at: $0.createdAt).description } ?? "?"
            return "\(id)  \(RecordSchema.kind(table)?.commandName ?? table)  pupil \(scope)  created \(created)"
        } + (rows.count > 10 ? ["…and more"] : [])
    }

    static func requireLive(_ key: RecordKey, noun: String, in tx: inout StoreTransaction) throws -> RecordState {
        guard let state = try tx.record(key), !state.isEmpty else {
            throw StoreError(
                .notFound, "No \(noun) with that id is in this store.", hint: "Check the id with the list command.")
        }
        guard !state.isDeleted else {
            throw StoreError(
                .recordDeleted, "That \(noun) has been deleted.",
                hint: "Restore it with `sensync record restore` first.")
        }
        return state
    }
}

// MARK: - Pupils

extension Store {
    /// Adds a pupil, enrolling them at this school (or at `pupil.school`).
    @discardableResult
    public func addPupil(_ pupil: NewPupil, author: String) throws -> RecordID {
        try writing {
            let upn = try Check.upn(pupil.upn)
            let forename = try Check.text(pupil.forename, "forename", max: 100)
            let surname = try Check.text(pupil.surname, "surname", max: 100)
            let dob = try Check.date(pupil.dateOfBirth, "date of birth")
            let today = CalendarDate.today(Date(timeIntervalSince1970: Double(now()) / 1000))
            guard CalendarDate(dob)! <= today else {
                throw StoreError(.invalidInput, "The date of birth is in the future.", hint: "Check --dob.")
            }
            let yearGroup = try pupil.yearGroup.map(Check.yearGroup)
            let school = pupil.school ?? (identity.kind.isSchool ? identity.id : nil)
            let entry = try Check.date(
                pupil.entryDate ?? CalendarDate.today(Date(timeIntervalSince1970: Double(now()) / 1000)).description,
                "entry date")
            if pupil.entryDate != nil { try Self.requireWithinAYear(entry, "entry date", today: today) }
            guard school == nil || entry >= dob else {
                throw StoreError(
                    .invalidInput, "The entry date is before the date of birth.", hint: "Check --entry-date and --dob.")
            }
            let id = RecordID.v7(milliseconds: now())
            var ops = [
                RecordOp(
                    table: "pupil", id: id,
                    writes: [
                        FieldWrite("upn", .text(upn.value)), FieldWrite("forename", .text(forename)),
                        FieldWrite("surname", .text(surname)), FieldWrite("date_of_birth", .text(dob)),
                    ] + (yearGroup.map { [FieldWrite("year_group", .integer(Int64($0)))] } ?? []))
            ]
            if let school {
                ops.append(
                    RecordOp(
                        table: "enrolment", id: RecordID.v7(milliseconds: now()),
                        writes: [
                            FieldWrite("school_id", .text(school.description)), FieldWrite("entry_date", .text(entry)),
                        ]))
            }
            try write(author: author, scope: id, ops: ops) { tx in
                try Self.requireUnusedUPN(upn.value, except: nil, in: tx.db)
            }
            return id
        }
    }

    /// Changes a pupil's details or SEN status and needs.
    @discardableResult
    public func updatePupil(_ reference: String, _ update: PupilUpdate, author: String) throws -> WriteReceipt {
        try writing {
            guard !update.isEmpty else {
                throw StoreError(.invalidInput, "Nothing to change.", hint: "Give at least one field to update.")
            }
            let id = try pupilID(for: reference)
            let key = RecordKey(table: "pupil", scope: id, id: id)
            var writes: [FieldWrite] = []
            if let upn = update.upn { writes.append(FieldWrite("upn", .text(try Check.upn(upn).value))) }
            if let f = update.forename {
                writes.append(FieldWrite("forename", .text(try Check.text(f, "forename", max: 100))))
            }
            if let s = update.surname {
                writes.append(FieldWrite("surname", .text(try Check.text(s, "surname", max: 100))))
            }
            if let d = update.dateOfBirth {
                let dob = try Check.date(d, "date of birth")
                guard CalendarDate(dob)! <= localToday else {
                    throw StoreError(.invalidInput, "The date of birth is in the future.", hint: "Check --dob.")
                }
                writes.append(FieldWrite("date_of_birth", .text(dob)))
            }
            if let y = update.yearGroup {
                writes.append(FieldWrite("year_group", .integer(Int64(try Check.yearGroup(y)))))
            }
            let newUPN = try update.upn.map { try Check.upn($0).value }
            var senOps: [RecordOp] = []
            return try write(author: author, scope: id, ops: []) { tx in
                let state = try Self.requireLive(key, noun: "pupil", in: &tx)
                if let newUPN, newUPN != state["upn"]?.text {
                    // DfE rule 1520: one pupil record per UPN. The replaced UPN is kept as a former UPN.
                    try Self.requireUnusedUPN(newUPN, except: id, in: tx.db)
                    if let old = state["upn"]?.text {
                        var former = (state[Pupil.Field.formerUPNs.rawValue]?.text ?? "").split(separator: ",").map(
                            String.init)
                        if !former.contains(old) { former.append(old) }
                        former.removeAll { $0 == newUPN }
                        writes.append(
                            FieldWrite(
                                Pupil.Field.formerUPNs.rawValue,
                                former.isEmpty ? .null : .text(former.joined(separator: ","))))
                    }
                }
                if update.senStatus != nil || update.senNeeds != nil {
                    // Recorded as provision episodes and ranked needs, from which the status and
                    // needs are read (``censusSummaries(in:pupil:today:enrolments:)``).
                    guard try senSchool(of: id, in: tx.db) != nil else {
                        throw StoreError(
                            .invalidInput, "The pupil is on no school's roll: SEN provision is recorded at a school.",
                            hint: "Transfer the pupil to their school first (`sensync pupil transfer`).")
                    }
                    let held = try Self.censusSummaries(in: tx.db, pupil: id, today: localToday)[id]
                    let status = update.senStatus ?? held?.status.rawValue ?? SENStatus.none.rawValue
                    var needs = update.senNeeds ?? held.map { SENProfile.needsField($0.needs) } ?? ""
                    if update.senStatus?.uppercased() == "N" && update.senNeeds == nil { needs = "" }
                    let profile: SENProfile
                    do {
                        profile = try SENProfile(status: status, needs: needs)
                    } catch {
                        throw StoreError(
                            .invalidInput,
                            (error as? SENProfile.Problem)?.description ?? "The SEN status or needs are not valid.")
                    }
                    senOps = try self.senRecordOps(for: profile, pupil: id, in: tx.db)
                }
            } opsAfterCheck: {
                (writes.isEmpty ? [] : [RecordOp(table: "pupil", id: id, writes: writes)]) + senOps
            }
        }
    }

    /// The census SEN status and ranked needs a pupil's provision episodes and needs (each given
    /// by its values) add up to on `today`: the open episodes (E before K, else N) and the open
    /// needs by rank. Open: not deleted, begun by `today`, and not ended by it.
    static func censusSummary(
        episodes: [[String: Value]], needs: [[String: Value]], today: CalendarDate
    ) -> CensusSummary {
        let isOpen = { (values: [String: Value]) in Self.isOpen(values, on: today) }
        let provisions = Set(episodes.filter(isOpen).compactMap { $0[SENEpisode.Field.provision.rawValue]?.text })
        let status: SENStatus = provisions.contains("E") ? .ehcPlan : provisions.contains("K") ? .senSupport : .none
        var ranked: [SENNeed] = []
        let open = needs.filter(isOpen).sorted {
            ($0[SENNeedRecord.Field.rank.rawValue]?.integer ?? .max)
                < ($1[SENNeedRecord.Field.rank.rawValue]?.integer ?? .max)
        }
        for values in open {
            if let need = values[SENNeedRecord.Field.need.rawValue]?.text.flatMap(SENNeed.init(rawValue:)),
                !ranked.contains(need)
            {
                ranked.append(need)
            }
        }
        return CensusSummary(status: status, needs: ranked)
    }

    /// Whether an episode or need (given by its values) is open on `day`: not deleted, begun by
    /// then and not ended by it. Both kinds name their dates `start_date` and `end_date`.
    static func isOpen(_ values: [String: Value], on day: CalendarDate) -> Bool {
        values[RecordState.deletedField] != .integer(1)
            && (values["start_date"]?.text.flatMap(CalendarDate.init).map { $0 <= day } ?? true)
            && (values["end_date"]?.text.flatMap(CalendarDate.init).map { $0 > day } ?? true)
    }

    /// A pupil's census SEN status and ranked needs, as ``censusSummary(episodes:needs:today:)``
    /// adds them up.
    struct CensusSummary: Equatable {
        var status: SENStatus
        var needs: [SENNeed]

        /// The pupil record's fields that hold the summary, as it gives them.
        var pupilFields: [String: Value] {
            [
                Pupil.Field.senStatus.rawValue: .text(status.rawValue),
                Pupil.Field.senNeeds.rawValue: needs.isEmpty ? .null : .text(SENProfile.needsField(needs)),
            ]
        }
    }

    /// The census SEN status and ranked needs of every pupil, or of `pupil` only, as their
    /// provision episodes and needs add up to on `today`. Read, never stored beside the records:
    /// two sites recording needs at once then both count, where a stored summary held each site's
    /// own and the merge set one against the other. A pupil with no episode or need at all, live
    /// or deleted, reads as the pupil record holds them (written by SENSync before it kept
    /// episodes: see ``migrateSENHistory(author:dryRun:)``), or N.
    ///
    /// - Parameter enrolments: The current enrolments (``currentEnrolments(in:pupil:on:)``) when the
    ///   caller has read them already.
    static func censusSummaries(
        in db: Database, pupil: RecordID? = nil, today: CalendarDate, enrolments: [RecordID: [SiteID]]? = nil
    ) throws -> [RecordID: CensusSummary] {
        let filter = pupil == nil ? "" : "WHERE pupil_id = ?"
        let arguments: StatementArguments = pupil.map { [$0.description] } ?? []
        func read(_ kind: KindSpec, _ fields: [String]) throws -> [RecordID: [[String: Value]]] {
            var result: [RecordID: [[String: Value]]] = [:]
            let columns = ([RecordState.deletedField] + fields).joined(separator: ", ")
            for row in try Row.fetchAll(
                db, sql: "SELECT pupil_id, \(columns) FROM \(kind.name) \(filter)", arguments: arguments)
            {
                guard let id = RecordID(row[0] as String) else { continue }
                var values: [String: Value] = [RecordState.deletedField: .integer(row[1] as Int64)]
                for (index, field) in fields.enumerated() {
                    let value = row[index + 2] as DatabaseValue
                    switch value.storage {
                    case .int64(let n): values[field] = .integer(n)
                    case .string(let text): values[field] = .text(text)
                    default: break
                    }
                }
                result[id, default: []].append(values)
            }
            return result
        }
        let dates = [SENEpisode.Field.startDate.rawValue, SENEpisode.Field.endDate.rawValue]
        let school = SENEpisode.Field.schoolID.rawValue
        let episodes = try read(SENEpisode.spec, [SENEpisode.Field.provision.rawValue, school] + dates)
        let needs = try read(
            SENNeedRecord.spec, [SENNeedRecord.Field.need.rawValue, SENNeedRecord.Field.rank.rawValue] + dates)
        let current = try enrolments ?? currentEnrolments(in: db, pupil: pupil, on: today)
        var result: [RecordID: CensusSummary] = [:]
        for id in Set(episodes.keys).union(needs.keys) {
            // The provision the pupil's current school records, once it records any (N
            // included); until then what a school they left recorded: it follows the child.
            let schools = Set((current[id] ?? []).map(\.description))
            let all = episodes[id] ?? []
            let here = all.filter { isOpen($0, on: today) && schools.contains($0[school]?.text ?? "") }
            result[id] = censusSummary(episodes: here.isEmpty ? all : here, needs: needs[id] ?? [], today: today)
        }
        for row in try Row.fetchAll(
            db, sql: "SELECT id, sen_status, sen_needs FROM pupil \(filter)", arguments: arguments)
        {
            guard let id = RecordID(row[0] as String), result[id] == nil else { continue }
            result[id] = CensusSummary(
                status: (row[1] as String?).flatMap(SENStatus.init(rawValue:)) ?? .none,
                needs: (row[2] as String?)?.split(separator: ",").compactMap { SENNeed(rawValue: String($0)) } ?? [])
        }
        return result
    }

    /// The school a pupil's SEN provision is recorded at: this school, or the pupil's current one.
    func senSchool(of pupil: RecordID, in db: Database) throws -> SiteID? {
        if identity.kind.isSchool { return identity.id }
        return try Self.currentEnrolments(in: db, pupil: pupil, on: today)[pupil]?.first
    }

    /// Keeps the provision episodes and ranked needs in step with a new census SEN status and
    /// needs: the open episode at the school ends today and, for E or K, a new one starts; needs
    /// no longer held end today and new ones start today.
    func senRecordOps(for profile: SENProfile, pupil: RecordID, in db: Database) throws -> [RecordOp] {
        guard let school = try senSchool(of: pupil, in: db) else { return [] }
        let today = self.today
        var ops: [RecordOp] = []
        func end(_ start: CalendarDate?) -> Value { .text(max(start ?? today, today).description) }
        // The pupil's open episodes: this school's, and (for N below) those of schools they left.
        let (episodes, elsewhere) = try Record<SENEpisode>.fetchAll(
            db,
            Table(SENEpisode.name).filter(
                Column("pupil_id") == pupil.description && Column("deleted") == 0 && Column("end_date") == nil)
        ).reduce(into: ([Record<SENEpisode>](), [Record<SENEpisode>]())) { split, episode in
            if episode.text(.schoolID) == school.description {
                split.0.append(episode)
            } else {
                split.1.append(episode)
            }
        }
        // N is recorded as an episode only to outweigh provision a school the pupil left still has
        // open (``censusSummaries(in:pupil:today:enrolments:)`` reads it until this school records its own).
        let carried = elsewhere.contains { $0.text(.provision) != SENStatus.none.rawValue }
        let wanted: String? =
            profile.status == .none ? (carried ? SENStatus.none.rawValue : nil) : profile.status.rawValue
        if episodes.map({ $0.text(.provision) }) != [wanted].compactMap({ $0 }) {
            for episode in episodes {
                ops.append(
                    RecordOp(
                        table: SENEpisode.name, id: episode.id,
                        writes: [FieldWrite(SENEpisode.Field.endDate.rawValue, end(episode.date(.startDate)))]))
            }
            if let wanted {
                ops.append(
                    RecordOp(
                        table: SENEpisode.name, id: .v7(milliseconds: now()),
                        writes: [
                            FieldWrite(SENEpisode.Field.provision.rawValue, .text(wanted)),
                            FieldWrite(SENEpisode.Field.schoolID.rawValue, .text(school.description)),
                            FieldWrite(SENEpisode.Field.startDate.rawValue, .text(today.description)),
                        ]))
            }
        }
        let open = try Record<SENNeedRecord>.fetchAll(
            db,
            Table(SENNeedRecord.name).filter(
                Column("pupil_id") == pupil.description && Column("deleted") == 0 && Column("end_date") == nil))
        let desired = profile.needs.enumerated().map { (need: $1.rawValue, rank: Int64($0 + 1)) }
        for need in open
        where !desired.contains(where: { $0.need == need.text(.need) && $0.rank == need.integer(.rank) }) {
            ops.append(
                RecordOp(
                    table: SENNeedRecord.name, id: need.id,
                    writes: [FieldWrite(SENNeedRecord.Field.endDate.rawValue, end(need.date(.startDate)))]))
        }
        for need in desired
        where !open.contains(where: { $0.text(.need) == need.need && $0.integer(.rank) == need.rank }) {
            ops.append(
                RecordOp(
                    table: SENNeedRecord.name, id: .v7(milliseconds: now()),
                    writes: [
                        FieldWrite(SENNeedRecord.Field.need.rawValue, .text(need.need)),
                        FieldWrite(SENNeedRecord.Field.rank.rawValue, .integer(need.rank)),
                        FieldWrite(SENNeedRecord.Field.startDate.rawValue, .text(today.description)),
                    ]))
        }
        return ops
    }

    /// DfE rule 1520: a UPN belongs to one pupil record.
    static func requireUnusedUPN(_ upn: String, except pupil: RecordID?, in db: Database) throws {
        let clash =
            try db.cachedStatement(sql: "SELECT count(*) FROM pupil WHERE upn = ? AND deleted = 0 AND id != ?")
            .runDirectly { binder in
                binder.bind(upn)
                binder.bind(pupil?.description ?? "")
            } firstRow: { row in
                sqlite3_column_int64(row, 0)
            } ?? 0
        guard clash == 0 else {
            throw StoreError(
                .invalidInput, "Another pupil record in this store already has that UPN.",
                hint: "Check the UPN; if both records are the same child, see `sensync pupil duplicates`.")
        }
    }

    /// Pupils that share a UPN (DfE rule 1520): two schools recorded the same child, or a UPN was
    /// mistyped. Found after merges; each group is listed so one record can be deleted or corrected.
    public func duplicatePupils() throws -> [(upn: String, pupils: [PupilRecord])] {
        let all = try pupils()
        return Dictionary(grouping: all.filter { $0.upn != nil }, by: { $0.upn! })
            .filter { $0.value.count > 1 }
            .map { (upn: $0.key, pupils: $0.value.sorted { $0.id < $1.id }) }
            .sorted { $0.upn < $1.upn }
    }

    /// How many UPNs more than one live pupil record holds (``duplicatePupils()``, counted
    /// without reading the pupils).
    public func duplicatePupilCount() throws -> Int {
        try reading { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM (
                      SELECT upn FROM pupil WHERE deleted = 0 AND upn IS NOT NULL GROUP BY upn HAVING count(*) > 1)
                    """) ?? 0
        }
    }

    /// All pupils in this store that are not deleted, by surname.
    public func pupils(includeDeleted: Bool = false) throws -> [PupilRecord] {
        try reading { db in
            let today = localToday
            let enrolments = try Self.currentEnrolments(in: db, on: today)
            let summaries = try Self.withPlansInForce(
                Self.censusSummaries(in: db, today: today, enrolments: enrolments), in: db, today: today)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT id, upn, forename, surname, date_of_birth, year_group, deleted, former_upns
                    FROM pupil \(includeDeleted ? "" : "WHERE deleted = 0") ORDER BY surname, forename, id
                    """
            ).map { try Self.pupil(from: $0, enrolments: enrolments, summaries: summaries) }
        }
    }

    /// One pupil, by id or UPN.
    public func pupil(_ reference: String) throws -> PupilRecord {
        let id = try pupilID(for: reference)
        return try reading { db in
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT id, upn, forename, surname, date_of_birth, year_group, deleted, former_upns FROM pupil WHERE pupil_id = ? AND id = ?",
                arguments: [id.description, id.description])!
            let today = localToday
            let enrolments = try Self.currentEnrolments(in: db, pupil: id, on: today)
            return try Self.pupil(
                from: row, enrolments: enrolments,
                summaries: try Self.withPlansInForce(
                    Self.censusSummaries(in: db, pupil: id, today: today, enrolments: enrolments), in: db,
                    pupil: id, today: today))
        }
    }

    /// `summaries` with E for each pupil with an EHC plan in force today (issued, not ceased), as
    /// the census and the area report count them: at the LA, which records the plan and no
    /// school's provision, a pupil with a plan read N.
    static func withPlansInForce(
        _ summaries: [RecordID: CensusSummary], in db: Database, pupil: RecordID? = nil, today: CalendarDate
    ) throws -> [RecordID: CensusSummary] {
        var summaries = summaries
        let day = today.description
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT DISTINCT pupil_id FROM ehc_plan WHERE deleted = 0 AND issued_on <= ?
                  AND (ceased_on IS NULL OR ceased_on > ?)\(pupil == nil ? "" : " AND pupil_id = ?")
                """, arguments: StatementArguments([day, day] + (pupil.map { [$0.description] } ?? [])))
        {
            guard let id = RecordID(row[0] as String) else { continue }
            summaries[id] = CensusSummary(status: .ehcPlan, needs: summaries[id]?.needs ?? [])
        }
        return summaries
    }

    /// A pupil's enrolments, oldest first.
    public func enrolments(of reference: String) throws -> [EnrolmentRecord] {
        let id = try pupilID(for: reference)
        return try reading { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT id, school_id, entry_date, leaving_date FROM enrolment WHERE pupil_id = ? AND deleted = 0 ORDER BY entry_date, id",
                arguments: [id.description]
            ).map { row in
                EnrolmentRecord(
                    id: try RecordID.stored(row[0] as String), pupilID: id,
                    schoolID: (row[1] as String?).flatMap(SiteID.init),
                    entryDate: row[2], leavingDate: row[3])
            }
        }
    }

    /// The schools each pupil (or `pupil` only) is at on `day`: on roll there
    /// (``enrolments(in:pupil:on:)``), or for a pupil on no roll that day, the school they join
    /// next. A transfer dated later leaves the pupil at the old school until its day.
    static func currentEnrolments(in db: Database, pupil: RecordID? = nil, on day: CalendarDate) throws -> [RecordID:
        [SiteID]]
    {
        var (current, next) = try enrolments(in: db, pupil: pupil, on: day)
        for (pupil, school) in next { current[pupil] = [school] }
        return current
    }

    /// The schools each pupil was on roll at on `day` (entered by then, not left by then); and for
    /// a pupil on no roll that day whose next enrolment began after it, that school (an entry date
    /// is often the day the pupil was first recorded, later than what is recorded about them).
    static func enrolments(in db: Database, pupil: RecordID? = nil, on day: CalendarDate) throws -> (
        onRoll: [RecordID: [SiteID]], nextSchool: [RecordID: SiteID]
    ) {
        var onRoll: [RecordID: [SiteID]] = [:]
        var next: [RecordID: SiteID] = [:]
        let filter = pupil == nil ? "" : "AND pupil_id = ?"
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT pupil_id, school_id, entry_date, leaving_date FROM enrolment WHERE deleted = 0 \(filter)
                ORDER BY entry_date, id
                """, arguments: pupil.map { [$0.description] } ?? []
        ) {
            guard let pupil = RecordID(row[0] as String), let school = (row[1] as String?).flatMap(SiteID.init) else {
                continue
            }
            let entry = (row[2] as String?).flatMap(CalendarDate.init)
            let left = (row[3] as String?).flatMap(CalendarDate.init)
            if entry.map({ $0 > day }) ?? false {
                if next[pupil] == nil { next[pupil] = school }
            } else if left.map({ $0 > day }) ?? true, !(onRoll[pupil]?.contains(school) ?? false) {
                // Once per school: two sites that enrolled the pupil at one school at the same
                // time left two open enrolments there ("Brook Primary, Brook Primary").
                onRoll[pupil, default: []].append(school)
            }
        }
        for pupil in onRoll.keys { next[pupil] = nil }
        return (onRoll, next)
    }

    /// A pupil read from `row`, with the census status and needs of `summaries`
    /// (``censusSummaries(in:pupil:today:enrolments:)``).
    static func pupil(
        from row: Row, enrolments: [RecordID: [SiteID]], summaries: [RecordID: CensusSummary]
    ) throws -> PupilRecord {
        let id = try RecordID.stored(row[0] as String)
        let summary = summaries[id]
        return PupilRecord(
            id: id, upn: row[1], forename: row[2], surname: row[3], dateOfBirth: row[4], yearGroup: row[5],
            senStatus: summary?.status.rawValue, senNeeds: summary?.needs.map(\.rawValue) ?? [],
            schools: enrolments[id] ?? [], isDeleted: (row[6] as Int) != 0,
            formerUPNs: (row[7] as String?)?.split(separator: ",").map(String.init) ?? [])
    }
}

// MARK: - Notes

extension Store {
    /// Adds an early-identification note to a pupil. `amends` names an earlier note this one
    /// corrects.
    @discardableResult
    public func addNote(
        pupil reference: String, text: String, area: NoteArea? = nil, amends: String? = nil, author: String
    ) throws -> RecordID {
        try writing {
            let pupilID = try pupilID(for: reference)
            let body = try Check.text(text, "note text", max: 20_000)
            let id = RecordID.v7(milliseconds: now())
            var amendsID: RecordID?
            if let amends {
                let found = try reading { db in try Self.recordID(for: amends, table: "note", noun: "note", in: db) }
                guard found.scope == pupilID else {
                    throw StoreError(
                        .invalidInput, "The amended note belongs to a different pupil.", hint: "Check --amends.")
                }
                amendsID = found.id
            }
            let recordedAt = HLC(milliseconds: now(), counter: 0).description
            try write(
                author: author, scope: pupilID,
                ops: [
                    RecordOp(
                        table: "note", id: id,
                        writes: [
                            FieldWrite("text", .text(body)),
                            FieldWrite("area", area.map { .text($0.rawValue) } ?? .null),
                            FieldWrite("amends_note_id", amendsID.map { .text($0.description) } ?? .null),
                            FieldWrite("recorded_at", .text(recordedAt)),
                            FieldWrite("recorded_by", .text(author.trimmedOfSpace)),
                        ])
                ]
            ) { tx in
                _ = try Self.requireLive(RecordKey(table: "pupil", scope: pupilID, id: pupilID), noun: "pupil", in: &tx)
            }
            return id
        }
    }

    /// A pupil's notes, oldest first.
    public func notes(of reference: String) throws -> [NoteRecord] {
        let pupilID = try pupilID(for: reference)
        return try reading { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT id, text, area, amends_note_id, recorded_at, recorded_by FROM note WHERE pupil_id = ? ORDER BY recorded_at, id",
                arguments: [pupilID.description]
            ).map { row in
                NoteRecord(
                    id: try RecordID.stored(row[0] as String), pupilID: pupilID, text: row[1] ?? "", area: row[2],
                    amendsNoteID: (row[3] as String?).flatMap(RecordID.init), recordedAt: row[4], recordedBy: row[5])
            }
        }
    }
}

// MARK: - Support plans

extension Store {
    /// Starts a support plan for a pupil.
    @discardableResult
    public func createPlan(pupil reference: String, _ plan: NewSupportPlan, author: String) throws -> RecordID {
        try writing {
            let pupilID = try pupilID(for: reference)
            guard PlanStatus(rawValue: plan.status) != nil else {
                throw StoreError(
                    .invalidInput, "Unknown plan status.",
                    hint: "Use one of \(PlanStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            let today = CalendarDate.today(Date(timeIntervalSince1970: Double(now()) / 1000)).description
            let id = RecordID.v7(milliseconds: now())
            let writes: [FieldWrite] = [
                FieldWrite("title", .text(try Check.text(plan.title, "plan title"))),
                FieldWrite("status", .text(plan.status)),
                FieldWrite("start_date", .text(try Check.date(plan.startDate ?? today, "start date"))),
                FieldWrite("review_date", .text(try Check.date(plan.reviewDate, "review date"))),
                FieldWrite(
                    "responsible_org",
                    try plan.responsibleOrg.map { try Check.text($0, "responsible organisation") }.value),
                FieldWrite(
                    "responsible_person",
                    try plan.responsiblePerson.map { try Check.text($0, "responsible person") }.value),
            ]
            try Self.requireDeclaredFields(SupportPlan.spec, in: writes)
            try write(author: author, scope: pupilID, ops: [RecordOp(table: "support_plan", id: id, writes: writes)]) {
                tx in
                _ = try Self.requireLive(RecordKey(table: "pupil", scope: pupilID, id: pupilID), noun: "pupil", in: &tx)
            }
            return id
        }
    }

    private func livePlan(_ reference: String) throws -> RecordKey {
        let found = try reading { db in
            try Self.recordID(for: reference, table: "support_plan", noun: "plan", in: db)
        }
        return RecordKey(table: "support_plan", scope: found.scope, id: found.id)
    }

    /// Adds an outcome to a plan.
    @discardableResult
    public func addOutcome(plan reference: String, description: String, targetDate: String?, author: String) throws
        -> RecordID
    {
        try writing {
            let plan = try livePlan(reference)
            let id = RecordID.v7(milliseconds: now())
            let writes: [FieldWrite] = [
                FieldWrite("plan_id", .text(plan.id.description)),
                FieldWrite("description", .text(try Check.text(description, "outcome", max: 2000))),
                FieldWrite("target_date", try targetDate.map { try Check.date($0, "target date") }.value),
                FieldWrite("status", .text("open")),
            ]
            try write(author: author, scope: plan.scope, ops: [RecordOp(table: "plan_outcome", id: id, writes: writes)])
            {
                tx in
                _ = try Self.requireLive(plan, noun: "plan", in: &tx)
            }
            return id
        }
    }

    /// Adds a provision item to a plan.
    @discardableResult
    public func addProvision(plan reference: String, _ provision: NewProvision, author: String) throws -> RecordID {
        try writing {
            let plan = try livePlan(reference)
            if let cost = provision.costPence, cost < 0 {
                throw StoreError(
                    .invalidInput, "A cost cannot be negative.", hint: "Give the cost in pounds, e.g. 450.00.")
            }
            let id = RecordID.v7(milliseconds: now())
            let writes: [FieldWrite] = [
                FieldWrite("plan_id", .text(plan.id.description)),
                FieldWrite("description", .text(try Check.text(provision.description, "provision", max: 2000))),
                FieldWrite("provider", try provision.provider.map { try Check.text($0, "provider") }.value),
                FieldWrite("frequency", try provision.frequency.map { try Check.text($0, "frequency") }.value),
                FieldWrite(
                    "responsible_org",
                    try provision.responsibleOrg.map { try Check.text($0, "responsible organisation") }.value),
                FieldWrite(
                    "responsible_person",
                    try provision.responsiblePerson.map { try Check.text($0, "responsible person") }.value),
                FieldWrite("cost_pence", provision.costPence.map { .integer($0) } ?? .null),
            ]
            try Self.requireDeclaredFields(ProvisionItem.spec, in: writes)
            try write(
                author: author, scope: plan.scope, ops: [RecordOp(table: "provision_item", id: id, writes: writes)]
            ) {
                tx in
                _ = try Self.requireLive(plan, noun: "plan", in: &tx)
            }
            return id
        }
    }

    /// Records a review of a plan; moves the plan's review date on, and closes it if so decided.
    @discardableResult
    public func recordReview(plan reference: String, _ review: NewReview, author: String) throws -> RecordID {
        try writing {
            let plan = try livePlan(reference)
            let id = RecordID.v7(milliseconds: now())
            let next = try review.nextReviewDate.map { try Check.date($0, "next review date") }
            if review.decision != .close && next == nil {
                throw StoreError(
                    .invalidInput, "A review that keeps the plan open needs a next review date.",
                    hint: "Give --next-review YYYY-MM-DD.")
            }
            var planWrites: [FieldWrite] = []
            if let next { planWrites.append(FieldWrite("review_date", .text(next))) }
            if review.decision == .close { planWrites.append(FieldWrite("status", .text(PlanStatus.closed.rawValue))) }
            var ops = [
                RecordOp(
                    table: "plan_review", id: id,
                    writes: [
                        FieldWrite("plan_id", .text(plan.id.description)),
                        FieldWrite("held_on", .text(try Check.date(review.heldOn, "review date"))),
                        FieldWrite("summary", .text(try Check.text(review.summary, "review summary", max: 20_000))),
                        FieldWrite("decision", .text(review.decision.rawValue)),
                        FieldWrite("next_review_date", next.value),
                    ])
            ]
            if !planWrites.isEmpty { ops.append(RecordOp(table: "support_plan", id: plan.id, writes: planWrites)) }
            try write(author: author, scope: plan.scope, ops: ops) { tx in
                _ = try Self.requireLive(plan, noun: "plan", in: &tx)
            }
            return id
        }
    }

    /// A pupil's plans with their outcomes, provision and reviews.
    public func plans(of reference: String) throws -> [SupportPlanRecord] {
        let pupilID = try pupilID(for: reference)
        return try reading { db in
            let scope = pupilID.description
            let outcomes = Dictionary(
                grouping: try Row.fetchAll(
                    db,
                    sql:
                        "SELECT plan_id, id, description, target_date, status FROM plan_outcome WHERE pupil_id = ? AND deleted = 0 ORDER BY id",
                    arguments: [scope]), by: { $0[0] as String? ?? "" })
            let provision = Dictionary(
                grouping: try Row.fetchAll(
                    db,
                    sql:
                        "SELECT plan_id, id, description, provider, frequency, responsible_org, responsible_person, cost_pence FROM provision_item WHERE pupil_id = ? AND deleted = 0 ORDER BY id",
                    arguments: [scope]), by: { $0[0] as String? ?? "" })
            let reviews = Dictionary(
                grouping: try Row.fetchAll(
                    db,
                    sql:
                        "SELECT plan_id, id, held_on, summary, decision, next_review_date FROM plan_review WHERE pupil_id = ? AND deleted = 0 ORDER BY held_on, id",
                    arguments: [scope]), by: { $0[0] as String? ?? "" })
            return try Row.fetchAll(
                db,
                sql:
                    "SELECT id, title, status, start_date, review_date, responsible_org, responsible_person FROM support_plan WHERE pupil_id = ? AND deleted = 0 ORDER BY start_date, id",
                arguments: [scope]
            ).map { row in
                let planID: String = row[0]
                return SupportPlanRecord(
                    id: try RecordID.stored(planID), pupilID: pupilID, title: row[1], status: row[2], startDate: row[3],
                    reviewDate: row[4], responsibleOrg: row[5], responsiblePerson: row[6],
                    outcomes: try (outcomes[planID] ?? []).map {
                        OutcomeRecord(
                            id: try RecordID.stored($0[1] as String), description: $0[2], targetDate: $0[3],
                            status: $0[4])
                    },
                    provision: try (provision[planID] ?? []).map {
                        ProvisionRecord(
                            id: try RecordID.stored($0[1] as String), description: $0[2], provider: $0[3],
                            frequency: $0[4],
                            responsibleOrg: $0[5], responsiblePerson: $0[6], costPence: $0[7])
                    },
                    reviews: try (reviews[planID] ?? []).map {
                        ReviewRecord(
                            id: try RecordID.stored($0[1] as String), heldOn: $0[2], summary: $0[3], decision: $0[4],
                            nextReviewDate: $0[5])
                    })
            }
        }
    }
}

// MARK: - Delete and restore

extension Store {
    /// Tables whose records can be deleted (a replicated tombstone).
    public static let deletableTables = RecordSchema.tables.filter { !$0.isAppendOnly }.map(\.name)

    /// Deletes a record (any table but notes) by id. The deletion replicates as a tombstone.
    @discardableResult
    public func deleteRecord(_ reference: String, author: String) throws -> (table: String, receipt: WriteReceipt) {
        try writing {
            try setDeleted(reference, deleted: true, author: author)
        }
    }

    /// Restores a deleted record.
    @discardableResult
    public func restoreRecord(_ reference: String, author: String) throws -> (table: String, receipt: WriteReceipt) {
        try writing {
            try setDeleted(reference, deleted: false, author: author)
        }
    }

    private func setDeleted(_ reference: String, deleted: Bool, author: String) throws -> (
        table: String, receipt: WriteReceipt
    ) {
        let (key, _) = try findRecord(reference)
        guard Self.deletableTables.contains(key.table) else {
            throw StoreError(
                .appendOnly, "Notes cannot be deleted.",
                hint: "Add a note that amends it (`sensync note add --amends`).")
        }
        let receipt = try write(
            author: author, scope: key.scope,
            ops: [RecordOp(table: key.table, id: key.id, writes: [FieldWrite("deleted", .integer(deleted ? 1 : 0))])]
        ) { tx in
            guard let state = try tx.record(key) else {
                throw StoreError(
                    .notFound, "No record with that id is in this store.",
                    hint: "Check the id with `sensync record list`.")
            }
            if state.isDeleted == deleted {
                throw StoreError(
                    .invalidInput, deleted ? "That record is already deleted." : "That record is not deleted.")
            }
            if deleted { try Self.requireDeletable(key, in: tx.db) }
        }
        return (key.table, receipt)
    }

    /// An enrolment ends when the pupil moves on (deleted, the pupil was on no roll, and the school
    /// could not even restore it); a pupil with records is not deleted either (every record about
    /// them, the LA's EHC plan too, vanished at every site). A pupil added by mistake, with no
    /// records yet, can be.
    static func requireDeletable(_ key: RecordKey, in db: Database) throws {
        if key.table == Enrolment.name {
            throw StoreError(
                .invalidInput, "An enrolment is not deleted: it ends when the pupil moves on.",
                hint: "Use `sensync pupil transfer UPN --to SCHOOL`.")
        }
        guard key.table == Pupil.name else { return }
        let kinds = RecordSchema.kinds.filter { $0.name != Pupil.name && $0.name != Enrolment.name }
        // Counted in SQL: nothing decoded (the rows are only counted).
        let held = try kinds.reduce(0) { total, kind in
            let live = kind.isAppendOnly ? "" : " AND \(RecordState.deletedField) = 0"
            return total
                + (try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM \(kind.name) WHERE pupil_id = ?\(live)",
                    arguments: [key.scope.description]) ?? 0)
        }
        guard held == 0 else {
            throw StoreError(
                .invalidInput,
                "This pupil has \(held) record(s) here: deleting the pupil would hide them, and the other sites' records about them, everywhere.",
                hint:
                    "If the pupil was added by mistake, delete those records first. To remove a pupil's personal data for good, `sensync pupil erase`."
            )
        }
    }

    /// Finds a record of any table by id or unique id prefix.
    public func findRecord(_ reference: String) throws -> (key: RecordKey, state: RecordState) {
        // A record of any kind: not "neither a UPN nor a pupil id" from the first table tried.
        let prefix = try Self.idPrefix(reference, table: "", noun: "record")
        return try reading { db in
            // Every table is searched before an ambiguous prefix is refused, so the list shows
            // every record it could mean (it stopped at the first table with two); in one query,
            // not one per table (a `record delete` spent a third of its time here).
            var found: [(table: String, rows: [(scope: String, id: String)])] = []
            try db.cachedStatement(sql: Self.anyRecordByIDPrefixSQL).runDirectly { binder in
                binder.bind(prefix)
                binder.bind(prefix + "~")
            } eachRow: { row in
                guard let table = SQLiteBinder.text(row, 0), let scope = SQLiteBinder.text(row, 1),
                    let id = SQLiteBinder.text(row, 2)
                else { return }
                if found.last?.table == table {
                    found[found.count - 1].rows.append((scope, id))
                } else {
                    found.append((table, [(scope, id)]))
                }
            }
            guard !found.isEmpty else {
                throw StoreError(
                    .notFound, "No record with that id is in this store.",
                    hint: "Copy the id from a list or show command.")
            }
            guard found.count == 1, found[0].rows.count == 1,
                let scope = RecordID(found[0].rows[0].scope), let id = RecordID(found[0].rows[0].id)
            else {
                // Up to ten of each table's, as each table's own lookup lists them.
                let candidates = try found.flatMap { table, rows in try Self.candidates(rows, table: table, in: db) }
                throw StoreError(
                    .ambiguous, "More than one record id starts with that prefix.",
                    hint: "Give more of the id; the records it could mean are below.", candidates: candidates)
            }
            let key = RecordKey(table: found[0].table, scope: scope, id: id)
            var tx = try StoreTransaction(db)
            return (key, try tx.record(key) ?? RecordState())
        }
    }

    /// Every table's records whose id starts with `?1` (`?2` is `?1` followed by "~"): up to 11
    /// of each, by table in schema order, then by id.
    private static let anyRecordByIDPrefixSQL =
        RecordSchema.tables.map(\.name).enumerated().map { rank, table in
            "SELECT * FROM (SELECT '\(table)', pupil_id, id, \(rank) AS rank FROM \(table) WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 11)"
        }.joined(separator: " UNION ALL ") + " ORDER BY rank, 3"
}

extension Store {
    /// Moves a plan's next review date (the LA or school rescheduling a review).
    @discardableResult
    public func reschedulePlanReview(plan reference: String, date: String, author: String) throws -> WriteReceipt {
        try writing {
            let found = try reading { db in
                try Self.recordID(for: reference, table: "support_plan", noun: "plan", in: db)
            }
            let key = RecordKey(table: "support_plan", scope: found.scope, id: found.id)
            let checked = try Check.date(date, "review date")
            return try write(
                author: author, scope: key.scope,
                ops: [RecordOp(table: key.table, id: key.id, writes: [FieldWrite("review_date", .text(checked))])]
            ) { tx in
                _ = try Self.requireLive(key, noun: "plan", in: &tx)
            }
        }
    }
}

// MARK: - SEN history into episodes

extension Store {
    /// Turns the census SEN status and needs a pupil has had (`pupil.sen_status` and `sen_needs`,
    /// as written over time) into provision episodes and ranked needs with their dates, for pupils
    /// on roll here that have none yet. Each status or needs change starts a record on the day it
    /// was made and ends the one before. Returns how many pupils were given records.
    ///
    /// Run at each school (for its own pupils) once after upgrading; from then on
    /// `updatePupil` keeps episodes and needs in step itself.
    @discardableResult
    public func migrateSENHistory(author: String, dryRun: Bool = false) throws -> Int {
        let candidates = try reading { db -> [RecordID] in
            let enrolments = try Self.currentEnrolments(in: db, on: localToday)
            return try Self.records(Pupil.spec, pupil: nil, in: db).map(\.pupilID).filter { pupil in
                let here = identity.kind.isSchool ? enrolments[pupil]?.contains(identity.id) == true : true
                let has =
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT (SELECT count(*) FROM sen_episode WHERE pupil_id = ?) + (SELECT count(*) FROM sen_need WHERE pupil_id = ?)",
                        arguments: [pupil.description, pupil.description]) ?? 0
                return here && has == 0
            }
        }
        var migrated = 0
        for pupil in candidates {
            let ops = try senHistoryOps(for: pupil)
            guard !ops.isEmpty else { continue }
            migrated += 1
            if !dryRun { try write(author: author, scope: pupil, ops: ops) }
        }
        return migrated
    }

    private func senHistoryOps(for pupil: RecordID) throws -> [RecordOp] {
        guard let school = try reading({ db in try senSchool(of: pupil, in: db) }) else { return [] }
        var statuses: [(CalendarDate, String)] = []
        var needLists: [(CalendarDate, [String])] = []
        for entry in try history(of: pupil.description).sorted(by: { ($0.hlc?.rawValue ?? 0) < ($1.hlc?.rawValue ?? 0) }
        ) {
            guard entry.rejection == nil, let hlc = entry.hlc else { continue }
            let day = StatutoryClock.localDate(at: hlc.date)
            for write in entry.writes where write.table == Pupil.name {
                for field in write.fields {
                    if field.field == Pupil.Field.senStatus.rawValue, let status = field.value.text {
                        statuses.append((day, status))
                    }
                    if field.field == Pupil.Field.senNeeds.rawValue {
                        needLists.append((day, field.value.text?.split(separator: ",").map(String.init) ?? []))
                    }
                }
            }
        }
        var ops: [RecordOp] = []
        for (index, (start, status)) in statuses.enumerated() where status == "E" || status == "K" {
            // A repeated status continues the episode.
            if index > 0 && statuses[index - 1].1 == status { continue }
            let end = statuses[(index + 1)...].first { $0.1 != status }?.0
            var writes = [
                FieldWrite(SENEpisode.Field.provision.rawValue, .text(status)),
                FieldWrite(SENEpisode.Field.schoolID.rawValue, .text(school.description)),
                FieldWrite(SENEpisode.Field.startDate.rawValue, .text(start.description)),
            ]
            if let end { writes.append(FieldWrite(SENEpisode.Field.endDate.rawValue, .text(end.description))) }
            ops.append(RecordOp(table: SENEpisode.name, id: .v7(milliseconds: now()), writes: writes))
        }
        var open: [String: (rank: Int, start: CalendarDate)] = [:]
        func close(_ need: String, on day: CalendarDate?) {
            guard let (rank, start) = open.removeValue(forKey: need) else { return }
            var writes = [
                FieldWrite(SENNeedRecord.Field.need.rawValue, .text(need)),
                FieldWrite(SENNeedRecord.Field.rank.rawValue, .integer(Int64(rank))),
                FieldWrite(SENNeedRecord.Field.startDate.rawValue, .text(start.description)),
            ]
            if let day { writes.append(FieldWrite(SENNeedRecord.Field.endDate.rawValue, .text(day.description))) }
            ops.append(RecordOp(table: SENNeedRecord.name, id: .v7(milliseconds: now()), writes: writes))
        }
        for (day, needs) in needLists {
            for (need, current) in open where needs.firstIndex(of: need).map({ $0 + 1 }) != current.rank {
                close(need, on: day)
            }
            for (index, need) in needs.enumerated() where open[need] == nil { open[need] = (index + 1, day) }
        }
        for need in open.keys.sorted() { close(need, on: nil) }
        return ops
    }
}
