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

    public init(_ name: String, _ type: FieldType = .text) {
        self.name = name
        self.type = type
    }
}

/// One replicated table: its fields and the rules the merge enforces for it.
public struct TableSpec: Sendable, Hashable {
    public var name: String
    /// Fields in schema order. Fields are only ever appended between releases.
    public var fields: [FieldSpec]
    /// Records can be created but never changed afterwards (notes).
    public var isAppendOnly: Bool

    public init(name: String, fields: [FieldSpec], isAppendOnly: Bool = false) {
        self.name = name
        self.isAppendOnly = isAppendOnly
        self.fields = isAppendOnly ? fields : fields + [FieldSpec(RecordState.deletedField, .integer)]
    }

    /// The field named `name`, if this schema knows it.
    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }
}

/// The replicated record schema: every table and field a change may write.
///
/// Additive only: a release may add tables and fields, never rename, retype or remove one.
/// Changes that write a table or field this build does not know are kept, merged and forwarded
/// unchanged.
public enum RecordSchema {
    /// Bumped whenever a table or field is added. Bundles carry it.
    public static let version: UInt16 = 2

    public static let pupil = TableSpec(
        name: "pupil",
        fields: [
            FieldSpec("upn"), FieldSpec("forename"), FieldSpec("surname"), FieldSpec("date_of_birth"),
            FieldSpec("year_group", .integer), FieldSpec("sen_status"), FieldSpec("sen_needs"),
        ])

    public static let enrolment = TableSpec(
        name: "enrolment",
        fields: [FieldSpec("school_id"), FieldSpec("entry_date"), FieldSpec("leaving_date")])

    public static let note = TableSpec(
        name: "note",
        fields: [
            FieldSpec("text"), FieldSpec("area"), FieldSpec("amends_note_id"), FieldSpec("recorded_at"),
            FieldSpec("recorded_by"),
        ],
        isAppendOnly: true)

    public static let supportPlan = TableSpec(
        name: "support_plan",
        fields: [
            FieldSpec("title"), FieldSpec("status"), FieldSpec("start_date"), FieldSpec("review_date"),
            FieldSpec("responsible_org"), FieldSpec("responsible_person"),
        ])

    public static let planOutcome = TableSpec(
        name: "plan_outcome",
        fields: [FieldSpec("plan_id"), FieldSpec("description"), FieldSpec("target_date"), FieldSpec("status")])

    public static let provisionItem = TableSpec(
        name: "provision_item",
        fields: [
            FieldSpec("plan_id"), FieldSpec("description"), FieldSpec("provider"), FieldSpec("frequency"),
            FieldSpec("responsible_org"), FieldSpec("responsible_person"), FieldSpec("cost_pence", .integer),
        ])

    public static let planReview = TableSpec(
        name: "plan_review",
        fields: [
            FieldSpec("plan_id"), FieldSpec("held_on"), FieldSpec("summary"), FieldSpec("decision"),
            FieldSpec("next_review_date"),
        ])

    /// The proof that a pupil's personal content was erased everywhere: its id is the pupil's.
    public static let erasure = TableSpec(
        name: "erasure",
        fields: [FieldSpec("reason"), FieldSpec("erased_on"), FieldSpec("erased_by")],
        isAppendOnly: true)

    /// Every table, in a fixed order.
    public static let tables: [TableSpec] = [
        pupil, enrolment, note, supportPlan, planOutcome, provisionItem, planReview, erasure,
    ]

    private static let byName: [String: TableSpec] = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })

    /// The table named `name`, if this build knows it.
    public static func table(_ name: String) -> TableSpec? { byName[name] }
}
