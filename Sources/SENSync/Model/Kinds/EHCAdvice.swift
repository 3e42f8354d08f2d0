import Foundation

/// Advice the LA asked an agency for during an assessment (due within 6 weeks: reg 8).
public enum EHCAdvice: RecordKind {
    public static let name = "ehc_advice"
    public static let number: UInt64 = 16
    public static let noun = "advice request"
    public static let owner = KindOwner.localAuthority
    public static let parent: Field? = .assessmentID
    public static let orderedBy: Field? = .requestedOn

    public enum Field: String, KindField {
        case assessmentID = "assessment_id"
        case agency
        case requestedOn = "requested_on"
        case receivedOn = "received_on"

        public var definition: FieldDefinition {
            switch self {
            case .assessmentID: field("Assessment", .reference("ehc_assessment"), required: true)
            case .agency: field("Agency", .code("referral-agency"), required: true)
            case .requestedOn: field("Requested on", .date, required: true, past: true)
            case .receivedOn: field("Received on", .date, past: true)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.requestedOn, .receivedOn)
    }
}
