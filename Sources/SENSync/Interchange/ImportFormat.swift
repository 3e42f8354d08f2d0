import Foundation

/// What `sensync import` reads from a school's MIS export: which record kinds, and the name each
/// field has as a CSV column heading and as a JSON Lines key.
///
/// Everything here derives from the kinds' declarations (`Model/Kinds/`): a field's CSV heading is
/// its MIS name (`csv:`) where it has one, else its census or CTF name, else its label; its JSON
/// key is ``FieldDefinition/jsonKey``. `Schemas/import/` documents the result and a test pins it.
public enum ImportFormat {
    /// The `format` a JSON Lines file may name on an optional first line.
    public static let formatName = "sensync-import"
    /// The version of the formats described here.
    public static let version = 1

    /// The kinds a file may carry, in the order a pupil's rows are best given (parents first).
    public static let kinds: [KindSpec] = [
        Pupil.spec, Enrolment.spec, SENEpisode.spec, SENNeedRecord.spec, Concern.spec, SupportPlan.spec,
        ProvisionItem.spec, Referral.spec,
    ]

    /// The importable kind `name` names: its table name, noun or plural, in any case, with
    /// spaces, dashes or underscores (`sen_need`, `needs`, `SEN needs` are one kind).
    public static func kind(named name: String) -> KindSpec? {
        if let kind = kinds.first(where: { $0.name == name }) { return kind }  // every JSON line names one
        return kindsByNormalizedName[normalized(name)]
    }

    /// Each kind under every name ``kind(named:)`` accepts, normalized: worked out once, not for
    /// each line that names a kind in other words (or names none SENSync knows).
    private static let kindsByNormalizedName: [String: KindSpec] = {
        var byName: [String: KindSpec] = [:]
        for kind in kinds {
            for name in [kind.name, kind.noun, kind.plural, kind.name + "s"] {
                byName[normalized(name)] = byName[normalized(name)] ?? kind  // the first kind listed wins
            }
        }
        return byName
    }()

    /// What a heading (or JSON key) of a row of `kind` is: the UPN, the source's id, a column, or
    /// unknown. Worked out once per heading and kind: an import asks for every cell.
    enum Heading {
        case upn, id
        /// The key naming a JSON line's kind (read by the reader; in a CSV file, no column).
        case kind
        case column(Column)
        case unknown
    }

    /// Remembers what each heading of each kind is (see ``Heading``).
    struct HeadingCache {
        private var known: [String: [String: Heading]] = [:]
        private var columnsOf: [String: [Column]] = [:]

        mutating func columns(of kind: KindSpec) -> [Column] {
            if let columns = columnsOf[kind.name] { return columns }
            let columns = ImportFormat.columns(of: kind)
            columnsOf[kind.name] = columns
            return columns
        }

        mutating func heading(_ name: String, of kind: KindSpec) -> Heading {
            if let heading = known[kind.name]?[name] { return heading }
            let normal = normalized(name)
            let heading: Heading
            if name == kindKey {
                heading = .kind
            } else if normal == normalized(idHeading) {
                heading = .id
            } else if normal == normalized(upnHeading) {
                heading = .upn
            } else if let column = columns(of: kind).first(where: { $0.matches(name) }) {
                heading = .column(column)
            } else {
                heading = .unknown
            }
            known[kind.name, default: [:]][name] = heading
            return heading
        }

        /// The headings of `kind`'s columns, for a problem that lists them.
        /// As a CSV file heads them, or as a JSON line gives them (`asKeys`).
        mutating func columnList(of kind: KindSpec, asKeys: Bool) -> String {
            let cacheKey = asKeys ? kind.name + "\u{0}keys" : kind.name
            if let list = columnLists[cacheKey] { return list }
            let names =
                asKeys
                ? [idKey, "upn"] + columns(of: kind).map(\.key)
                : [idHeading, upnHeading] + columns(of: kind).map(\.heading)
            let list = names.joined(separator: ", ")
            columnLists[cacheKey] = list
            return list
        }
        private var columnLists: [String: String] = [:]
    }

    /// What `heading` names, when a JSON line must give it as a string (text, a date, a code, an
    /// id: `Schemas/import/line.schema.json`); `nil` when a number or true/false may stand for it
    /// (a whole number, an amount, a flag) or it is no column.
    static func textOnly(_ heading: Heading) -> String? {
        switch heading {
        case .id: return nil  // an MIS's numeric ids: a whole number is its digits (checked by the caller)
        case .upn: return "The UPN"
        case .kind, .unknown: return nil
        case .column(let column):
            if column.references == nil {
                switch column.field.rule {
                case .integer, .flag, .pence: return nil
                default: break
                }
            }
            return "The \(column.field.label.lowercased())"
        }
    }

