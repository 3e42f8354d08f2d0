import Foundation

/// One section (A to K) of an EHC plan, naming the agency that owns it.
public enum EHCSection: RecordKind {
    public static let name = "ehc_section"
    public static let number: UInt64 = 19
    public static let noun = "plan section"
    public static let owner = KindOwner.localAuthority
    public static let parent: Field? = .planID

    public enum Field: String, KindField {
        case planID = "plan_id"
        case section, content
        case ownerAgency = "owner_agency"

        public var definition: FieldDefinition {
            switch self {
            case .planID: field("EHC plan", .reference("ehc_plan"), required: true)
            case .section: field("Section", .code("ehc-section"), required: true)
            case .content: field("Content", .text(maxLength: 100_000), required: true)
            case .ownerAgency: field("Owning agency", .text(maxLength: 200), required: true)
            }
        }
    }
}
