import Foundation
import GRDB

extension Store {
    /// A file's size in bytes, for progress (0 when it cannot be read: the reader says why).
    private static func size(of file: ImportFile) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
    }

    /// Imports a school's MIS export: pupils and their enrolments, SEN provision episodes, ranked
    /// needs, concerns, support plans, provision and referrals (`Schemas/import/`).
    ///
    /// All or nothing: every file is read and every row checked inside one transaction; if any
    /// row breaks a rule the transaction is rolled back and ``ImportError`` lists every problem
    /// found (file, line, column, reason), so the store is exactly as it was. Records are
    /// matched by UPN (pupils) and by the source's own ids (`ID`, kept per source), so importing
    /// the same file again changes nothing. A pupil's consecutive rows become one change.
    ///
    /// - Parameters:
    ///   - files: The files, read in order (a pupils file before the files that refer to them).
    ///   - progress: Called every few thousand rows.
    /// - Returns: What was (or, for a dry run, would be) created and updated.
    /// - Throws: ``ImportError`` when a file cannot be read or a row breaks a rule; a
    ///   ``StoreError`` when the store cannot be written.
    public func importRecords(
        _ files: [ImportFile], options: ImportOptions, progress: (ImportProgress) -> Void = { _ in }
    ) throws -> ImportSummary {
        let fileOrder = files.map(\.name)
        // Each file is parsed on a second thread while this one checks and writes its rows.
        // A CSV file's headings are checked once, as it is opened: rows or not.
        func reader(_ file: ImportFile, number: Int, run: inout ImportRun) throws -> any ImportRowReader {
            run.startFile(file, number: number)
            guard file.format == .csv else { return ReadAhead(try JSONLinesReader(file)) }
            let csv = try CSVRowReader(file)
            run.check(headings: csv.headings)
            return ReadAhead(csv)
        }
        let outcome = try writeBatch(author: options.author) { batch in
            // A rule between two of a pupil's rows names the later row (the second open episode).
            batch.tx.rulesLastFirst = true
            var run = try ImportRun(store: self, options: options, db: batch.tx.db)
            // A CSV file whose kind is not known (neither its name nor --kind gives it) is one
            // problem, whatever its rows (it was one per row, and none for a file of headings only).
            let files = files.filter { file in
                // (A file that cannot be read, or a folder, is left to its reader to say so.)
                guard file.format == .csv, file.kind == nil, !file.isFolder,
                    FileManager.default.isReadableFile(atPath: file.path)
                else { return true }
                run.report(
                    ImportProblem(
                        file: file.name, line: 1,
                        reason:
                            "Which kind of record this file holds is not known: name the file after it (pupils.csv) or give --kind."
                    ))
                return false
            }
            let sizes = files.map(Self.size(of:))
            if files.count == 1, let file = files.first {
                // One file: its rows are checked and written as they are read (a pupil's rows
                // are one change when they follow each other, as an export by pupil gives them).
                var reader = try reader(file, number: 0, run: &run)
                while let row = try reader.next() {
                    switch row {
                    case .success(let raw): try run.add(raw, batch: &batch)
                    case .failure(let problem): run.refuseUnread(problem)
                    }
                    if run.rowsRead % 2000 == 0 {
                        progress(
                            ImportProgress(
                                file: file.name, rows: run.rowsRead, bytesRead: reader.bytesRead,
                                bytesTotal: sizes[0]))
                    }
                }
                progress(
                    ImportProgress(
                        file: file.name, rows: run.rowsRead, bytesRead: reader.bytesRead, bytesTotal: sizes[0]))
            } else {
                // Several files (a CSV export holds one kind per file): every row is read and set
                // aside by pupil first, so each pupil's rows, wherever they are, become one change.
                var spool = try ImportSpool(db: batch.tx.db)
                for (number, file) in files.enumerated() {
                    var reader = try reader(file, number: number, run: &run)
                    var read = 0
                    while let row = try reader.next() {
                        switch row {
                        case .success(let raw):
                            try spool.add(raw, upn: run.pupilKey(of: raw), file: number, db: batch.tx.db)
                        case .failure(let problem): run.refuseUnread(problem)
                        }
                        read += 1
                        if read % 2000 == 0 {
                            progress(
                                ImportProgress(
                                    file: file.name, rows: read, bytesRead: reader.bytesRead, bytesTotal: sizes[number]
                                ))
                        }
                    }
                    progress(
                        ImportProgress(
                            file: file.name, rows: read, bytesRead: reader.bytesRead, bytesTotal: sizes[number]))
                }
                try spool.forEach(db: batch.tx.db) { number, raw in
                    run.startFile(files[number], number: number)
                    try run.add(raw, batch: &batch)
                    if run.summary.rows % 5000 == 0 {
                        progress(ImportProgress(stage: .writing, rows: run.summary.rows, rowsTotal: spool.rows))
                    }
                }
                if spool.rows > 0 {
                    progress(ImportProgress(stage: .writing, rows: run.summary.rows, rowsTotal: spool.rows))
                }
                try spool.drop(db: batch.tx.db)
            }
            try run.flush(batch: &batch)
            run.sortProblems(fileOrder: fileOrder)
            return (run, keep: !options.dryRun && run.problems.isEmpty)
        }
        guard outcome.problems.isEmpty else {
            let problems = "Nothing was imported: \(outcome.problemCount) problem(s)"
            throw ImportError(
                code: .rejected,
                message: outcome.rowsWithProblems == 0
                    ? "\(problems) in the files themselves."
                    : "\(problems) in \(outcome.rowsWithProblems) of the \(outcome.rowsRead) row(s) read.",
                hint: "Fix the rows listed (or export them again from the MIS) and import the files again.",
                problems: outcome.problems, problemCount: outcome.problemCount)
        }
        var summary = outcome.summary
        summary.dryRun = options.dryRun
        return summary
    }
}

