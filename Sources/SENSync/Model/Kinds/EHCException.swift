import Foundation

/// An exception to a statutory time limit (regs 5(4), 8(2), 10(4), 13(3), 27(3)), recorded as data
/// so timeliness is reported both with and without exceptions.
public enum EHCException: RecordKind {
    public static let name = "ehc_exception"
    public static let number: UInt64 = 17
    public static let noun = "exception"
    public static let owner = KindOwner.localAuthority
    public static let parent: Field? = .assessmentID
    public static let orderedBy: Field? = .fromDate

    public enum Field: String, KindField {
        case assessmentID = "assessment_id"
        case step, reason
        case fromDate = "from_date"
        case toDate = "to_date"
        case detail

        public var definition: FieldDefinition {
            switch self {
            case .assessmentID: field("Assessment", .reference("ehc_assessment"), required: true)
            case .step: field("Deadline it applies to", .code("ehc-step"), required: true)
            case .reason: field("Reason", .code("ehc-exception"), required: true)
            case .fromDate: field("From", .date, required: true)
            case .toDate: field("To", .date)
            case .detail: field("Detail", .text(maxLength: 2000))
            }
        }
    }

    /// Reasons that are exceptions only when they last 4 continuous weeks or more: the child or
    /// family away from the area, a school or early years setting closed (regs 5(4), 10(4), 13(3)).
    public static let fourWeekReasons: Set<String> = ["away-from-area", "school-closure", "early-years-closure"]

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.fromDate, .toDate)
        if let reason = record.text(Field.reason), fourWeekReasons.contains(reason),
            let from = record.date(Field.fromDate), let to = record.date(Field.toDate),
            to.daysSinceEpoch - from.daysSinceEpoch + 1 < 28
        {
            throw RecordRuleViolation(
                "This exception applies only to an absence or closure of 4 weeks or more (regs 5(4), 10(4), 13(3)); \(from) to \(to) is \(to.daysSinceEpoch - from.daysSinceEpoch + 1) days.",
                hint: "Check --from-date and --to-date (the first and last day), or use another reason.")
        }
        if record.text(Field.reason) == "missed-appointment", let step = record.text(Field.step), step != "advice" {
            throw RecordRuleViolation(
                "A missed appointment is an exception only to the advice deadline (reg 8(2)).",
                hint: "Use --step advice.")
        }
        if record.text(Field.step) == "advice", record.text(Field.reason)?.hasSuffix("closure") == true {
            throw RecordRuleViolation(
                "A school or setting closure is not an exception to the advice deadline (reg 8(2)).",
                hint: "Use personal-circumstances, away-from-area or missed-appointment.")
        }
    }
}
