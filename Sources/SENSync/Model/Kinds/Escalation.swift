import Foundation

/// A family's complaint or appeal, at one stage of the redress route.
public enum Escalation: RecordKind {
    public static let name = "escalation"
    public static let number: UInt64 = 12
    public static let noun = "escalation"
    public static let orderedBy: Field? = .openedOn
    /// What it is about titles it (its first text is who raised it).
    public static let titledBy: Field? = .summary

    public enum Field: String, KindField {
        case stage
        case openedOn = "opened_on"
        case raisedBy = "raised_by"
        case summary
        case responseDueOn = "response_due_on"
        case respondingOrg = "responding_org"
        case outcome
        case closedOn = "closed_on"

        public var definition: FieldDefinition {
            switch self {
            case .stage: field("Stage", .code("escalation-stage"), required: true)
            case .openedOn: field("Opened on", .date, required: true, past: true)
            case .raisedBy: field("Raised by", .text(maxLength: 200), required: true, personal: true)
            case .summary: field("Summary", .text(maxLength: 20_000), required: true)
            case .responseDueOn: field("Response due on", .date)
            case .respondingOrg: field("Responding organisation", .text(maxLength: 200), required: true)
            case .outcome: field("Outcome", .text(maxLength: 20_000))
            case .closedOn: field("Closed on", .date, past: true)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.openedOn, .responseDueOn)
        try record.requireOrder(Field.openedOn, .closedOn)
    }
}
