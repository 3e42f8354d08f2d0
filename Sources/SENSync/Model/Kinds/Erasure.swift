import Foundation

/// The proof that a pupil's personal content was erased everywhere: its id is the pupil's.
public enum Erasure: RecordKind {
    public static let name = "erasure"
    public static let number: UInt64 = 8
    public static let noun = "erasure"
    public static let isAppendOnly = true

    public enum Field: String, KindField {
        case reason
        case erasedOn = "erased_on"
        case erasedBy = "erased_by"

        public var definition: FieldDefinition {
            switch self {
            case .reason: field("Reason", .text(maxLength: 200), system: true, personal: true)
            case .erasedOn: field("Erased on", .date, system: true)
            case .erasedBy: field("Erased by", .text(maxLength: 200), system: true, personal: true)
            }
        }
    }
}
