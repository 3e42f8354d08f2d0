import Foundation

/// Progress towards one outcome, as judged at a plan review.
public enum ReviewProgress: RecordKind {
    public static let name = "review_progress"
    public static let number: UInt64 = 21
    public static let noun = "outcome progress"
    public static let plural = "outcome progress"
    public static let parent: Field? = .reviewID

    public enum Field: String, KindField {
        case reviewID = "review_id"
        case outcomeID = "outcome_id"
        case progress, comment

        public var definition: FieldDefinition {
            switch self {
            case .reviewID: field("Review", .reference("plan_review"), required: true)
            case .outcomeID: field("Outcome", .reference("plan_outcome"), required: true)
            case .progress: field("Progress", .code("outcome-status"), required: true)
            case .comment: field("Comment", .text(maxLength: 2000))
            }
        }
    }
}