    /// Whether an unknown key may be repeated in a problem: only a slip in typing one of `kind`'s
    /// keys (`surnme`, `costPence`), never a value given as a key (a UPN, a name, a date), which
    /// would put a pupil's details in a message. A key is repeated when it is a few letters from a
    /// key, heading, field name or label of the kind (case, spaces and punctuation aside), is
    /// ASCII letters, digits and underscores, and reads as neither a UPN nor a date.
    static func isMistypedKey(_ name: String, of kind: KindSpec) -> Bool {
        guard name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
            (try? UPN(name)) == nil, CalendarDate(name) == nil
        else { return false }
        let typed = Array(normalized(name).utf8)
        return (namesByKind[kind.name] ?? []).contains { wanted in
            // One slip in a short name, two in a longer one: "Smith" is no misspelt "sex".
            let slips = wanted.count < 6 ? 1 : 2
            return abs(wanted.count - typed.count) <= slips && editDistance(typed, wanted) <= slips
        }
    }

    /// Every name each kind's columns go by (and `id`, `upn`, `kind`), normalized: worked out
    /// once, not for every unknown key of every line.
    private static let namesByKind: [String: [[UInt8]]] = {
        var names: [String: [[UInt8]]] = [:]
        for kind in kinds {
            var known = [idKey, "upn", kindKey]
            for column in columns(of: kind) {
                known += [column.heading, column.key, column.field.name, column.field.personName, column.field.label]
            }
            var seen: Set<[UInt8]> = []
            names[kind.name] = known.map { Array(normalized($0).utf8) }.filter { seen.insert($0).inserted }
        }
        return names
    }()

    /// Levenshtein distance: the fewest letters inserted, removed or replaced to turn `a` into `b`.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// The most columns a CSV heading row, or keys a JSON line, may have: far above any kind's
    /// (a dozen or so), so that a line of a million keys is one problem, not a million.
    public static let maxColumns = 1000

    /// The heading of the column holding the source's own id for a record.
    public static let idHeading = "ID"
    /// The JSON key of the source's own id.
    public static let idKey = "id"
    /// The JSON key naming the kind of the record on a line.
    public static let kindKey = "kind"
    /// The heading (and JSON key, `upn`) that says which pupil a row is about.
    public static let upnHeading = "UPN"

    /// One field a file may give for a kind.
    public struct Column: Sendable {
        /// The field, as the kind declares it.
        public let field: FieldDefinition
        /// Its CSV column heading.
        public let heading: String
        /// Its key in a JSON Lines object.
        public let key: String
        /// For a reference to another imported record (a provision item's plan): that kind. The
        /// file gives the source's id of that record.
        public let references: KindSpec?
        /// Set for the pupil's entry date at this school (a pupil row's `EntryDate`): not a field
        /// of the pupil but of the enrolment a new pupil gets here.
        public let isEntryDate: Bool

        /// Whether a file heading (or key) names this column: case, spaces and punctuation aside,
        /// the heading, the key, the field's name or its label.
        public func matches(_ heading: String) -> Bool {
            let wanted = ImportFormat.normalized(heading)
            return [self.heading, key, field.personName, field.label].contains { ImportFormat.normalized($0) == wanted }
        }
    }

    /// The columns a file may give for `kind`, in declaration order. The UPN (which pupil) and the
    /// source's id are not among them: every kind has those.
    public static func columns(of kind: KindSpec) -> [Column] {
        var columns: [Column] = []
        for field in kind.fields {
            var referenced: KindSpec?
            if case .reference(let table) = field.rule {
                // Only references to a kind a file can carry can be given (by the source's id).
                guard let target = kinds.first(where: { $0.name == table }) else { continue }
                referenced = target
            }
            let importable =
                !field.isSystem
                || (kind.name == Enrolment.name && field.name != Enrolment.Field.schoolID.rawValue)
            guard importable else { continue }
            if kind.name == Pupil.name && field.name == Pupil.Field.upn.rawValue { continue }
            let key = referenced != nil && !field.inputKey.hasSuffix("Id") ? field.inputKey + "Id" : field.inputKey
            let heading =
                referenced.map { "\($0.noun.capitalized) ID" }
                ?? field.interchange.csv ?? field.interchange.census ?? field.interchange.ctf ?? field.label
            columns.append(
                Column(field: field, heading: heading, key: key, references: referenced, isEntryDate: false))
        }
        if kind.name == Pupil.name, let entry = Enrolment.spec.field(Enrolment.Field.entryDate.rawValue) {
            columns.append(
                Column(
                    field: entry, heading: entry.interchange.ctf ?? entry.label, key: entry.inputKey, references: nil,
                    isEntryDate: true))
        }
        return columns
    }

