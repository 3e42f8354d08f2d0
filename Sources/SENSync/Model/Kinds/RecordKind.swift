import Foundation

/// How a field's values are checked and stored.
public enum FieldRule: Sendable, Hashable {
    /// Free text of at most `maxLength` characters, trimmed; never empty.
    case text(maxLength: Int)
    /// A calendar date, `YYYY-MM-DD`.
    case date
    /// One code from a code list in `Schemas/codes/`.
    case code(String)
    /// Several codes from a code list, comma-separated, each at most once.
    case codes(String)
    /// A whole number in a range.
    case integer(ClosedRange<Int64>)
    /// Money: given in pounds (`450.00`), stored in pence.
    case pence
    /// Yes or no, stored as 1 or 0.
    case flag
    /// Another record of the same pupil, of the named kind: its id.
    case reference(String)
    /// A site of the area: its id (a name or id is accepted).
    case site

    /// The type of the field's values on the wire and in the store.
    public var wireType: FieldType {
        switch self {
        case .integer, .pence, .flag: .integer
        default: .text
        }
    }
}

/// The names a field has in the formats SENSync reads and writes, where it has one.
public struct InterchangeNames: Sendable, Hashable {
    public var csv: String?
    public var ctf: String?
    public var census: String?
    public var sen2: String?

    public init(csv: String? = nil, ctf: String? = nil, census: String? = nil, sen2: String? = nil) {
        self.csv = csv
        self.ctf = ctf
        self.census = census
        self.sen2 = sen2
    }
}

/// Everything SENSync knows about one field of a record kind.
public struct FieldDefinition: Sendable, Hashable {
    /// The field's name: its column in the store, its key in bundles and its option on the command
    /// line (`referred_on` is `--referred-on`).
    public let name: String
    /// What people call it.
    public let label: String
    public let rule: FieldRule
    /// Must be given when a record is created.
    public let isRequired: Bool
    /// Set by the library (an author, a timestamp, a status a command moves on): never by a flag.
    public let isSystem: Bool
    /// What a new record gets when the field is not given (as a person would type it).
    public let defaultValue: String?
    public let interchange: InterchangeNames
    /// The field holds personal data that a pseudonymised export leaves out: it identifies a
    /// person (a pupil's UPN, names or date of birth; a member of staff or a family member by
    /// name), or it is free text (``FieldRule/text(maxLength:)`` longer than
    /// ``FieldDefinition/freeTextLength``: notes, observations, views, summaries), which may say
    /// anything about anyone. Declared with `personal: true`; free text is personal whatever the
    /// declaration says, so a new note-like field is never exported by mistake.
    public let isPersonal: Bool
    /// A date field holding the day something happened (a concern raised, a review held): never
    /// after the day it is recorded. Declared with `past: true`; dates ahead (a review date, a
    /// due date) are not.
    public let isPastDate: Bool

    /// The default where a site of `kind` writes the record: a site field's default `here` means
    /// the school writing it, so a trust or the LA has none (it names the school).
    public func defaultValue(at kind: SiteKind) -> String? {
        if case .site = rule, defaultValue == "here", !kind.isSchool { return nil }
        return defaultValue
    }

    /// Text fields longer than this are free text, and so personal (``isPersonal``).
    public static let freeTextLength = 200

    public init(
        name: String, label: String, rule: FieldRule, isRequired: Bool = false, isSystem: Bool = false,
        defaultValue: String? = nil, interchange: InterchangeNames = InterchangeNames(), isPersonal: Bool = false,
        isPastDate: Bool = false
    ) {
        self.name = name
        self.isPastDate = isPastDate
        self.label = label
        self.rule = rule
        self.isRequired = isRequired
        self.isSystem = isSystem
        self.defaultValue = defaultValue
        self.interchange = interchange
        if case .text(let maxLength) = rule, maxLength > Self.freeTextLength {
            self.isPersonal = true
        } else {
            self.isPersonal = isPersonal
        }
    }

