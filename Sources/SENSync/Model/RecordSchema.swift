import Foundation

/// The type of a field's values on the wire.
public enum FieldType: String, Sendable {
    case text
    case integer
}

/// One replicated field of a table.
public struct FieldSpec: Sendable, Hashable {
    public var name: String
    public var type: FieldType
    /// The field's number on the wire: its position in the table (from 1), or 0 for the
    /// deletion marker. Fields are only appended, so numbers never change.
    public internal(set) var number: UInt64 = 0

    public init(_ name: String, _ type: FieldType = .text) {
        self.name = name
        self.type = type
    }
}

/// One replicated table: its fields and the rules the merge enforces for it.
public struct TableSpec: Sendable, Hashable {
    public var name: String
    /// The table's number on the wire. Never reused.
    public var number: UInt64
    /// Fields in schema order. Fields are only ever appended between releases.
    public var fields: [FieldSpec]
    /// Records can be created but never changed afterwards (notes).
    public var isAppendOnly: Bool

    public init(name: String, number: UInt64, fields: [FieldSpec], isAppendOnly: Bool = false) {
        self.name = name
        self.number = number
        self.isAppendOnly = isAppendOnly
        var numbered = fields
        for i in numbered.indices { numbered[i].number = UInt64(i + 1) }
        self.fields = isAppendOnly ? numbered : numbered + [FieldSpec(RecordState.deletedField, .integer)]
    }

    /// The field named `name`, if this schema knows it.
    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }

    /// The field numbered `number`, if this schema knows it.
    public func field(number: UInt64) -> FieldSpec? { fields.first { $0.number == number } }
}

/// The replicated record schema: every table and field a change may write.
///
/// Additive only: a release may add tables and fields, never rename, retype or remove one.
/// Changes that write a table or field this build does not know are kept, merged and forwarded
/// unchanged.
public enum RecordSchema {
    /// Bumped with every store migration (a table or field added, or a local table). Bundles carry it.
    public static let version: UInt16 = 8

    /// Every record kind this build knows, in wire-number order. A new kind is appended here.
    public static let kinds: [KindSpec] = [
        Pupil.spec, Enrolment.spec, Note.spec, SupportPlan.spec, PlanOutcome.spec, ProvisionItem.spec,
        PlanReview.spec, Erasure.spec, Concern.spec, ConcernAction.spec, Referral.spec, Escalation.spec,
        SENEpisode.spec, SENNeedRecord.spec, EHCAssessment.spec, EHCAdvice.spec, EHCException.spec, EHCPlan.spec,
        EHCSection.spec, EHCReview.spec, ReviewProgress.spec,
    ]

    /// The kind named `name` (its table name, or its noun).
    public static func kind(_ name: String) -> KindSpec? {
        if let exact = kindsByName[name] { return exact }
        let wanted = name.lowercased().replacingOccurrences(of: "-", with: "_")
        return kinds.first { $0.name == wanted } ?? kinds.first { $0.noun.lowercased() == name.lowercased() }
    }

    private static let kindsByName: [String: KindSpec] = Dictionary(uniqueKeysWithValues: kinds.map { ($0.name, $0) })

    public static let pupil = Pupil.spec.table
    public static let enrolment = Enrolment.spec.table
    public static let note = Note.spec.table
    public static let supportPlan = SupportPlan.spec.table
    public static let planOutcome = PlanOutcome.spec.table
    public static let provisionItem = ProvisionItem.spec.table
    public static let planReview = PlanReview.spec.table
    /// The proof that a pupil's personal content was erased everywhere: its id is the pupil's.
    public static let erasure = Erasure.spec.table

    /// Every table, in wire-number order.
    public static let tables: [TableSpec] = kinds.map(\.table)

    private static let byName: [String: TableSpec] = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
    private static let byNumber: [UInt64: TableSpec] = Dictionary(
        uniqueKeysWithValues: tables.map { ($0.number, $0) })

    /// The table named `name`, if this build knows it.
    public static func table(_ name: String) -> TableSpec? { byName[name] }

    /// The table numbered `number`, if this build knows it.
    public static func table(number: UInt64) -> TableSpec? { byNumber[number] }

    /// How a table or field this build does not know is named: `#` and its number.
    static func unknownName(_ number: UInt64) -> String { "#\(number)" }

    /// The number of an unknown table or field named by ``unknownName(_:)``.
    static func unknownNumber(_ name: String) -> UInt64? {
        guard name.first == "#" else { return nil }
        return UInt64(name.dropFirst())
    }

    /// A table's wire number, or `nil` for a name that is neither known nor `#n`.
    static func number(ofTable name: String) -> UInt64? { byName[name]?.number ?? unknownNumber(name) }

    /// A field's wire number in `table`, or `nil` for a name that is neither known nor `#n`.
    static func number(ofField field: String, inTable table: String) -> UInt64? {
        if field == RecordState.deletedField { return 0 }
        return byName[table]?.field(field)?.number ?? unknownNumber(field)
    }

    /// The name of table `number`: its schema name, or `#n`.
    static func tableName(_ number: UInt64) -> String { byNumber[number]?.name ?? unknownName(number) }

    /// The name of field `number` of `table`: its schema name, or `#n`.
    static func fieldName(_ number: UInt64, inTable table: String) -> String {
        if number == 0 { return RecordState.deletedField }
        return byName[table]?.field(number: number)?.name ?? unknownName(number)
    }
}
