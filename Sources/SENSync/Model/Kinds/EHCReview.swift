import Foundation

/// An annual review of an EHC plan: the meeting, the LA's decision (SEN2 A, C or M, within 4 weeks)
/// and the amended plan (within 12 weeks of the meeting).
public enum EHCReview: RecordKind {
    public static let name = "ehc_review"
    public static let number: UInt64 = 20
    public static let noun = "annual review"
    public static let owner = KindOwner.localAuthority
    public static let parent: Field? = .planID
    public static let orderedBy: Field? = .meetingOn
    public static let datedBy: [Field: Field] = [.outcome: .decidedOn]

    public enum Field: String, KindField {
        case planID = "plan_id"
        case meetingOn = "meeting_on"
        case outcome
        case decidedOn = "decided_on"
        case amendedIssuedOn = "amended_issued_on"

        public var definition: FieldDefinition {
            switch self {
            case .planID: field("EHC plan", .reference("ehc_plan"), required: true)
            case .meetingOn: field("Meeting on", .date, required: true, past: true, sen2: "ReviewMeeting")
            case .outcome: field("Decision", .code("ehc-review-outcome"), sen2: "ReviewOutcome")
            case .decidedOn: field("Decided on", .date, past: true)
            case .amendedIssuedOn: field("Amended plan issued on", .date, past: true)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.meetingOn, .decidedOn)
        try record.requireOrder(Field.meetingOn, .amendedIssuedOn)
        if record[Field.outcome] != nil, record[Field.decidedOn] == nil {
            throw RecordRuleViolation("The LA's decision needs its date.", hint: "Give --decided-on.")
        }
        if record[Field.amendedIssuedOn] != nil, record.text(Field.outcome) != "A" {
            throw RecordRuleViolation(
                "Only a decision to amend (A) leads to an amended plan.", hint: "Check --outcome.")
        }
    }
}
