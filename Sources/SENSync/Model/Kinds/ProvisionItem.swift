import Foundation

/// A provision item: what is delivered, how often, by whom, at what cost, who is responsible.
public enum ProvisionItem: RecordKind {
    public static let name = "provision_item"
    public static let number: UInt64 = 6
    public static let noun = "provision"
    public static let plural = "provision"
    public static let parent: Field? = .planID

    public enum Field: String, KindField {
        case planID = "plan_id"
        case description, provider, frequency
        case responsibleOrg = "responsible_org"
        case responsiblePerson = "responsible_person"
        case costPence = "cost_pence"
        case sessionsPerWeek = "sessions_per_week"
        case minutesPerSession = "minutes_per_session"
        case weeksPerYear = "weeks_per_year"
        case groupSize = "group_size"
        case staffRole = "staff_role"
        case outcomeID = "outcome_id"

        public var definition: FieldDefinition {
            switch self {
            case .planID: field("Plan", .reference("support_plan"), required: true)
            case .description: field("Provision", .text(maxLength: 2000), required: true)
            case .provider: field("Delivered by", .text(maxLength: 200), personal: true)
            case .frequency: field("Frequency (as written)", .text(maxLength: 200))
            case .responsibleOrg: field("Responsible organisation", .text(maxLength: 200), required: true)
            case .responsiblePerson: field("Responsible person", .text(maxLength: 200), required: true, personal: true)
            case .costPence: field("Cost", .pence)
            case .sessionsPerWeek: field("Sessions per week", .integer(0...50))
            case .minutesPerSession: field("Minutes per session", .integer(0...600))
            case .weeksPerYear: field("Weeks per year", .integer(0...52))
            case .groupSize: field("Group size", .integer(1...60))
            case .staffRole: field("Staff role", .code("staff-role"))
            case .outcomeID: field("Outcome it serves", .reference("plan_outcome"))
            }
        }
    }
}