    /// The name people give the field by (an option, an import key): the field's name, except
    /// that an amount kept in pence (`cost_pence`) is given in pounds, so its name does not say
    /// pence (`cost`): `--cost-pence 450` would read as £4.50 and be kept as £450.
    public var personName: String {
        guard case .pence = rule, name.hasSuffix("_pence"), name.count > 6 else { return name }
        return String(name.dropLast(6))
    }

    /// A date field as a sentence names it: "Raised on" is "the date raised", "Review date" is
    /// "the review date".
    public var dateName: String {
        let label = label.lowercased()
        return label.hasSuffix(" on") ? "date \(label.dropLast(3))" : label
    }

    /// The command-line option: `--referred-on` (`--cost` for `cost_pence`: ``personName``).
    public var option: String { "--" + personName.replacingOccurrences(of: "_", with: "-") }

    /// The key in a JSON Lines import: `referredOn` (`cost` for `cost_pence`: ``personName``).
    public var inputKey: String { Self.camelCase(personName) }

    /// The key in JSON output: `referredOn` (`costPence` for `cost_pence`: output gives pence).
    public var jsonKey: String { Self.camelCase(name) }

    private static func camelCase(_ name: String) -> String {
        let parts = name.split(separator: "_")
        return (parts.first.map(String.init) ?? "")
            + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
    }
}

/// A field of a record kind: a typed key whose raw value is the field's name.
public protocol KindField: RawRepresentable, CaseIterable, Hashable, Sendable where RawValue == String {
    /// The field's label, rule and interchange names.
    var definition: FieldDefinition { get }
}

extension KindField {
    /// Declares this field. `personal: true` marks a field that identifies a person
    /// (``FieldDefinition/isPersonal``); `past: true` a date of something that has happened
    /// (``FieldDefinition/isPastDate``).
    public func field(
        _ label: String, _ rule: FieldRule, required: Bool = false, system: Bool = false, default value: String? = nil,
        personal: Bool = false, past: Bool = false, csv: String? = nil, ctf: String? = nil, census: String? = nil,
        sen2: String? = nil
    ) -> FieldDefinition {
        FieldDefinition(
            name: rawValue, label: label, rule: rule, isRequired: required, isSystem: system, defaultValue: value,
            interchange: InterchangeNames(csv: csv, ctf: ctf, census: census, sen2: sen2), isPersonal: personal,
            isPastDate: past)
    }
}

/// Which sites may write records of a kind.
public enum KindOwner: String, Sendable, Hashable {
    /// Any site entitled to the pupil.
    case anySite
    /// Only the local authority (statutory EHC work).
    case localAuthority
}

/// A rule that a record's fields broke, in words a SENCO can act on.
public struct RecordRuleViolation: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var hint: String?
    /// The field to correct, when the rule names one (the later of two dates out of order): an
    /// import names its column, where a command names its option in ``hint``.
    public var field: String?

    public init(_ message: String, hint: String? = nil, field: String? = nil) {
        self.message = message
        self.hint = hint
        self.field = field
    }

    public var description: String { hint.map { "\(message) \($0)" } ?? message }
}

/// A record's current values by field name, as a kind's rules see them.
public struct KindValues: Sendable, Hashable {
    public var values: [String: Value]

    public init(_ values: [String: Value] = [:]) { self.values = values }

    public subscript(_ name: String) -> Value? {
        get { values[name].flatMap { $0.isNull ? nil : $0 } }
        set { values[name] = newValue }
    }

    public func text(_ name: String) -> String? { self[name]?.text }
    public func date(_ name: String) -> CalendarDate? { text(name).flatMap(CalendarDate.init) }
    public func integer(_ name: String) -> Int64? { self[name]?.integer }

