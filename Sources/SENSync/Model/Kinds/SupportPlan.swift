import Foundation

/// A support plan (assess, plan, do, review).
public enum SupportPlan: RecordKind {
    public static let name = "support_plan"
    public static let number: UInt64 = 4
    public static let noun = "plan"
    public static let orderedBy: Field? = .startDate

    public enum Field: String, KindField {
        case title, status
        case startDate = "start_date"
        case reviewDate = "review_date"
        case responsibleOrg = "responsible_org"
        case responsiblePerson = "responsible_person"
        case planType = "plan_type"
        case closedOn = "closed_on"

        public var definition: FieldDefinition {
            switch self {
            case .title: field("Title", .text(maxLength: 200), required: true, personal: true)
            case .status: field("Status", .code("plan-status"), required: true, default: "active")
            case .startDate: field("Start date", .date, required: true)
            case .reviewDate: field("Review date", .date, required: true)
            case .responsibleOrg: field("Responsible organisation", .text(maxLength: 200))
            case .responsiblePerson: field("Responsible person", .text(maxLength: 200), personal: true)
            case .planType: field("Plan type", .code("plan-type"), default: "sen-support")
            case .closedOn: field("Closed on", .date)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.startDate, .reviewDate)
        try record.requireOrder(Field.startDate, .closedOn)
        if record[Field.closedOn] != nil, let status = record.text(Field.status), status != "closed" {
            throw RecordRuleViolation(
                "A plan with a closed date is closed.", hint: "Give --status closed, or clear --closed-on.")
        }
    }
}