/// One import in progress: the rows of the pupil being read, what was found wrong, what was done.
struct ImportRun {
    static let maxProblemsListed = 200
    /// A pupil with more rows than this is written as several changes (memory stays bounded).
    static let maxOpsPerChange = 500

    let store: Store
    let options: ImportOptions
    /// The day the import runs: no row records something as happening after it.
    let today: CalendarDate
    private(set) var summary = ImportSummary()
    private(set) var problems: [ImportProblem] = []
    private(set) var problemCount = 0
    /// Rows with at least one problem, and rows that could not be read as rows at all (a line that
    /// is not JSON, a row with too many cells): the refusal counts them among the rows read.
    private(set) var rowsWithProblems = 0
    private var rowsUnread = 0
    /// Problems reported for a pupil's rows together, as they were written (not for one row).
    private var groupProblemCount = 0
    private var file: ImportFile?
    /// The file's name as problems give it (kept: working it out is a URL parse, for every row).
    private var fileName = ""
    private var fileNames: [Int: String] = [:]
    private var fileNumber = 0
    /// Fields already reported as given twice, by file number (once per CSV file).
    private var reportedHeadings: Set<String> = []
    /// The CSV files (by number) whose heading row has no UPN column.
    private var filesWithoutUPN: Set<Int> = []
    private var headings = ImportFormat.HeadingCache()
    private var group: Group?
    /// UPNs whose pupil row was refused: their other rows are checked, but not reported missing.
    private var refusedPupils: Set<String> = []
    /// Source ids this import has remembered, when the store held none from this source before
    /// it: an id it cannot hold is not looked up (a first import looks up none). `nil`: look up
    /// every id.
    private var remembered: SourceIDFilter?
    /// Records a row of this import has given values for: a second row for one of them (the same
    /// ID, or a pupil's UPN, twice) must agree with the first, not silently replace it.
    private var givenByARow: Set<RecordID> = []

    /// The rows of one pupil being gathered into one change.
    struct Group {
        var upn: String
        var pupil: RecordID?
        var isNewPupil = false
        /// The file of the group's first row, and whether every row is in it.
        var file: String
        var inOneFile = true
        var firstLine: Int
        var lastLine: Int
        var rows = 0
        var ops: [RecordOp] = []
        /// Records this group creates or changes, by id: their values as they will be.
        var pending: [RecordID: (kind: KindSpec, values: [String: Value])] = [:]
        /// Source ids given to records in this group.
        var sourceIDs: [(kind: String, sourceID: String, record: RecordID)] = []
        var pendingCreated: [String: Int] = [:]
        var pendingUpdated: [String: Int] = [:]
        /// A row of this pupil's was refused: the rows are checked but not written (the import
        /// will be rolled back), so one mistake is reported once, not again by every rule after it.
        var hadProblem = false
        /// Source ids of refused rows (rows naming them are not reported again).
        var refusedSourceIDs: Set<String> = []
        /// The row being read, and the last row that wrote each record: a rule across the pupil's
        /// records, checked as the change is written, names the row of the record it refused.
        var row: (file: String, line: Int, isCSV: Bool)?
        var rowOf: [RecordID: (file: String, line: Int, isCSV: Bool)] = [:]

        mutating func write(_ record: RecordID, kind: KindSpec, _ writes: [String: Value], base: [String: Value]) {
            if let row { rowOf[record] = row }
            let ordered = kind.fields.compactMap { f in writes[f.name].map { FieldWrite(f.name, $0) } }
            if let i = ops.firstIndex(where: { $0.id == record && $0.table == kind.name }) {
                ops[i].writes.removeAll { w in writes[w.field] != nil }
                ops[i].writes += ordered
            } else {
                ops.append(RecordOp(table: kind.name, id: record, writes: ordered))
            }
            var values = pending[record]?.values ?? base
            for (name, value) in writes { values[name] = value }
            pending[record] = (kind, values)
        }
    }