    /// Lower case, letters and digits only: how headings and kind names are compared.
    static func normalized(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }

    // MARK: The formats, written out

    /// What a person types in a column of this rule, for the documentation.
    static func accepted(_ column: Column) -> String {
        if let target = column.references { return "the ID of \(target.nounWithArticle) given earlier" }
        switch column.field.rule {
        case .text(let max): return "text, at most \(max) characters"
        case .date: return "date, YYYY-MM-DD"
        case .code(let list): return "a code from `Schemas/codes/\(list).json`"
        case .codes(let list): return "codes from `Schemas/codes/\(list).json`, comma-separated"
        case .integer(let range): return "whole number, \(range.lowerBound) to \(range.upperBound)"
        case .pence: return "amount in pounds, e.g. 450.00"
        case .flag: return "yes or no"
        case .reference: return "an ID given earlier"
        case .site: return "a site's name or id (default: this school)"
        }
    }

    /// Every kind's columns as Markdown tables (`Schemas/import/columns.md`, pinned by a test).
    public static func columnsDocument() -> String {
        var out = """
            # Import columns, version \(version)

            Generated from the record kinds' declarations by `ImportFormat.columnsDocument()`;
            `Tests/SENSyncTests/Interchange/ImportFormatTests.swift` pins this file (regenerate with
            `SENSYNC_REGENERATE_FIXTURES=1 swift test --filter ImportFormatTests`).

            Every row of every kind also has **`\(upnHeading)`** (JSON `upn`: which pupil; required) and
            **`\(idHeading)`** (JSON `id`: the source's own id for the record; optional, but without
            it a record is matched by its values). Headings match whatever their case, spacing and
            punctuation, and a field's name or label is accepted too. A CSV file is named after its
            kind (either name in its section heading below) unless `--kind` says otherwise.

            """
        for kind in kinds {
            out +=
                "\n## \(kind.name) (`\(kind.name).csv` or `\(kind.plural.replacingOccurrences(of: " ", with: "_")).csv`)\n\n"
            out += "| CSV heading | JSON key | Value | Needed for a new record |\n|---|---|---|---|\n"
            for column in columns(of: kind) {
                let field = column.field
                let needed: String
                if column.isEntryDate {
                    needed = "no (default: the day of the import; a new pupil is enrolled at the school)"
                } else if let value = field.defaultValue {
                    // A school's own default (`here`) is none at the LA.
                    needed =
                        field.defaultValue(at: .la) == nil ? "yes at the LA; no at a school" : "no (default: \(value))"
                } else {
                    needed = field.isRequired ? "yes" : "no"
                }
                out += "| \(column.heading) | `\(column.key)` | \(accepted(column)) | \(needed) |\n"
            }
        }
        return out
    }

    /// A JSON Schema (2020-12) for one line of a JSON Lines import (`Schemas/import/line.schema.json`).
    public static func jsonSchema() throws -> String {
        var variants: [[String: Any]] = []
        for kind in kinds {
            var properties: [String: Any] = [
                kindKey: ["const": kind.name],
                idKey: [
                    "type": ["string", "integer"],
                    "description": "The source's own id for this record (a whole number is read as its digits).",
                ],
                "upn": ["type": "string", "description": "The pupil's UPN (13 characters)."],
            ]
            for column in columns(of: kind) {
                var property: [String: Any] = ["description": accepted(column)]
                switch column.field.rule {
                case .integer(let range) where column.references == nil:
                    property["type"] = ["integer", "string", "null"]
                    property["minimum"] = range.lowerBound
                    property["maximum"] = range.upperBound
                case .flag: property["type"] = ["boolean", "string", "null"]
                case .pence: property["type"] = ["number", "string", "null"]
                case .date:
                    property["type"] = ["string", "null"]
                    property["pattern"] = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
                case .text(let max):
                    property["type"] = ["string", "null"]
                    property["maxLength"] = max
                default: property["type"] = ["string", "null"]
                }
                properties[column.key] = property
            }
            variants.append([
                "title": kind.noun, "type": "object", "required": [kindKey, "upn"], "properties": properties,
                "additionalProperties": false,
            ])
        }
        variants.append([
            "title": "format line (optional, first)", "type": "object", "required": ["format", "version"],
            "properties": ["format": ["const": formatName], "version": ["const": version]],
            "additionalProperties": false,
        ])
        let schema: [String: Any] = [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://sensync.example/schemas/import/line-v\(version).json",
            "title": "One line of a SENSync JSON Lines import, version \(version)",
            "oneOf": variants,
        ]
        let data = try JSONSerialization.data(withJSONObject: schema, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
