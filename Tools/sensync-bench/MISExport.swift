import Foundation
import SENSync

/// A synthetic school MIS export, written as one JSON Lines file and as the equivalent CSV files
/// (one per kind, named after it), in the formats `sensync import` reads (`Schemas/import/`).
///
/// Per pupil: a pupil row, an SEN provision episode (K or E), one or two ranked needs (NSA only
/// alone and with K), and for some pupils a concern, a support plan with a provision item, and a
/// referral. A pupil's rows are consecutive in the JSON Lines file. Column headings and JSON keys
/// come from ``ImportFormat/columns(of:)``, so the files follow the library's declarations.
struct MISExport {
    var pupils: Int
    var jsonLines: URL
    /// The CSV files, in the order they are imported (pupils first).
    var csv: [URL]
    /// Rows written, by kind name (the same in both formats).
    var rows: [String: Int]
    var jsonLinesBytes: Int
    var csvBytes: Int

    var rowCount: Int { rows.values.reduce(0, +) }

    /// The fields the generator gives for each kind (by field name), in column order.
    static let fields: [(kind: KindSpec, fields: [String])] = [
        (Pupil.spec, ["forename", "surname", "date_of_birth", "year_group", "entry_date"]),
        (SENEpisode.spec, ["provision", "start_date"]),
        (SENNeedRecord.spec, ["need", "rank", "start_date"]),
        (Concern.spec, ["raised_on", "raised_by_role", "areas", "observations", "review_date"]),
        (SupportPlan.spec, ["title", "start_date", "review_date", "responsible_person"]),
        (
            ProvisionItem.spec,
            [
                "plan_id", "description", "responsible_org", "responsible_person", "sessions_per_week",
                "minutes_per_session",
            ]
        ),
        (Referral.spec, ["agency", "reason", "referred_on", "referred_by"]),
    ]

    /// A field's import column (its JSON key, CSV heading, and whether it is a number).
    struct Column {
        var field: String
        var key: String
        var heading: String
        var isNumber: Bool
    }

    /// The import columns of the generated fields of `kind`, from the library's declarations.
    static func columns(of kind: KindSpec) throws -> [Column] {
        let declared = ImportFormat.columns(of: kind)
        let names = fields.first { $0.kind.name == kind.name }?.fields ?? []
        return try names.map { name in
            guard let column = declared.first(where: { $0.field.name == name }) else {
                throw BenchFailure("The import format has no column for \(kind.name).\(name); update MISExport.")
            }
            var isNumber = false
            if case .integer = column.field.rule { isNumber = true }
            return Column(field: name, key: column.key, heading: column.heading, isNumber: isNumber)
        }
    }

    /// One row: the kind, the source's id, the pupil's UPN and the given fields' texts.
    struct Row {
        var kind: KindSpec
        var id: String
        var upn: String
        var values: [String: String]
    }

    /// Writes `pupils` pupils' rows from `seed` into `folder`: `name.jsonl` and `name-csv/KIND.csv`.
    static func write(pupils: Int, seed: UInt64, in folder: URL, name: String) throws -> MISExport {
        let csvFolder = folder.appendingPathComponent("\(name)-csv")
        try FileManager.default.createDirectory(at: csvFolder, withIntermediateDirectories: true)
        let jsonURL = folder.appendingPathComponent("\(name).jsonl")
        let json = try BufferedWriter(jsonURL)
        var csv: [String: (writer: BufferedWriter, columns: [Column])] = [:]
        var csvURLs: [URL] = []
        for (kind, _) in fields {
            let url = csvFolder.appendingPathComponent("\(kind.name)s.csv")
            guard ImportFile(path: url.path).kind?.name == kind.name else {
                throw BenchFailure("\(url.lastPathComponent) does not name the kind \(kind.name) for the import.")
            }
            let columns = try columns(of: kind)
            let writer = try BufferedWriter(url)
            writer.append(
                ([ImportFormat.idHeading, ImportFormat.upnHeading] + columns.map(\.heading)).map(csvCell)
                    .joined(separator: ",") + "\n")
            csv[kind.name] = (writer, columns)
            csvURLs.append(url)
        }
        let jsonColumns = Dictionary(uniqueKeysWithValues: try fields.map { ($0.kind.name, try columns(of: $0.kind)) })
        json.append("{\"format\": \"\(ImportFormat.formatName)\", \"version\": \(ImportFormat.version)}\n")

        var rng = SplitMix64(seed: seed)
        var counts: [String: Int] = [:]
        for serial in 0..<pupils {
            for row in pupilRows(serial, rng: &rng) {
                counts[row.kind.name, default: 0] += 1
                let columns = jsonColumns[row.kind.name]!
                var line = "{\"kind\": \"\(row.kind.name)\", \"id\": \(jsonString(row.id)), \"upn\": \"\(row.upn)\""
                for column in columns {
                    guard let text = row.values[column.field] else { continue }
                    line += ", \"\(column.key)\": " + (column.isNumber ? text : jsonString(text))
                }
                json.append(line + "}\n")
                let (writer, csvColumns) = csv[row.kind.name]!
                writer.append(
                    ([row.id, row.upn] + csvColumns.map { row.values[$0.field] ?? "" }).map(csvCell)
                        .joined(separator: ",") + "\n")
            }
        }
        try json.close()
        var csvBytes = 0
        for (writer, _) in csv.values {
            try writer.close()
            csvBytes += writer.bytes
        }
        return MISExport(
            pupils: pupils, jsonLines: jsonURL, csv: csvURLs, rows: counts, jsonLinesBytes: json.bytes,
            csvBytes: csvBytes)
    }

