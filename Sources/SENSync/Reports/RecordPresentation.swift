import Foundation

/// How a record's values read to people: codes as their labels, sites and records by name, money
/// in pounds, dates as dates. Never a bare id where a name is known.
public struct RecordPresenter: Sendable {
    public var siteNames: [SiteID: String]
    /// How records another record refers to read (a provision item's plan): see ``naming(_:)``.
    public var recordLabels: [RecordID: String] = [:]

    public init(siteNames: [SiteID: String]) { self.siteNames = siteNames }

    /// This presenter, naming `records` wherever another record refers to one of them.
    public func naming(_ records: some Sequence<KindRecord>) -> RecordPresenter {
        var named = self
        for record in records { named.recordLabels[record.id] = Self.label(of: record) }
        return named
    }

    /// A record as a reference to it reads: its kind and the text that titles it (a plan's
    /// title, ``RecordKind/titledBy``), else the date it is ordered by, else its id.
    public static func label(of record: KindRecord) -> String {
        let noun = record.spec?.noun ?? record.kind
        if let field = record.spec?.titledBy, let text = record.values.text(field) {
            return "\(noun) \u{201C}\(text.count > 60 ? text.prefix(59) + "\u{2026}" : text)\u{201D}"
        }
        if let field = record.spec?.orderedBy, let date = record.values.text(field) { return "\(noun) of \(date)" }
        return "\(noun) \(record.id)"
    }

    /// `value` of `field`, for people.
    public func text(_ value: Value?, of field: FieldDefinition) -> String? {
        guard let value, !value.isNull else { return nil }
        switch (field.rule, value) {
        case (.code(let list), .text(let code)): return CodeLists.label(list, code)
        case (.codes(let list), .text(let codes)):
            let labels = codes.split(separator: ",").map { CodeLists.label(list, String($0)) }
            return labels.joined(separator: "; ")
        case (.pence, .integer(let pence)): return String(format: "£%.2f", Double(pence) / 100)
        case (.flag, .integer(let flag)): return flag != 0 ? "yes" : "no"
        case (.site, .text(let id)): return SiteID(id).flatMap { siteNames[$0] } ?? "another site"
        case (.reference(let table), .text(let id)):
            return RecordID(id).flatMap { recordLabels[$0] } ?? "\(RecordSchema.kind(table)?.noun ?? table) \(id)"
        case (_, .text(let text)): return text
        case (_, .integer(let n)): return String(n)
        case (_, .null): return nil
        }
    }

    /// Each field that has a value, as (label, text), in declaration order.
    public func lines(_ record: KindRecord) -> [(label: String, text: String)] {
        guard let spec = record.spec else { return [] }
        return spec.fields.compactMap { field in
            text(record.values[field.name], of: field).map { (field.label, $0) }
        }
    }
}

/// The JSON shape of any record: `kind`, `id`, `pupilId`, then each field by its camel-case name
/// (`referredOn`), null when unset.
extension KindRecord: Encodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(kind, forKey: Key("kind"))
        try container.encode(id.description, forKey: Key("id"))
        try container.encode(pupilID.description, forKey: Key("pupilId"))
        for field in spec?.fields ?? [] {
            switch values[field.name] {
            case .text(let text)?:
                if case .codes = field.rule {
                    try container.encode(text.split(separator: ",").map(String.init), forKey: Key(field.jsonKey))
                } else {
                    try container.encode(text, forKey: Key(field.jsonKey))
                }
            case .integer(let n)?:
                if case .flag = field.rule {
                    try container.encode(n != 0, forKey: Key(field.jsonKey))
                } else {
                    try container.encode(n, forKey: Key(field.jsonKey))
                }
            default: try container.encodeNil(forKey: Key(field.jsonKey))
            }
        }
        if !(spec?.isAppendOnly ?? true) { try container.encode(isDeleted, forKey: Key("deleted")) }
    }
}

extension RecordPresenter {
    /// A field write as people read it: its label and value (a field from a newer SENSync is named
    /// as such).
    public func describe(_ write: FieldWrite, in table: String) -> (label: String, text: String) {
        if write.field == RecordState.deletedField {
            return ("Deleted", write.value.integer == 1 ? "yes" : "no (restored)")
        }
        guard let field = RecordSchema.kind(table)?.field(write.field) else {
            return ("A field from a newer SENSync", write.value.isNull ? "cleared" : "set")
        }
        return (field.label, text(write.value, of: field) ?? "cleared")
    }

    /// What a table's records are called.
    public func noun(of table: String) -> String {
        RecordSchema.kind(table)?.noun ?? "record kept for a newer SENSync"
    }
}

/// A pupil's records of every kind, with each record's child records (a plan's outcomes) under it.
public struct RecordTree: Sendable {
    public struct Node: Sendable {
        public var record: KindRecord
        public var children: [Node]
    }

    /// Top-level records by kind, in `RecordSchema.kinds` order (kinds with no records left out).
    public var sections: [(kind: KindSpec, nodes: [Node])]

    /// Builds the tree: a record whose kind has a parent field hangs under the record it names.
    public init(records: [KindRecord], leaving excluded: Set<String> = []) {
        var byParent: [String: [KindRecord]] = [:]
        var roots: [String: [KindRecord]] = [:]
        for record in records where !excluded.contains(record.kind) {
            if let spec = record.spec, let parent = spec.parent, let id = record.values.text(parent) {
                byParent[id, default: []].append(record)
            } else {
                roots[record.kind, default: []].append(record)
            }
        }
        func node(_ record: KindRecord) -> Node {
            Node(record: record, children: (byParent[record.id.description] ?? []).map(node))
        }
        sections = RecordSchema.kinds.compactMap { kind in
            guard let records = roots[kind.name], !records.isEmpty else { return nil }
            return (kind, records.map(node))
        }
    }
}
