import Foundation
import GRDB

/// The LA's merged area as a PostgreSQL script: a schema, then every table's rows as `COPY` data,
/// for the analysts' own database server, where several LAs load side by side.
///
/// The script runs in one transaction. It creates the `sensync` schema and its tables if they are
/// missing (and adds any column a newer SENSync declares), deletes this LA's rows from every table,
/// and copies them in again: loading the same LA twice leaves the same rows, and another LA's rows
/// are never touched. Every row carries the LA's three-digit DfE code (`la_code`).
///
/// Tables (``tables``): `export_info` (one row per LA: the format version, the date, whether
/// personal data is included), `sites`, one table per record kind (``RecordSchema/kinds``, columns
/// from the kind's declared fields), `obligations` (every open duty, ``ObligationRules``), and the
/// area report's figures by school and by primary need (``AreaReport``).
///
/// Pseudonymised unless asked otherwise: a field declared personal (``FieldDefinition/isPersonal``:
/// UPNs, names, dates of birth, staff and family names, and all free text) is written as null, and
/// so are an obligation's wording and role. Pupils are known by their record id, a random UUID that
/// means nothing outside SENSync. The columns are the same either way, so pseudonymised and full
/// exports load into one database.
///
/// Values are only ever written as `COPY` data (``copyText(_:)``); identifiers come from the
/// declarations, and the only other value in the script, the LA code, is three digits, checked.
/// The format is documented in `Schemas/exports/postgres.md`.
///
/// ```swift
/// let summary = try store.exportPostgres(to: "northshire.sql")
/// print(summary.rows["pupil"] ?? 0)
/// ```
public enum PostgresExport {
    /// The version of the tables this build writes, kept in `export_info.format_version`. Bumped
    /// when a table or column changes meaning; columns added for new fields do not bump it.
    public static let formatVersion = 1

    /// The PostgreSQL schema every table is in.
    public static let schema = "sensync"

    /// `COPY`'s text format writes a null as this.
    public static let null = "\\N"

    /// One column of an exported table.
    public struct Column: Sendable, Hashable {
        public var name: String
        /// Its PostgreSQL type: `text`, `date`, `integer`, `bigint`, `boolean` or `timestamptz`.
        public var type: String
        /// Null in a pseudonymised export.
        public var isPersonal: Bool

        public init(_ name: String, _ type: String, personal: Bool = false) {
            precondition(PostgresExport.isPlainIdentifier(name), "not a plain identifier: \(name)")
            self.name = name
            self.type = type
            self.isPersonal = personal
        }
    }

    /// One exported table.
    public struct Table: Sendable, Hashable {
        public var name: String
        public var columns: [Column]
        /// The primary key's columns (always starting with `la_code`), or empty for none.
        public var key: [String]

        public init(_ name: String, _ columns: [Column], key: [String]) {
            precondition(PostgresExport.isPlainIdentifier(name), "not a plain identifier: \(name)")
            self.name = name
            self.columns = columns
            self.key = key
        }

        /// `sensync."name"`.
        public var qualifiedName: String { "\(PostgresExport.schema).\(quoted(name))" }

        /// Creates the table if it is missing, then adds any column it lacks (a table made by an
        /// older SENSync): both do nothing when the table is up to date.
        public var createSQL: String {
            var lines = columns.map { column in
                "  \(quoted(column.name)) \(column.type)\(key.contains(column.name) ? " NOT NULL" : "")"
            }
            if !key.isEmpty { lines.append("  PRIMARY KEY (\(key.map(quoted).joined(separator: ", ")))") }
            var sql = "CREATE TABLE IF NOT EXISTS \(qualifiedName) (\n\(lines.joined(separator: ",\n"))\n);\n"
            for column in columns where !key.contains(column.name) {
                sql += "ALTER TABLE \(qualifiedName) ADD COLUMN IF NOT EXISTS \(quoted(column.name)) \(column.type);\n"
            }
            if key.isEmpty {
                sql += "CREATE INDEX IF NOT EXISTS \(quoted(name + "_la_code")) ON \(qualifiedName) (\"la_code\");\n"
            }
            return sql
        }

        /// The line that starts this table's data.
        public var copyHeader: String {
            "COPY \(qualifiedName) (\(columns.map { quoted($0.name) }.joined(separator: ", "))) FROM stdin;\n"
        }
    }

    // MARK: Tables

    static let laCode = Column("la_code", "text")

    /// One row per LA loaded: what was exported, when, and how.
    public static let exportInfo = Table(
        "export_info",
        [
            laCode, Column("la_name", "text"), Column("format_version", "integer"), Column("record_schema", "integer"),
            Column("as_of", "date"), Column("exported_at", "timestamptz"), Column("personal_data", "boolean"),
        ], key: ["la_code"])

