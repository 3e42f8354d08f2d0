import Foundation

/// A referral to an outside agency, with the dates that make the wait measurable. The agency is
/// the responsible organisation once it accepts.
public enum Referral: RecordKind {
    public static let name = "referral"
    public static let number: UInt64 = 11
    public static let noun = "referral"
    public static let orderedBy: Field? = .referredOn

    public enum Field: String, KindField {
        case agency, reason
        case referredOn = "referred_on"
        case referredBy = "referred_by"
        case agencyContact = "agency_contact"
        case acceptedOn = "accepted_on"
        case declinedOn = "declined_on"
        case firstSeenOn = "first_seen_on"
        case closedOn = "closed_on"
        case outcome

        public var definition: FieldDefinition {
            switch self {
            case .agency: field("Agency", .code("referral-agency"), required: true)
            case .reason: field("Reason", .text(maxLength: 20_000), required: true)
            case .referredOn: field("Referred on", .date, required: true, past: true)
            case .referredBy: field("Referred by", .text(maxLength: 200), required: true, personal: true)
            case .agencyContact: field("Agency contact", .text(maxLength: 200), personal: true)
            case .acceptedOn: field("Accepted on", .date, past: true)
            case .declinedOn: field("Declined on", .date, past: true)
            case .firstSeenOn: field("First seen on", .date, past: true)
            case .closedOn: field("Closed on", .date, past: true)
            case .outcome: field("Outcome", .text(maxLength: 20_000))
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.referredOn, .acceptedOn)
        try record.requireOrder(Field.referredOn, .declinedOn)
        try record.requireOrder(Field.referredOn, .firstSeenOn)
        try record.requireOrder(Field.acceptedOn, .firstSeenOn)
        try record.requireOrder(Field.referredOn, .closedOn)
        try record.requireOrder(Field.acceptedOn, .closedOn)
        try record.requireOrder(Field.declinedOn, .closedOn)
        try record.requireOrder(Field.firstSeenOn, .closedOn)
        if record[Field.acceptedOn] != nil, record[Field.declinedOn] != nil {
            throw RecordRuleViolation(
                "A referral cannot be both accepted and declined.", hint: "Clear one of --accepted-on or --declined-on."
            )
        }
        if record[Field.declinedOn] != nil, record[Field.firstSeenOn] != nil {
            throw RecordRuleViolation("A declined referral has no first appointment.", hint: "Check --first-seen-on.")
        }
    }
}