    /// The rows of pupil `serial`, parents first.
    static func pupilRows(_ serial: Int, rng: inout SplitMix64) -> [Row] {
        let upn = AreaBuilder.upn(schoolIndex: 1 + serial / 100_000, serial: serial % 100_000)
        let p = "\(serial + 1)"
        func date(_ year: Int, _ month: ClosedRange<Int> = 1...12) -> String {
            String(format: "%04d-%02d-%02d", year, rng.int(month), rng.int(1...28))
        }
        var rows: [Row] = []
        let yearGroup = rng.int(0...11)
        let born = 2019 - yearGroup
        rows.append(
            Row(
                kind: Pupil.spec, id: "P\(p)", upn: upn,
                values: [
                    "forename": rng.pick(Lexicon.forenames), "surname": rng.pick(Lexicon.surnames),
                    "date_of_birth": date(born), "year_group": String(yearGroup),
                    "entry_date": "\(rng.int(max(2015, born + 4)...2024))-09-0\(rng.int(1...5))",
                ]))
        let provision = rng.chance(0.15) ? "E" : "K"
        let start = date(rng.int(2022...2024))
        rows.append(
            Row(kind: SENEpisode.spec, id: "E\(p)", upn: upn, values: ["provision": provision, "start_date": start]))
        let needs: [String]
        if provision == "K" && rng.chance(0.05) {
            needs = ["NSA"]
        } else {
            var first = rng.pick(["SLCN", "SEMH", "ASD", "SPLD", "MLD"])
            let second = rng.pick(["SLCN", "SEMH", "ASD", "SPLD", "MLD", "HI", "VI", "PD"])
            if first == second { first = "OTH" }
            needs = rng.chance(0.4) ? [first, second] : [first]
        }
        for (rank, need) in needs.enumerated() {
            rows.append(
                Row(
                    kind: SENNeedRecord.spec, id: "N\(p)-\(rank + 1)", upn: upn,
                    values: ["need": need, "rank": String(rank + 1), "start_date": start]))
        }
        if rng.chance(0.4) {
            rows.append(
                Row(
                    kind: Concern.spec, id: "C\(p)", upn: upn,
                    values: [
                        "raised_on": date(2025, 1...6),
                        "raised_by_role": rng.pick(["class-teacher", "senco", "parent"]),
                        "areas": rng.pick(["communication-interaction", "cognition-learning", "semh"]),
                        "observations": Lexicon.text(&rng, minChars: 60, maxChars: 200),
                        "review_date": date(2025, 7...12),
                    ]))
        }
        if rng.chance(0.35) {
            rows.append(
                Row(
                    kind: SupportPlan.spec, id: "SP\(p)", upn: upn,
                    values: [
                        "title": rng.pick(Lexicon.planTitles), "start_date": date(2024, 9...12),
                        "review_date": date(2025, 3...12), "responsible_person": "SENCO",
                    ]))
            rows.append(
                Row(
                    kind: ProvisionItem.spec, id: "PI\(p)", upn: upn,
                    values: [
                        "plan_id": "SP\(p)", "description": Lexicon.text(&rng, minChars: 30, maxChars: 90),
                        "responsible_org": rng.pick(Lexicon.providers), "responsible_person": rng.pick(Lexicon.people),
                        "sessions_per_week": String(rng.int(1...5)), "minutes_per_session": String(rng.int(2...6) * 10),
                    ]))
        }
        if rng.chance(0.25) {
            rows.append(
                Row(
                    kind: Referral.spec, id: "R\(p)", upn: upn,
                    values: [
                        "agency": rng.pick(["educational-psychology", "speech-language-therapy", "camhs"]),
                        "reason": Lexicon.text(&rng, minChars: 40, maxChars: 120), "referred_on": date(2025, 1...6),
                        "referred_by": rng.pick(Lexicon.people),
                    ]))
        }
        return rows
    }

    /// A JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A CSV cell, quoted when it holds a comma, a quote or a line break.
    static func csvCell(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Appends text to a file through a buffer, so a large export is never held in memory.
final class BufferedWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private(set) var bytes = 0

    init(_ url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: url.path)
        else { throw BenchFailure("Could not create \(url.path).") }
        self.handle = handle
        buffer.reserveCapacity(1 << 18)
    }

    func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 18 { flush() }
    }

    private func flush() {
        handle.write(Data(buffer))
        bytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        flush()
        try handle.close()
    }
}