    /// The LA and every site in its directory.
    public static let sites = Table(
        "sites",
        [
            laCode, Column("site_id", "text"), Column("name", "text"), Column("kind", "text"), Column("urn", "text"),
            Column("site_la_code", "text"), Column("is_revoked", "boolean"),
        ], key: ["la_code", "site_id"])

    /// Every open duty, as `sensync due` lists them, with whether it was overdue on the as-of date.
    public static let obligations = Table(
        "obligations",
        [
            laCode, Column("pupil_id", "text"), Column("record_id", "text"), Column("kind", "text"),
            Column("what", "text", personal: true), Column("due_on", "date"), Column("responsible_org", "text"),
            Column("responsible_role", "text", personal: true), Column("statute", "text"),
            Column("exception_applies", "boolean"), Column("overdue", "boolean"),
        ], key: [])

    /// The area report's table by school.
    public static let reportSchools = Table(
        "report_schools",
        [
            laCode, Column("school", "text"), Column("as_of", "date"), Column("pupils", "integer"),
            Column("sen_support", "integer"), Column("ehc_plans", "integer"), Column("roll", "integer"),
            Column("concern_to_support_count", "integer"), Column("concern_to_support_median_days", "integer"),
            Column("concerns_past_review", "integer"), Column("overdue_duties", "integer"),
        ], key: ["la_code", "school"])

    /// The area report's pupils by primary need (census code).
    public static let reportPrimaryNeeds = Table(
        "report_primary_needs",
        [laCode, Column("need", "text"), Column("as_of", "date"), Column("pupils", "integer")],
        key: ["la_code", "need"])

    /// The table of a record kind: `la_code`, `pupil_id`, `id`, then its declared fields.
    public static func table(for kind: KindSpec) -> Table {
        let fixed = [laCode, Column("pupil_id", "text"), Column("id", "text")]
        let fields = kind.fields.map { Column($0.name, type(of: $0.rule), personal: $0.isPersonal) }
        precondition(
            Set(fields.map(\.name)).isDisjoint(with: fixed.map(\.name)), "\(kind.name) declares a reserved column")
        return Table(kind.name, fixed + fields, key: ["la_code", "pupil_id", "id"])
    }

    /// Every table, in the order the script writes them.
    public static var tables: [Table] {
        [exportInfo, sites] + RecordSchema.kinds.map(table(for:)) + [obligations, reportSchools, reportPrimaryNeeds]
    }

    /// A field's PostgreSQL type: dates are `date`, money (pence) `bigint`, yes/no `boolean`,
    /// whole numbers `integer` (or `bigint` when their range needs it), everything else `text`.
    public static func type(of rule: FieldRule) -> String {
        switch rule {
        case .date: "date"
        case .pence: "bigint"
        case .flag: "boolean"
        case .integer(let range):
            range.lowerBound >= Int64(Int32.min) && range.upperBound <= Int64(Int32.max) ? "integer" : "bigint"
        case .text, .code, .codes, .reference, .site: "text"
        }
    }

    // MARK: COPY text

    /// `text` as one `COPY` text-format value: backslash, tab, newline and carriage return escaped
    /// (`\\`, `\t`, `\n`, `\r`), so a value never ends its column, its row or the data (`\.`). NUL,
    /// which PostgreSQL text cannot hold, is left out.
    public static func copyText(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0 }) else {
            return text
        }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\0": continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A record's field as `COPY` data: null when not set, when personal and not included, or when
    /// the stored value is not of the field's type (a date that does not parse); otherwise the
    /// value in the column's type.
    public static func cell(_ value: Value?, field: FieldDefinition, includePersonalData: Bool) -> String {
        guard let value, !value.isNull, includePersonalData || !field.isPersonal else { return null }
        switch field.rule {
        case .flag:
            guard let i = value.integer else { return null }
            return i == 0 ? "f" : "t"
        case .integer, .pence:
            return value.integer.map(String.init) ?? null
        case .date:
            guard let text = value.text, let date = CalendarDate(text) else { return null }
            return date.description
        case .text, .code, .codes, .reference, .site:
            return copyText(value.text ?? value.description)
        }
    }

    /// Whether `name` can be an identifier the script writes: lower-case letters, digits and `_`,
    /// not starting with a digit.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first) else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// What was written.
    public struct Summary: Sendable, Hashable {
        public var laCode: String
        public var laName: String
        public var asOf: CalendarDate
        public var includesPersonalData: Bool
        /// Rows written, by table name.
        public var rows: [String: Int]
    }
}

/// An identifier in double quotes (identifiers are plain, checked when a table is declared).
private func quoted(_ name: String) -> String { "\"\(name)\"" }

