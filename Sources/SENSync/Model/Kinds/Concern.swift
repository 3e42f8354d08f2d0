import Foundation

/// An early-identification concern: who noticed what, what was tried, what the family and the
/// pupil said, and where it went — so the time from first concern to SEN support is known.
public enum Concern: RecordKind {
    public static let name = "concern"
    public static let number: UInt64 = 9
    public static let noun = "concern"
    public static let orderedBy: Field? = .raisedOn
    /// What was seen titles it (its first text is who raised it).
    public static let titledBy: Field? = .observations

    public enum Field: String, KindField {
        case raisedOn = "raised_on"
        case raisedByRole = "raised_by_role"
        case raisedBy = "raised_by"
        case areas, observations
        case strategiesTried = "strategies_tried"
        case parentInformedOn = "parent_informed_on"
        case parentView = "parent_view"
        case pupilVoice = "pupil_voice"
        case reviewDate = "review_date"
        case status
        case closedOn = "closed_on"

        public var definition: FieldDefinition {
            switch self {
            case .raisedOn: field("Raised on", .date, required: true, past: true)
            case .raisedByRole: field("Raised by (role)", .code("staff-role"), required: true)
            case .raisedBy: field("Raised by", .text(maxLength: 200), personal: true)
            case .areas: field("Areas of need", .codes("broad-area-of-need"), required: true)
            case .observations: field("Observations", .text(maxLength: 20_000), required: true)
            case .strategiesTried: field("Strategies tried", .text(maxLength: 20_000))
            case .parentInformedOn: field("Parent informed on", .date, past: true)
            case .parentView: field("Parent's view", .text(maxLength: 20_000))
            case .pupilVoice: field("Pupil's voice", .text(maxLength: 20_000))
            case .reviewDate: field("Review date", .date)
            case .status: field("Status", .code("concern-status"), required: true, default: "open")
            case .closedOn: field("Closed on", .date, past: true)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.raisedOn, .parentInformedOn)
        try record.requireOrder(Field.raisedOn, .reviewDate)
        try record.requireOrder(Field.raisedOn, .closedOn)
    }
}
