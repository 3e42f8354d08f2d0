import Foundation

/// A review of a support plan.
public enum PlanReview: RecordKind {
    public static let name = "plan_review"
    public static let number: UInt64 = 7
    public static let noun = "review"
    public static let parent: Field? = .planID
    public static let orderedBy: Field? = .heldOn

    public enum Field: String, KindField {
        case planID = "plan_id"
        case heldOn = "held_on"
        case summary, decision
        case nextReviewDate = "next_review_date"
        case attendees
        case parentView = "parent_view"
        case pupilView = "pupil_view"
        case progress

        public var definition: FieldDefinition {
            switch self {
            case .planID: field("Plan", .reference("support_plan"), required: true)
            case .heldOn: field("Held on", .date, required: true, past: true)
            case .summary: field("Summary", .text(maxLength: 20_000), required: true)
            case .decision: field("Decision", .code("review-decision"), required: true)
            case .nextReviewDate: field("Next review", .date)
            case .attendees: field("Attendees", .text(maxLength: 2000))
            case .parentView: field("Parent's view", .text(maxLength: 20_000))
            case .pupilView: field("Pupil's view", .text(maxLength: 20_000))
            case .progress: field("Progress against outcomes", .text(maxLength: 20_000))
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.heldOn, .nextReviewDate)
    }
}