    public subscript<F: KindField>(_ field: F) -> Value? { self[field.rawValue] }
    public func text<F: KindField>(_ field: F) -> String? { text(field.rawValue) }
    public func date<F: KindField>(_ field: F) -> CalendarDate? { date(field.rawValue) }
    public func integer<F: KindField>(_ field: F) -> Int64? { integer(field.rawValue) }

    /// A date field as a sentence names it: "entry date", or for a label that does not say it is
    /// a date, "\"first seen on\" date".
    private static func dateName(_ field: some KindField) -> String {
        let label = field.definition.label.lowercased()
        return label.contains("date") ? label : "\"\(label)\" date"
    }

    /// Requires `later` not to be before `earlier` when both are set.
    public func requireOrder<F: KindField>(_ earlier: F, _ later: F) throws(RecordRuleViolation) {
        guard let a = date(earlier), let b = date(later) else { return }
        guard a <= b else {
            throw RecordRuleViolation(
                // No dates in the message: it may be about a row of someone's file (README, import).
                "The \(Self.dateName(later)) is before the \(Self.dateName(earlier)).",
                hint: "Check \(later.definition.option) and \(earlier.definition.option).", field: later.rawValue)
        }
    }
}

/// A kind of record SENSync keeps about a pupil: one declaration from which the store's table, the
/// wire numbers, validation, reads, generic writes, `pupil show` and the JSON shapes are derived.
///
/// To add a kind: declare it in `Model/Kinds/`, add it to ``RecordSchema/kinds``, print its
/// table with `swift run sensync-schema ddl KIND` into a new migration in `StoreSchema`, and
/// regenerate the pinned schema (see the README).
public protocol RecordKind: Sendable {
    associatedtype Field: KindField
    /// The table's name in the store and in bundles.
    static var name: String { get }
    /// The table's number on the wire. Never reused.
    static var number: UInt64 { get }
    /// What one record is called ("referral").
    static var noun: String { get }
    /// What several are called ("referrals").
    static var plural: String { get }
    /// Records are never changed once made (notes, erasures).
    static var isAppendOnly: Bool { get }
    static var owner: KindOwner { get }
    /// The field naming the record this one belongs to (a plan's outcome names its plan), if any.
    static var parent: Field? { get }
    /// The date field records are listed by, oldest first.
    static var orderedBy: Field? { get }
    /// The text a reference to a record reads by (a plan's title: `plan “Reading”`); by default
    /// the first text field. `nil` when no text titles it (an EHC plan's first text is its case
    /// officer's name), so a reference reads by ``orderedBy`` (`EHC plan of 2026-03-02`).
    static var titledBy: Field? { get }
    /// Fields set together with a date of something that happened (a decision with the day it was
    /// made), by field: as of a day before that date the field was not set yet either.
    static var datedBy: [Field: Field] { get }
    /// Rules across fields (dates in order), checked on every local write against the record as it
    /// will be.
    static func check(_ record: KindValues) throws(RecordRuleViolation)
}

extension RecordKind {
    public static var plural: String { noun + "s" }
    public static var isAppendOnly: Bool { false }
    public static var owner: KindOwner { .anySite }
    public static var parent: Field? { nil }
    public static var orderedBy: Field? { nil }
    public static var datedBy: [Field: Field] { [:] }
    public static var titledBy: Field? {
        Field.allCases.first { field in
            if case .text = field.definition.rule { true } else { false }
        }
    }
    public static func check(_ record: KindValues) throws(RecordRuleViolation) {}

    /// The kind as a value.
    public static var spec: KindSpec {
        KindSpec(
            name: name, number: number, noun: noun, plural: plural, fields: Field.allCases.map(\.definition),
            isAppendOnly: isAppendOnly, owner: owner, parent: parent?.rawValue, orderedBy: orderedBy?.rawValue,
            titledBy: titledBy?.rawValue,
            datedBy: Dictionary(uniqueKeysWithValues: datedBy.map { ($0.key.rawValue, $0.value.rawValue) }),
            check: { values throws(RecordRuleViolation) in try check(values) })
    }
}