    init(store: Store, options: ImportOptions, db: Database) throws {
        self.store = store
        self.options = options
        today = store.localToday
        let held = try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM import_source WHERE source = ?)", arguments: [options.source])
        remembered = held == true ? nil : SourceIDFilter()
    }

    mutating func startFile(_ file: ImportFile, number: Int) {
        if self.file == nil || number != fileNumber {
            // Rows gathered by pupil come from each file in turn: a name is worked out once.
            if let name = fileNames[number] {
                fileName = name
            } else {
                fileName = file.name
                fileNames[number] = fileName
            }
        }
        self.file = file
        fileNumber = number
    }

    /// The pupil a row is about, for gathering a pupil's rows: the UPN as normalised, or as
    /// written when it is not one (``add(_:batch:)`` reports that).
    mutating func pupilKey(of raw: RawImportRow) -> String {
        guard let kind = raw.kind else { return "" }
        for (name, text) in raw.cells {
            if case .upn = headings.heading(name, of: kind) {
                guard let text else { return "" }
                return (try? Check.upn(text).value) ?? text
            }
        }
        return ""
    }

    /// Puts the problems listed in file and line order (rows gathered by pupil are checked in
    /// pupil order).
    mutating func sortProblems(fileOrder: [String]) {
        var rank: [String: Int] = [:]
        for (i, name) in fileOrder.enumerated() where rank[name] == nil { rank[name] = i }
        problems = problems.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            let (rx, ry) = (rank[x.file] ?? 0, rank[y.file] ?? 0)
            if rx != ry { return rx < ry }
            if x.line != y.line { return x.line < y.line }
            return a.offset < b.offset
        }.map(\.element)
    }

    mutating func report(_ problem: ImportProblem) {
        problemCount += 1
        if problems.count < Self.maxProblemsListed { problems.append(problem) }
    }

    /// Every row read, those that could not be read as rows among them.
    var rowsRead: Int { summary.rows + rowsUnread }

    /// Reports a row that could not be read as one.
    mutating func refuseUnread(_ problem: ImportProblem) {
        rowsUnread += 1
        rowsWithProblems += 1
        report(problem)
    }

    private mutating func report(line: Int, column: String? = nil, _ reason: String) {
        report(ImportProblem(file: fileName, line: line, column: column, reason: reason))
    }

    private mutating func report(line: Int, column: String?, _ error: StoreError) {
        report(line: line, column: column, Self.reason(error))
    }

    /// A store error as a problem's reason: its message, and its hint unless the hint names a
    /// command's options (`Check --year-group.`), which a file has none of: the problem names the
    /// line and column instead.
    static func reason(_ error: StoreError) -> String {
        // A character no field may hold (or a line break in a one-line field): not to be typed
        // again, but corrected where the file came from.
        if error.hint == Check.unsafeCharacterHint {
            return "\(error.message) Correct the value in the MIS (or in the file) and import again."
        }
        guard let hint = error.hint, !hint.contains("--") else { return error.message }
        return "\(error.message) \(hint)"
    }

    /// Checks a CSV file's heading row (the file started by ``startFile(_:number:)``): each
    /// heading that is no column of the file's kind, by its position, never its text (a file
    /// without a heading row has a pupil's details there), and a missing UPN column, once for the
    /// file rather than on every row.
    mutating func check(headings names: [String]) {
        guard let kind = file?.kind else { return }
        let columnList = headings.columnList(of: kind, asKeys: false)
        if !names.contains(where: { if case .upn = headings.heading($0, of: kind) { true } else { false } }) {
            filesWithoutUPN.insert(fileNumber)
            report(
                line: 1,
                "The heading row has no UPN column: every row needs the pupil's UPN. The columns of \(kind.nounWithArticle) are: \(columnList)."
            )
        }
        for (position, name) in names.enumerated() {
            switch headings.heading(name, of: kind) {
            case .unknown, .kind:
                report(
                    line: 1, column: String(position + 1),
                    "This heading is not a column of \(kind.nounWithArticle); its columns are: \(columnList).")
            case .upn, .id, .column: continue
            }
        }
    }

    // MARK: Reading a row

    mutating func add(_ raw: RawImportRow, batch: inout LocalBatch) throws {
        summary.rows += 1
        // The previous pupil's rows may be written (and refused together) on the way.
        let rowProblems = problemCount - groupProblemCount
        defer { if problemCount - groupProblemCount > rowProblems { rowsWithProblems += 1 } }
        guard let kind = raw.kind else {
            let kinds = ImportFormat.kinds.map(\.name).joined(separator: ", ")
            if raw.unknownKind {
                report(
                    line: raw.line, column: ImportFormat.kindKey,
                    "SENSync does not import this kind; it imports: \(kinds).")
            } else {
                report(line: raw.line, column: ImportFormat.kindKey, "Each line needs \"kind\" (one of: \(kinds)).")
            }
            return
        }
        var sourceID: String?
        var upnText: String?
        var identitiesGiven: Set<String> = []
        var given: [(column: ImportFormat.Column, text: String?, name: String)] = []
        let isCSV = file?.format == .csv
        for (position, (name, text)) in raw.cells.enumerated() {
            let heading = headings.heading(name, of: kind)
            // A number or true/false where the schema has text (`"surname": true` made a pupil
            // named "yes"): a problem. The row is checked on as it reads (nothing is kept), so a
            // field is not reported missing as well.
            if !raw.untyped.isEmpty, raw.untyped.contains(position) {
                if let what = ImportFormat.textOnly(heading) {
                    report(line: raw.line, column: name, "\(what) is text: give it in quotes, as a JSON string.")
                } else if case .id = heading, Int64(text ?? "") == nil {
                    // An id may be a whole number (many MIS number their records), not true/false
                    // or a fraction.
                    report(
                        line: raw.line, column: name,
                        "The ID is text or a whole number: give it in quotes, as a JSON string.")
                }
            }
            switch heading {
            case .id, .upn:
                // Which record, or which pupil, the row is about: given twice (`ID` beside `I-D`,
                // `id` beside `ID`), as for any other field, one of the two would be chosen
                // without a word.
                let isID = if case .id = heading { true } else { false }
                let identity = isID ? ImportFormat.idHeading : ImportFormat.upnHeading
                guard identitiesGiven.insert(identity).inserted else {
                    reportGivenTwice(identity, what: identity, line: raw.line, isCSV: isCSV)
                    continue
                }
                if isID { sourceID = text?.trimmedOfSpace } else { upnText = text }
            case .column(let column):
                // Two headings for one field (Forename twice, or DOB and date_of_birth): one of
                // the values would be lost without a word.
                if let first = given.first(where: { $0.column.field.name == column.field.name }) {
                    reportGivenTwice(
                        first.column.heading, what: column.field.label.lowercased(), line: raw.line, isCSV: isCSV)
                    continue
                }
                given.append((column, text, name))
            case .kind where !isCSV: continue  // read by the reader
            case .unknown, .kind:
                // A CSV heading was reported (by its position) when its file was opened.
                guard !isCSV else { continue }
                // A JSON key only if it is a slip in typing one of the kind's keys (`surnme`),
                // else by its place on the line (a UPN or a name given as a key), never its text.
                let columnList = headings.columnList(of: kind, asKeys: true)
                if ImportFormat.isMistypedKey(name, of: kind) {
                    report(
                        line: raw.line, column: name,
                        "A key on this line is not a column of \(kind.nounWithArticle); its columns are: \(columnList)."
                    )
                } else {
                    report(
                        line: raw.line,
                        "Key \(position + 1) on this line is not a column of \(kind.nounWithArticle); its columns are: \(columnList)."
                    )
                }
            }
        }
        guard let upnText else {
            // A CSV file without a UPN column was reported once, when it was opened.
            if !isCSV || !filesWithoutUPN.contains(fileNumber) {
                report(line: raw.line, column: ImportFormat.upnHeading, "Every row needs the pupil's UPN.")
            }
            try checkValues(given, kind: kind, line: raw.line, tx: &batch.tx)
            return
        }
        let upn: String
        do {
            upn = try Check.upn(upnText).value
        } catch let error as StoreError {
            report(line: raw.line, column: ImportFormat.upnHeading, error)
            try checkValues(given, kind: kind, line: raw.line, tx: &batch.tx)
            return
        }
        if group?.upn != upn || (group?.ops.count ?? 0) >= Self.maxOpsPerChange {
            try flush(batch: &batch)
            let pupil = try Self.livePupil(upn: upn, in: batch.tx.db)
            group = Group(upn: upn, pupil: pupil, file: fileName, firstLine: raw.line, lastLine: raw.line)
        }
        if group?.file != fileName { group?.inOneFile = false }
        group?.lastLine = raw.line
        group?.rows += 1
        group?.row = (fileName, raw.line, isCSV)
        let before = problemCount
        do {
            if kind.name == Pupil.name {
                try addPupil(upn: upn, sourceID: sourceID, given: given, line: raw.line, tx: &batch.tx)
            } else {
                try addRecord(kind, sourceID: sourceID, given: given, line: raw.line, tx: &batch.tx)
            }
        } catch let problem as ImportProblem {
            report(problem)
        }
        if problemCount > before {
            group?.hadProblem = true
            if let sourceID { group?.refusedSourceIDs.insert("\(kind.name)\u{0}\(sourceID)") }
            if kind.name == Pupil.name && group?.pupil == nil { refusedPupils.insert(upn) }
        }
    }

    /// Checks the values of a row that names no pupil (no UPN, or one that is not a UPN), so one
    /// attempt lists each of its problems, not the UPN's alone: each value on its own (a
    /// reference to another row cannot be followed without the pupil).
    private mutating func checkValues(
        _ given: [(column: ImportFormat.Column, text: String?, name: String)], kind: KindSpec, line: Int,
        tx: inout StoreTransaction
    ) throws {
        _ = try parse(given, kind: kind, pupil: nil, line: line, tx: &tx)
        guard let entry = given.first(where: { $0.column.isEntryDate }), let text = entry.text else { return }
        do {
            try Store.requireWithinAYear(try Check.date(text, "entry date"), "entry date", today: today)
        } catch let error as StoreError {
            report(line: line, column: entry.name, error)
        }
    }

    /// Reports a field (or the UPN, or the ID) given by two columns or keys: once per CSV file, on
    /// its heading row, under the first column's `heading`; on its line in JSON Lines.
    private mutating func reportGivenTwice(_ heading: String, what: String, line: Int, isCSV: Bool) {
        guard !isCSV || reportedHeadings.insert("\(fileNumber)\u{0}=\(heading)").inserted else { return }
        report(line: isCSV ? 1 : line, column: heading, "Two columns give the \(what); give it once.")
    }

    /// Parses the given cells into values (references by the source's ids), reporting each bad
    /// cell; `nil` if any was bad.
    private mutating func parse(
        _ given: [(column: ImportFormat.Column, text: String?, name: String)], kind: KindSpec, pupil: RecordID?,
        line: Int, tx: inout StoreTransaction
    ) throws -> [String: Value]? {
        var values: [String: Value] = [:]
        var ok = true
        for (column, text, name) in given where !column.isEntryDate {
            do {
                if let target = column.references, let text, !text.isEmpty {
                    // A record refused earlier (or a pupil who was) is not reported again.
                    if pupil == nil || group?.refusedSourceIDs.contains("\(target.name)\u{0}\(text)") == true {
                        ok = false
                        continue
                    }
                    guard let found = try record(target, sourceID: text, db: tx.db), found.pupil == pupil else {
                        report(
                            line: line, column: name,
                            "No \(target.noun) with this ID was imported for this pupil from \(options.source); give its row first."
                        )
                        ok = false
                        continue
                    }
                    values[column.field.name] = .text(found.record.description)
                } else if case .site = column.field.rule, text == nil {
                    continue
                } else if column.field.isRequired, (text ?? "").trimmedOfSpace.isEmpty {
                    // An empty cell is no value: a new record takes the field's default (or is
                    // missing it: "A new concern needs ..."), and a record matched keeps its value
                    // (a required field is never cleared), so the same file imports again unchanged.
                    continue
                } else {
                    let value = try store.parse(text ?? "", for: column.field, kind: kind, pupil: pupil, in: tx.db)
                    try Store.requireHappened(column.field, value, by: today)
                    values[column.field.name] = value
                }
            } catch let error as StoreError {
                report(line: line, column: name, error)
                ok = false
            }
        }
        return ok ? values : nil
    }

    // MARK: Pupils

    private mutating func addPupil(
        upn: String, sourceID: String?, given: [(column: ImportFormat.Column, text: String?, name: String)], line: Int,
        tx: inout StoreTransaction
    ) throws {
        guard var values = try parse(given, kind: Pupil.spec, pupil: nil, line: line, tx: &tx) else {
            // A new pupil's row with a bad value: what it lacks too, so one attempt lists both.
            if group?.pupil == nil {
                reportMissing(Pupil.spec, [Pupil.Field.upn.rawValue: .text(upn)], given: given, line: line)
            }
            return
        }
        if let sourceID, let known = try record(Pupil.spec, sourceID: sourceID, db: tx.db),
            known.record != group?.pupil
        {
            throw ImportProblem(
                file: fileName, line: line, column: ImportFormat.upnHeading,
                reason:
                    "This ID was imported from \(options.source) for a pupil with another UPN. Change a UPN with `sensync pupil update`, then import again."
            )
        }
        if let dob = values[Pupil.Field.dateOfBirth.rawValue]?.text.flatMap(CalendarDate.init), dob > store.localToday {
            throw ImportProblem(
                file: fileName, line: line, column: name(of: Pupil.Field.dateOfBirth, in: given),
                reason: "The date of birth is in the future.")
        }
        if let pupil = group?.pupil {
            let current = try state(RecordKey(table: Pupil.name, scope: pupil, id: pupil), tx: &tx)
            try update(
                Pupil.spec, record: pupil, current: current, values: values, given: given, line: line,
                again: !givenByARow.insert(pupil).inserted)
            if let sourceID { group?.sourceIDs.append((Pupil.name, sourceID, pupil)) }
            return
        }
        // A new pupil: required fields, then the pupil and (at a school) their enrolment here.
        values[Pupil.Field.upn.rawValue] = .text(upn)
        try requireFields(Pupil.spec, values, given: given, line: line)
        try checkRules(Pupil.spec, values, given: given, line: line)
        let id = RecordID.v7(milliseconds: store.now())
        givenByARow.insert(id)
        group?.pupil = id
        group?.isNewPupil = true
        group?.write(id, kind: Pupil.spec, values, base: [:])
        group?.pendingCreated[Pupil.name, default: 0] += 1
        if store.identity.kind.isSchool {
            let entryText = given.first { $0.column.isEntryDate }
            var entry = store.localToday.description
            if let text = entryText?.text {
                do {
                    entry = try Check.date(text, "entry date")
                    try Store.requireWithinAYear(entry, "entry date", today: today)
                } catch let error as StoreError {
                    report(line: line, column: entryText?.name, error)
                    return
                }
            }
            if let dob = values[Pupil.Field.dateOfBirth.rawValue]?.text, entry < dob {
                throw ImportProblem(
                    file: fileName, line: line, column: entryText?.name,
                    reason: "The entry date is before the date of birth.")
            }
            group?.write(
                .v7(milliseconds: store.now()), kind: Enrolment.spec,
                [
                    Enrolment.Field.schoolID.rawValue: .text(store.identity.id.description),
                    Enrolment.Field.entryDate.rawValue: .text(entry),
                ], base: [:])
        }
        if let sourceID { group?.sourceIDs.append((Pupil.name, sourceID, id)) }
    }

    // MARK: Other records

    private mutating func addRecord(
        _ kind: KindSpec, sourceID: String?, given: [(column: ImportFormat.Column, text: String?, name: String)],
        line: Int, tx: inout StoreTransaction
    ) throws {
        guard let pupil = group?.pupil else {
            if refusedPupils.contains(group?.upn ?? "") {
                _ = try parse(given, kind: kind, pupil: nil, line: line, tx: &tx)
                return
            }
            throw ImportProblem(
                file: fileName, line: line, column: ImportFormat.upnHeading,
                reason:
                    "No pupil with this UPN is in this store or earlier in the import; give the pupil's row first.")
        }
        guard var values = try parse(given, kind: kind, pupil: pupil, line: line, tx: &tx) else {
            // A row with a bad value for a record the source has not given before: what it lacks
            // too, so one attempt lists both.
            if let sourceID, try record(kind, sourceID: sourceID, db: tx.db) == nil {
                reportMissing(
                    kind, try withDefaults(kind, withSchool(kind, [:]), pupil: pupil, db: tx.db), given: given,
                    line: line)
            }
            return
        }
        if kind.name == Enrolment.name, !store.identity.kind.isSchool {
            throw ImportProblem(
                file: fileName, line: line, reason: "Enrolments are imported at the school itself, from its MIS.")
        }
        values = withSchool(kind, values)
        // The record this row is: by the source's id, else (for an enrolment) the open one here,
        // else one already holding every value given. An enrolment with an id the source has not
        // given before takes up only an enrolment no id names (the one a new pupil's row starts):
        // another id is another enrolment, never a second name for one already named.
        var match: RecordID?
        if let sourceID, let found = try record(kind, sourceID: sourceID, db: tx.db) {
            guard found.pupil == pupil else {
                throw ImportProblem(
                    file: fileName, line: line, column: ImportFormat.idHeading,
                    reason: "This ID was imported from \(options.source) for another pupil.")
            }
            match = found.record
        } else if sourceID == nil || kind.name == Enrolment.name {
            match = try sameRecord(
                kind, pupil: pupil, values: values, unnamedOnly: sourceID != nil, db: tx.db)
        }
        if let record = match {
            let current = try state(RecordKey(table: kind.name, scope: pupil, id: record), tx: &tx)
            if current[RecordState.deletedField] == .integer(1) {
                summary.unchanged += 1  // deleted here: an import does not bring it back
            } else {
                try update(
                    kind, record: record, current: current, values: values, given: given, line: line,
                    again: !givenByARow.insert(record).inserted && sourceID != nil)
            }
            if let sourceID { group?.sourceIDs.append((kind.name, sourceID, record)) }
            return
        }
        values = try withDefaults(kind, values, pupil: pupil, db: tx.db)
        try requireFields(kind, values, given: given, line: line)
        try checkRules(kind, values, given: given, line: line)
        if kind.name == Enrolment.name {
            try requireNoOverlap(values, pupil: pupil, given: given, line: line, db: tx.db)
        }
        let id = RecordID.v7(milliseconds: store.now())
        givenByARow.insert(id)
        group?.write(id, kind: kind, values, base: [:])
        group?.pendingCreated[kind.name, default: 0] += 1
        if let sourceID { group?.sourceIDs.append((kind.name, sourceID, id)) }
    }

    /// Writes the fields whose values differ from the record's; counts the row as unchanged if none do.
    /// `again`: an earlier row of this import gave the record's values, so other values are a
    /// problem (one of the two rows would be lost).
    private mutating func update(
        _ kind: KindSpec, record: RecordID, current: [String: Value], values: [String: Value],
        given: [(column: ImportFormat.Column, text: String?, name: String)], line: Int, again: Bool
    ) throws {
        let changed = values.filter { (current[$0.key] ?? .null) != $0.value }
        guard !changed.isEmpty else {
            summary.unchanged += 1
            return
        }
        if again {
            let isPupil = kind.name == Pupil.name
            throw ImportProblem(
                file: fileName, line: line, column: isPupil ? ImportFormat.upnHeading : ImportFormat.idHeading,
                reason: isPupil
                    ? "An earlier row of this import is the same pupil (the same UPN) with other values; give each pupil one row."
                    : "An earlier row of this import has the same ID with other values; give each record one row and its own ID."
            )
        }
        guard !kind.isAppendOnly else {
            throw ImportProblem(
                file: fileName, line: line,
                reason: "\(kind.nounWithArticle.capitalizingFirst) cannot be changed once recorded.")
        }
        if kind.name == Pupil.name, changed[Pupil.Field.upn.rawValue] != nil {
            throw ImportProblem(
                file: fileName, line: line, column: ImportFormat.upnHeading,
                reason: "Change a pupil's UPN with `sensync pupil update`, then import again.")
        }
        var after = current
        for (name, value) in changed { after[name] = value }
        try checkRules(kind, after, given: given, line: line)
        let isNew = group?.pending[record] != nil && group?.ops.contains { $0.id == record } == true
        group?.write(record, kind: kind, changed, base: current)
        if !isNew { group?.pendingUpdated[kind.name, default: 0] += 1 }
    }

    /// `values` with the school a school's own enrolment or SEN episode is at, unless given.
    private func withSchool(_ kind: KindSpec, _ values: [String: Value]) -> [String: Value] {
        var values = values
        let here = Value.text(store.identity.id.description)
        if kind.name == Enrolment.name {
            values[Enrolment.Field.schoolID.rawValue] = here
        } else if kind.name == SENEpisode.name, values[SENEpisode.Field.schoolID.rawValue] == nil,
            store.identity.kind.isSchool
        {
            values[SENEpisode.Field.schoolID.rawValue] = here
        }
        return values
    }

    /// `values` with each field's default where it has none (a new record's).
    private func withDefaults(
        _ kind: KindSpec, _ values: [String: Value], pupil: RecordID, db: Database
    ) throws -> [String: Value] {
        var values = values
        for field in kind.fields where values[field.name] == nil && !field.isSystem {
            if let value = field.defaultValue(at: store.identity.kind) {
                values[field.name] = try store.parse(value, for: field, kind: kind, pupil: pupil, in: db)
            }
        }
        return values
    }

    private func requireFields(
        _ kind: KindSpec, _ values: [String: Value],
        given: [(column: ImportFormat.Column, text: String?, name: String)],
        line: Int
    ) throws {
        if let problem = missingFields(kind, values, line: line) { throw problem }
    }

    /// The required fields a new record of `kind` lacks in `values`, as a problem; `nil` if none.
    private func missingFields(_ kind: KindSpec, _ values: [String: Value], line: Int) -> ImportProblem? {
        let missing = kind.fields.filter { $0.isRequired && (values[$0.name] ?? .null) == .null }
        guard !missing.isEmpty else { return nil }
        let headings = missing.map { field in
            ImportFormat.columns(of: kind).first { $0.field.name == field.name }?.heading ?? field.label
        }
        return ImportProblem(
            file: fileName, line: line, column: headings.first,
            reason: "A new \(kind.noun) needs \(headings.joined(separator: ", ")).")
    }

    /// Reports the required fields a new record's row lacks when one of its values could not be
    /// read: `known` holds what the record takes without the row, and a field the row gives
    /// (readable or not) is not missing.
    private mutating func reportMissing(
        _ kind: KindSpec, _ known: [String: Value], given: [(column: ImportFormat.Column, text: String?, name: String)],
        line: Int
    ) {
        var values = known
        for (column, text, _) in given where !(text ?? "").trimmedOfSpace.isEmpty {
            values[column.field.name] = .text(text ?? "")
        }
        if let problem = missingFields(kind, values, line: line) { report(problem) }
    }

    /// Checks the kind's rules across fields; a rule that names a field (the later of two dates
    /// out of order) is reported at its column, as this row names it (else as files name it),
    /// and its hint is dropped when it names a command's options (a file has none).
    private func checkRules(
        _ kind: KindSpec, _ values: [String: Value],
        given: [(column: ImportFormat.Column, text: String?, name: String)], line: Int
    ) throws {
        do {
            try kind.checkRules(KindValues(values))
            // An enrolment's dates are not checked by its kind (a transfer may be dated before the
            // enrolment it ends was recorded), but a file's enrolment ends after it starts, as
            // `pupil transfer` requires.
            if kind.name == Enrolment.name {
                try KindValues(values).requireOrder(Enrolment.Field.entryDate, Enrolment.Field.leavingDate)
            }
        } catch let violation {
            let column = violation.field.flatMap { field in
                given.first { $0.column.field.name == field }?.name
                    ?? ImportFormat.columns(of: kind).first { $0.field.name == field }.map {
                        file?.format == .csv ? $0.heading : $0.key
                    }
            }
            throw ImportProblem(
                file: fileName, line: line, column: column,
                reason: Self.reason(StoreError(.invalidInput, violation.message, hint: violation.hint)))
        }
    }

    private func name(of field: some KindField, in given: [(column: ImportFormat.Column, text: String?, name: String)])
        -> String?
    {
        given.first { $0.column.field.name == field.rawValue }?.name
    }

    // MARK: Writing a pupil's rows

    /// Writes the pupil's gathered rows as one change.
    mutating func flush(batch: inout LocalBatch) throws {
        guard let group else { return }
        self.group = nil
        guard let pupil = group.pupil, !group.ops.isEmpty, !group.hadProblem else {
            try remember(group.sourceIDs, pupil: group.pupil, db: batch.tx.db)
            return
        }
        let upn = group.upn
        do {
            try batch.write(scope: pupil, ops: group.ops) { tx in
                if group.isNewPupil { try Store.requireUnusedUPN(upn, except: nil, in: tx.db) }
            }
        } catch let error as StoreError where ![.database, .clockAhead, .behindOwnHistory].contains(error.code) {
            // A problem with this pupil's rows; the rest (the store, this computer's clock) stop
            // the whole import.
            // Each rule broken at the row of the record it refused, and the column of the field it
            // names; else at the pupil's rows.
            var rows: Set<String> = []
            for error in [error] + error.alsoRefused {
                groupProblemCount += 1
                guard let record = error.record, let row = group.rowOf[record] else {
                    rows.insert("")
                    report(
                        ImportProblem(
                            file: group.file, line: group.firstLine, lastLine: group.inOneFile ? group.lastLine : nil,
                            reason: Self.reason(error)))
                    continue
                }
                let kind = group.pending[record]?.kind
                let column = error.field.flatMap { field in
                    kind.flatMap { ImportFormat.columns(of: $0).first { $0.field.name == field } }
                        .map { row.isCSV ? $0.heading : $0.key }
                }
                rows.insert("\(row.file)\u{0}\(row.line)")
                report(ImportProblem(file: row.file, line: row.line, column: column, reason: Self.reason(error)))
            }
            rowsWithProblems += rows.contains("") ? group.rows : rows.count
            return
        }
        summary.changes += 1
        for (kind, n) in group.pendingCreated { summary.created[kind, default: 0] += n }
        for (kind, n) in group.pendingUpdated { summary.updated[kind, default: 0] += n }
        try remember(group.sourceIDs, pupil: pupil, db: batch.tx.db)
    }

    // MARK: Finding records

    /// The live pupil with `upn`, if this store holds one.
    static func livePupil(upn: String, in db: Database) throws -> RecordID? {
        // Through the C API: one lookup per imported row.
        let statement = try db.cachedStatement(sql: "SELECT id FROM pupil WHERE upn = ? AND deleted = 0 LIMIT 1")
        return try statement.runDirectly {
            $0.bind(upn)
        } firstRow: {
            SQLiteBinder.text($0, 0)
        }?.flatMap(RecordID.init)
    }

    /// The record the source's `sourceID` was imported as: in the pupil's rows being gathered,
    /// else as remembered from earlier.
    private func record(_ kind: KindSpec, sourceID: String, db: Database) throws -> (
        pupil: RecordID, record: RecordID
    )? {
        if let group, let pupil = group.pupil,
            let mine = group.sourceIDs.last(where: { $0.kind == kind.name && $0.sourceID == sourceID })
        {
            return (pupil, mine.record)
        }
        if let remembered, !remembered.mayHold(kind: kind.name, sourceID: sourceID) { return nil }
        let statement = try db.cachedStatement(
            sql: "SELECT pupil_id, record_id FROM import_source WHERE source = ? AND kind = ? AND source_id = ?")
        let found = try statement.runDirectly { binder in
            binder.bind(options.source)
            binder.bind(kind.name)
            binder.bind(sourceID)
        } firstRow: { row in
            (SQLiteBinder.text(row, 0).flatMap(RecordID.init), SQLiteBinder.text(row, 1).flatMap(RecordID.init))
        }
        guard let (pupil, record) = found, let pupil, let record else { return nil }
        return (pupil, record)
    }

    /// The pupil's records of `kind`: those this pupil's rows create or change, as they will be,
    /// and the store's others.
    private func records(_ kind: KindSpec, pupil: RecordID, db: Database) throws -> [(RecordID, [String: Value])] {
        var records: [(RecordID, [String: Value])] = []
        if let group {
            for (id, pending) in group.pending where pending.kind.name == kind.name {
                records.append((id, pending.values))
            }
        }
        for record in try Store.records(kind, pupil: pupil, in: db) where group?.pending[record.id] == nil {
            records.append((record.id, record.values.values))
        }
        return records
    }

    /// A record of the pupil's already holding every value given (for rows without an id): for
    /// an enrolment, the open one at this school (or the one entered that day). `unnamedOnly`:
    /// only a record no id of this source names.
    private func sameRecord(
        _ kind: KindSpec, pupil: RecordID, values: [String: Value], unnamedOnly: Bool = false, db: Database
    ) throws -> RecordID? {
        var candidates = try records(kind, pupil: pupil, db: db)
        if unnamedOnly {
            let named = try namedRecords(kind, pupil: pupil, db: db)
            candidates.removeAll { named.contains($0.0) }
        }
        if kind.name == Enrolment.name {
            let school = values[Enrolment.Field.schoolID.rawValue]
            return candidates.first { _, v in
                v[Enrolment.Field.schoolID.rawValue] == school
                    && ((v[Enrolment.Field.leavingDate.rawValue] ?? .null) == .null
                        || v[Enrolment.Field.entryDate.rawValue] == values[Enrolment.Field.entryDate.rawValue])
            }?.0
        }
        return candidates.first { _, v in values.allSatisfy { (v[$0.key] ?? .null) == $0.value } }?.0
    }

    /// The pupil's records of `kind` an id of this source names (remembered, or given by a row
    /// of this pupil's being gathered).
    private func namedRecords(_ kind: KindSpec, pupil: RecordID, db: Database) throws -> Set<RecordID> {
        var named = Set(group?.sourceIDs.filter { $0.kind == kind.name }.map(\.record) ?? [])
        let statement = try db.cachedStatement(
            sql: "SELECT record_id FROM import_source WHERE source = ? AND kind = ? AND pupil_id = ?")
        let ids = try String.fetchAll(statement, arguments: [options.source, kind.name, pupil.description])
        named.formUnion(ids.compactMap(RecordID.init))
        return named
    }

    /// Refuses a new enrolment whose dates overlap another of the pupil's at the same school: the
    /// pupil would be on roll there twice at once (a second ID for an enrolment already imported).
    private func requireNoOverlap(
        _ values: [String: Value], pupil: RecordID,
        given: [(column: ImportFormat.Column, text: String?, name: String)], line: Int, db: Database
    ) throws {
        typealias Field = Enrolment.Field
        func period(_ v: [String: Value]) -> (start: String, end: String?)? {
            guard let start = v[Field.entryDate.rawValue]?.text else { return nil }
            return (start, v[Field.leavingDate.rawValue]?.text)
        }
        guard let new = period(values) else { return }
        let school = values[Field.schoolID.rawValue]
        for (_, other) in try records(Enrolment.spec, pupil: pupil, db: db)
        where other[Field.schoolID.rawValue] == school {
            guard let held = period(other) else { continue }
            // Each runs from its entry date up to its leaving date (open: on roll still).
            let overlaps = held.start < (new.end ?? "9999-12-31") && new.start < (held.end ?? "9999-12-31")
            guard overlaps else { continue }
            throw ImportProblem(
                file: fileName, line: line, column: name(of: Field.entryDate, in: given),
                reason:
                    "This enrolment overlaps another of the pupil's enrolments at this school (a new ID is a new enrolment); give the earlier one its leaving date, or this row the ID it was imported with."
            )
        }
    }

    /// A record's fields as they are now (with what this pupil's rows already change).
    private func state(_ key: RecordKey, tx: inout StoreTransaction) throws -> [String: Value] {
        if let pending = group?.pending[key.id] { return pending.values }
        guard let state = try tx.record(key), let kind = RecordSchema.kind(key.table) else { return [:] }
        var values: [String: Value] = [:]
        for field in kind.fields { values[field.name] = state[field.name] ?? .null }
        if state.isDeleted { values[RecordState.deletedField] = .integer(1) }
        return values
    }

    /// Keeps the source's ids of records imported, so the next import finds them.
    private mutating func remember(
        _ ids: [(kind: String, sourceID: String, record: RecordID)], pupil: RecordID?, db: Database
    ) throws {
        guard let pupil, !ids.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO import_source (source, kind, source_id, pupil_id, record_id) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (source, kind, source_id) DO UPDATE SET pupil_id = excluded.pupil_id, record_id = excluded.record_id
                """)
        for (kind, sourceID, record) in ids {
            remembered?.add(kind: kind, sourceID: sourceID)
            try statement.executeDirectly { binder in
                binder.bind(options.source)
                binder.bind(kind)
                binder.bind(sourceID)
                binder.bind(pupil.description)
                binder.bind(record.description)
            }
        }
    }
}

/// The source ids an import has remembered, as a fixed-size Bloom filter (1 MiB whatever the
/// file's size): "no" is certain, "maybe" is looked up.
struct SourceIDFilter {
    private static let bits = 1 << 23
    private var words = [UInt64](repeating: 0, count: SourceIDFilter.bits / 64)

    private static func positions(kind: String, sourceID: String) -> (Int, Int, Int) {
        var hasher = Hasher()
        hasher.combine(kind)
        hasher.combine(sourceID)
        let h = UInt64(bitPattern: Int64(hasher.finalize()))
        let mask = UInt64(bits - 1)
        return (Int(h & mask), Int((h >> 23) & mask), Int((h >> 41) & mask))
    }

    mutating func add(kind: String, sourceID: String) {
        let (a, b, c) = Self.positions(kind: kind, sourceID: sourceID)
        for bit in [a, b, c] { words[bit >> 6] |= 1 << UInt64(bit & 63) }
    }

    func mayHold(kind: String, sourceID: String) -> Bool {
        let (a, b, c) = Self.positions(kind: kind, sourceID: sourceID)
        return [a, b, c].allSatisfy { words[$0 >> 6] & (1 << UInt64($0 & 63)) != 0 }
    }
}

extension ImportProblem: Error {}
