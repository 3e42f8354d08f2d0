import Foundation

/// An action agreed on a concern: what, who owns it, when it is due, when it was done.
public enum ConcernAction: RecordKind {
    public static let name = "concern_action"
    public static let number: UInt64 = 10
    public static let noun = "action"
    public static let parent: Field? = .concernID
    public static let orderedBy: Field? = .dueOn

    public enum Field: String, KindField {
        case concernID = "concern_id"
        case action, owner
        case ownerOrg = "owner_org"
        case dueOn = "due_on"
        case doneOn = "done_on"

        public var definition: FieldDefinition {
            switch self {
            case .concernID: field("Concern", .reference("concern"), required: true)
            case .action: field("Action", .text(maxLength: 2000), required: true)
            case .owner: field("Owner", .text(maxLength: 200), required: true, personal: true)
            case .ownerOrg: field("Owner's organisation", .text(maxLength: 200))
            case .dueOn: field("Due on", .date, required: true)
            case .doneOn: field("Done on", .date, past: true)
            }
        }
    }
}
