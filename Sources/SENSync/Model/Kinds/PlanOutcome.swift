import Foundation

/// An outcome a plan seeks.
public enum PlanOutcome: RecordKind {
    public static let name = "plan_outcome"
    public static let number: UInt64 = 5
    public static let noun = "outcome"
    public static let parent: Field? = .planID

    public enum Field: String, KindField {
        case planID = "plan_id"
        case description
        case targetDate = "target_date"
        case status

        public var definition: FieldDefinition {
            switch self {
            case .planID: field("Plan", .reference("support_plan"), required: true)
            case .description: field("Outcome", .text(maxLength: 2000), required: true)
            case .targetDate: field("Target date", .date)
            case .status: field("Status", .code("outcome-status"), required: true, default: "open")
            }
        }
    }
}
