import Foundation

/// An EHC needs assessment (LA only): from the request to the final plan or a decision not to
/// issue one. The statutory deadlines follow from these dates (see ``StatutoryClock``).
public enum EHCAssessment: RecordKind {
    public static let name = "ehc_assessment"
    public static let number: UInt64 = 15
    public static let noun = "EHC needs assessment"
    public static let owner = KindOwner.localAuthority
    public static let orderedBy: Field? = .requestReceivedOn
    /// Its only text is the case officer's name: a reference reads by its date.
    public static let titledBy: Field? = nil
    public static let datedBy: [Field: Field] = [.decision: .decidedOn]

    public enum Field: String, KindField {
        case requestReceivedOn = "request_received_on"
        case requestSource = "request_source"
        case isReassessment = "is_reassessment"
        case caseOfficer = "case_officer"
        case decision
        case decidedOn = "decided_on"
        case noPlanOn = "no_plan_on"
        case draftServedOn = "draft_served_on"
        case finalIssuedOn = "final_issued_on"
        case withdrawnOn = "withdrawn_on"

        public var definition: FieldDefinition {
            switch self {
            case .requestReceivedOn:
                field("Request received on", .date, required: true, past: true, sen2: "ReceivedDate")
            case .requestSource:
                field("Request from", .code("ehc-request-source"), required: true, sen2: "RequestSource")
            case .isReassessment: field("Re-assessment", .flag)
            case .caseOfficer: field("Case officer", .text(maxLength: 200), personal: true)
            case .decision: field("Decision whether to assess", .code("ehc-decision"), sen2: "RequestOutcome")
            case .decidedOn: field("Decided on", .date, past: true, sen2: "RequestOutcomeDate")
            case .noPlanOn: field("Decided not to issue a plan on", .date, past: true)
            case .draftServedOn: field("Draft plan served on", .date, past: true)
            case .finalIssuedOn: field("Final plan issued on", .date, past: true, sen2: "StartDate")
            case .withdrawnOn: field("Withdrawn on", .date, past: true)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.requestReceivedOn, .decidedOn)
        // Each later step too, when the steps before it are not recorded (a draft served on a
        // day before the request was received was accepted).
        try record.requireOrder(Field.requestReceivedOn, .noPlanOn)
        try record.requireOrder(Field.requestReceivedOn, .draftServedOn)
        try record.requireOrder(Field.decidedOn, .noPlanOn)
        try record.requireOrder(Field.decidedOn, .draftServedOn)
        try record.requireOrder(Field.draftServedOn, .finalIssuedOn)
        try record.requireOrder(Field.requestReceivedOn, .finalIssuedOn)
        // Withdrawn before the request was received (a day the request did not exist yet).
        try record.requireOrder(Field.requestReceivedOn, .withdrawnOn)
        if record.text(Field.decision) == "A" {
            // SEN2's "decision yet to be made" is what a request with no decision reads as: recorded
            // as a decision, with a date, it counted as made on time and ended the 6-week duty.
            throw RecordRuleViolation(
                "A (decision yet to be made) is not a decision: until the LA decides, leave the decision out (SEN2 then reads A).",
                hint: "Record the decision (Y, N or W) with --decided-on once it is made.",
                field: Field.decision.rawValue)
        }
        if let served = record.date(Field.draftServedOn), let final = record.date(Field.finalIssuedOn),
            final < StatutoryClock.earliestFinalPlan(draftServedOn: served)
        {
            throw RecordRuleViolation(
                "The family has at least 15 days, beginning with the day the draft was served, to comment: the final plan cannot be issued before \(StatutoryClock.earliestFinalPlan(draftServedOn: served)).",
                hint: "SEND Regulations 2014 reg 13(1). Check --final-issued-on.")
        }
        if record.integer(Field.isReassessment) != 1, record[Field.decision] != nil, record[Field.decidedOn] == nil {
            throw RecordRuleViolation("A decision whether to assess needs its date.", hint: "Give --decided-on.")
        }
        if record.text(Field.decision) == "N", record[Field.draftServedOn] != nil || record[Field.finalIssuedOn] != nil
        {
            throw RecordRuleViolation(
                "The LA decided not to assess, so there is no draft or final plan.", hint: "Check --decision.")
        }
        if record[Field.noPlanOn] != nil, record[Field.finalIssuedOn] != nil {
            throw RecordRuleViolation(
                "An assessment ends either with a decision not to issue a plan or with a final plan, not both.")
        }
    }
}