/// Writes a script to a file through a buffer: memory stays flat however many rows there are.
private final class ScriptWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private static let flushAt = 1 << 20

    init(handle: FileHandle) {
        self.handle = handle
        buffer.reserveCapacity(Self.flushAt + 4096)
    }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.flushAt { try flush() }
    }

    /// One `COPY` row: the cells joined by tabs.
    func row(_ cells: [String]) throws {
        for (i, cell) in cells.enumerated() {
            if i > 0 { buffer.append(0x09) }
            buffer.append(contentsOf: cell.utf8)
        }
        buffer.append(0x0A)
        if buffer.count >= Self.flushAt { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

extension Store {
    /// Writes the merged area to `path` as a PostgreSQL script (``PostgresExport``): the LA's
    /// store only. The file is written beside `path` and moved into place when complete, owner-only
    /// (mode 0600); an existing file is replaced only with `replacing`.
    ///
    /// - Parameters:
    ///   - includePersonalData: Write UPNs, names, dates of birth and free text too.
    ///   - asOf: The day obligations are overdue against and the report is made for (today in
    ///     England by default).
    /// - Returns: What was written, table by table.
    /// - Throws: ``StoreError`` with `.invalidInput` at a site that is not an LA or an LA store with
    ///   no LA code, `.storeExists` when `path` exists and `replacing` is false, `.database` when the
    ///   file cannot be written.
    @discardableResult
    public func exportPostgres(
        to path: String, replacing: Bool = false, includePersonalData: Bool = false, asOf: CalendarDate? = nil
    ) throws -> PostgresExport.Summary {
        guard identity.kind == .la else {
            throw StoreError(
                .invalidInput,
                "The PostgreSQL export is of the LA's merged area; this is a \(identity.kind.label)'s store.",
                hint: "Run `sensync export postgres` with the LA's store.")
        }
        guard let code = identity.laCode, SiteRules.isValidLACode(code) else {
            throw StoreError(
                .invalidInput, "This LA's store has no three-digit DfE LA code, which every exported row carries.",
                hint: "The code is set when the LA's store is made (`sensync init --kind la --la-code NNN`).")
        }
        if PrivateFiles.isFolder(atPath: path) {
            throw StoreError(
                .invalidInput, "The path to export to names a folder, which was left as it is.",
                hint: "Give a file name inside it.")
        }
        if FileManager.default.fileExists(atPath: path) && !replacing {
            throw StoreError(
                .storeExists, "The file to export to already exists; it was left as it is.",
                hint: "Choose another name, or replace it (`--force`).")
        }
        let url = URL(fileURLWithPath: path)
        let partial = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).\(UUID().uuidString).partial"
        ).path
        guard PrivateFiles.createEmpty(atPath: partial), let handle = FileHandle(forWritingAtPath: partial) else {
            throw StoreError(
                .database, "The PostgreSQL export could not be written there.",
                hint: "Check the folder exists and can be written.")
        }
        var moved = false
        defer { if !moved { try? FileManager.default.removeItem(atPath: partial) } }
        let summary: PostgresExport.Summary
        do {
            defer { try? handle.close() }
            let script = ScriptWriter(handle: handle)
            summary = try writer.read { db in
                try writePostgresScript(
                    to: script, laCode: code, includePersonalData: includePersonalData, asOf: asOf ?? today, in: db)
            }
            try script.flush()
            try handle.synchronize()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(
                .database, "The PostgreSQL export could not be written there.",
                hint: "Check the folder can be written and the disk has room.")
        }
        if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
        guard rename(partial, path) == 0 else {
            throw StoreError(
                .database, "The PostgreSQL export could not be moved into place.",
                hint: "Check the folder can be written.")
        }
        moved = true
        return summary
    }

    /// Writes the script, table by table, from one read of the store (one consistent state).
    private func writePostgresScript(
        to out: ScriptWriter, laCode: String, includePersonalData: Bool, asOf: CalendarDate, in db: Database
    ) throws -> PostgresExport.Summary {
        var summary = PostgresExport.Summary(
            laCode: laCode, laName: identity.name, asOf: asOf, includesPersonalData: includePersonalData, rows: [:])
        // The LA code is the only value outside COPY data: three digits, checked by the caller.
        precondition(SiteRules.isValidLACode(laCode))
        let la = "'\(laCode)'"
        let tables = PostgresExport.tables
        try out.write(
            """
            -- SENSync PostgreSQL export, format \(PostgresExport.formatVersion): LA \(laCode), as of \(asOf), \
            \(includePersonalData ? "WITH PERSONAL DATA" : "pseudonymised").
            -- Load with: psql -v ON_ERROR_STOP=1 -f FILE.sql
            -- One transaction: this LA's rows are replaced; other LAs' rows are left as they are.
            SET client_encoding = 'UTF8';
            SET standard_conforming_strings = on;
            SET client_min_messages = warning;
            BEGIN;
            -- Loads of different LAs into one database wait for each other here, not fail.
            DO $$ BEGIN PERFORM pg_advisory_xact_lock(\(Self.postgresLoadLock)); END $$;
            CREATE SCHEMA IF NOT EXISTS \(PostgresExport.schema);

            """)
        for table in tables { try out.write(table.createSQL) }
        try out.write("\n")
        for table in tables { try out.write("DELETE FROM \(table.qualifiedName) WHERE \"la_code\" = \(la);\n") }

        func copy(_ table: PostgresExport.Table, _ rows: (_ row: ([String]) throws -> Void) throws -> Void) throws {
            try out.write("\n" + table.copyHeader)
            var count = 0
            try rows { cells in
                assert(cells.count == table.columns.count - 1, "\(table.name): wrong number of cells")
                try out.row([laCode] + cells)
                count += 1
            }
            try out.write("\\.\n")
            summary.rows[table.name] = count
        }
        func text(_ value: String?) -> String { value.map(PostgresExport.copyText) ?? PostgresExport.null }
        func personal(_ value: String?) -> String { includePersonalData ? text(value) : PostgresExport.null }
        func number(_ value: Int?) -> String { value.map(String.init) ?? PostgresExport.null }
        func flag(_ value: Bool) -> String { value ? "t" : "f" }

        let exportedAt = Date(timeIntervalSince1970: Double(now()) / 1000)
        try copy(PostgresExport.exportInfo) { row in
            try row([
                text(identity.name), String(PostgresExport.formatVersion), String(RecordSchema.version),
                asOf.description, exportedAt.formatted(.iso8601), flag(includePersonalData),
            ])
        }

        var sites: [SiteID: (SiteIdentity, Bool)] = [identity.id: (identity, false)]
        for entry in try Self.directory(in: db)?.entries ?? [] { sites[entry.site.id] = (entry.site, entry.isRevoked) }
        try copy(PostgresExport.sites) { row in
            for (site, revoked) in sites.values.sorted(by: { $0.0.id.description < $1.0.id.description }) {
                try row([
                    site.id.description, text(site.name), site.kind.rawValue, text(site.urn), text(site.laCode),
                    flag(revoked),
                ])
            }
        }

        // A pupil's census status and needs as their episodes and needs add up to on the day
        // (``Store/censusSummaries(in:pupil:today:enrolments:)``).
        let summaries = try Self.censusSummaries(in: db, today: asOf)
        for kind in RecordSchema.kinds {
            try copy(PostgresExport.table(for: kind)) { row in
                try Self.eachRecord(kind, in: db) { record in
                    var cells = [record.pupilID.description, record.id.description]
                    let summary = kind.name == Pupil.name ? summaries[record.pupilID]?.pupilFields : nil
                    for field in kind.fields {
                        cells.append(
                            PostgresExport.cell(
                                summary?[field.name] ?? record.values[field.name], field: field,
                                includePersonalData: includePersonalData))
                    }
                    try row(cells)
                }
            }
        }

        // Duties and the report come from pupils' files (the kinds they read), as `sensync due`
        // and `sensync report area` make them.
        let files = try pupilFiles(kinds: AreaReport.kindsRead, in: db)
        let laName = try localAuthorityName(in: db)
        var duties: [RecordID: [Obligation]] = [:]
        for file in files { duties[file.pupil] = ObligationRules.obligations(of: file, localAuthority: laName) }
        try copy(PostgresExport.obligations) { row in
            for file in files {
                for duty in duties[file.pupil] ?? [] {
                    try row([
                        duty.pupil.description, duty.record.description, text(duty.kind), personal(duty.what),
                        duty.dueOn.description, text(duty.responsibleOrg), personal(duty.responsibleRole),
                        text(duty.statute), flag(duty.exceptionApplies), flag(duty.isOverdue(asOf: asOf)),
                    ])
                }
            }
        }

        let rolls = try Self.schoolRolls(in: db, names: presenter(in: db).siteNames)
        let report = AreaReport(
            asOf: asOf, files: files, obligations: duties,
            rolls: Dictionary(rolls.map { ($0.name, $0.pupils) }, uniquingKeysWith: { a, _ in a }))
        try copy(PostgresExport.reportSchools) { row in
            for school in report.schools {
                try row([
                    text(school.name), asOf.description, String(school.pupils), String(school.senSupport),
                    String(school.ehcPlans), number(school.roll), String(school.concernToSupport.count),
                    number(school.concernToSupport.median), String(school.concernsPastReview),
                    String(school.overdueDuties),
                ])
            }
        }
        try copy(PostgresExport.reportPrimaryNeeds) { row in
            for need in report.primaryNeeds { try row([text(need.code), asOf.description, String(need.count)]) }
        }
        try out.write("\nCOMMIT;\n")
        return summary
    }

    /// The advisory lock key loads take (the bytes of "SENSYNC").
    private static let postgresLoadLock: Int64 = 0x53_454E_5359_4E43
}
