import Foundation

/// An EHC plan (LA only): issued, reviewed at least every 12 months (3 to 6 months under five),
/// ceased.
public enum EHCPlan: RecordKind {
    public static let name = "ehc_plan"
    public static let number: UInt64 = 18
    public static let noun = "EHC plan"
    public static let owner = KindOwner.localAuthority
    public static let orderedBy: Field? = .issuedOn
    /// Its only text is the case officer's name: a reference reads by its date.
    public static let titledBy: Field? = nil

    public enum Field: String, KindField {
        case assessmentID = "assessment_id"
        case issuedOn = "issued_on"
        case caseOfficer = "case_officer"
        case phaseTransferYear = "phase_transfer_year"
        case phaseTransferToPost16 = "phase_transfer_to_post16"
        case ceasedOn = "ceased_on"

        public var definition: FieldDefinition {
            switch self {
            case .assessmentID: field("Assessment", .reference("ehc_assessment"))
            case .issuedOn: field("Issued on", .date, required: true, past: true, sen2: "StartDate")
            case .caseOfficer: field("Case officer", .text(maxLength: 200), personal: true)
            case .phaseTransferYear: field("Phase transfer year", .integer(2000...2100))
            case .phaseTransferToPost16: field("Phase transfer is to post-16", .flag)
            case .ceasedOn: field("Ceased on", .date, sen2: "CeaseDate")
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.issuedOn, .ceasedOn)
    }
}