/// A record kind as a value: what generic code (the store, the commands, `pupil show`) works with.
public struct KindSpec: Sendable, CustomStringConvertible {
    public let name: String
    public let number: UInt64
    public let noun: String
    public let plural: String
    /// The declared fields, in wire order (fields are only appended).
    public let fields: [FieldDefinition]
    public let isAppendOnly: Bool
    public let owner: KindOwner
    public let parent: String?
    public let orderedBy: String?
    public let titledBy: String?
    /// ``RecordKind/datedBy``, by field name.
    public let datedBy: [String: String]
    let check: @Sendable (KindValues) throws(RecordRuleViolation) -> Void

    public var description: String { name }

    /// The noun with its indefinite article: "a referral", "an escalation", "an EHC plan".
    public var nounWithArticle: String { Self.withArticle(noun) }

    /// The key a list of these records has in JSON output, the plural in lower camel case like
    /// every other key: `referrals`, `ehcNeedsAssessments`, `outcomeProgress` (it was the plural
    /// with underscores: `EHC_needs_assessments`).
    public var pluralKey: String {
        let words = plural.split(separator: " ").map(String.init)
        return (words.first?.lowercased() ?? "")
            + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The kind as the command line names it: `support-plan` (`sensync support-plan add`).
    public var commandName: String { name.replacingOccurrences(of: "_", with: "-") }

    /// `noun` with its indefinite article ("an" before a vowel: "an EHC plan").
    static func withArticle(_ noun: String) -> String {
        (noun.first.map { "aeiouAEIOU".contains($0) } == true ? "an " : "a ") + noun
    }

    /// The declared field named `name`.
    public func field(_ name: String) -> FieldDefinition? { fields.first { $0.name == name } }

    /// The declared field people name `name` (``FieldDefinition/personName``: `cost` for
    /// `cost_pence`).
    public func fieldNamedByPeople(_ name: String) -> FieldDefinition? { fields.first { $0.personName == name } }

    /// Whether any field is the date of something that happened (``FieldDefinition/isPastDate``).
    public var hasPastDates: Bool { fields.contains(where: \.isPastDate) }

    /// The replicated table: the declared fields, then the deletion marker (unless append-only).
    public var table: TableSpec {
        TableSpec(
            name: name, number: number, fields: fields.map { FieldSpec($0.name, $0.rule.wireType) },
            isAppendOnly: isAppendOnly)
    }

    /// Checks the rules across fields.
    public func checkRules(_ values: KindValues) throws(RecordRuleViolation) { try check(values) }

    /// The `CREATE TABLE` statement for this kind's readable table and its index on `id`, for a new
    /// migration. Migrations keep the printed SQL, never a call to this.
    public var createTableSQL: String {
        var lines = ["  pupil_id TEXT NOT NULL,", "  id TEXT NOT NULL,"]
        for field in table.fields {
            if field.name == RecordState.deletedField {
                lines.append("  deleted INTEGER NOT NULL DEFAULT 0,")
            } else {
                lines.append("  \(field.name) \(field.type == .integer ? "INTEGER" : "TEXT"),")
            }
        }
        lines.append("  crdt_clock BLOB NOT NULL,")
        lines.append("  PRIMARY KEY (pupil_id, id)")
        return "CREATE TABLE \(name) (\n\(lines.joined(separator: "\n"))\n) WITHOUT ROWID;\n"
            + "CREATE INDEX \(name)_by_id ON \(name)(id);"
    }

    /// `ALTER TABLE … ADD COLUMN` statements for fields declared after `existing` (the table's
    /// columns in an older migration).
    public func addColumnsSQL(after existing: [String]) -> [String] {
        fields.filter { !existing.contains($0.name) }.map {
            "ALTER TABLE \(name) ADD COLUMN \($0.name) \($0.rule.wireType == .integer ? "INTEGER" : "TEXT");"
        }
    }
}
