import Foundation

/// An early-identification note. Never changed; a correction amends an earlier note.
public enum Note: RecordKind {
    public static let name = "note"
    public static let number: UInt64 = 3
    public static let noun = "note"
    public static let isAppendOnly = true
    public static let orderedBy: Field? = nil

    public enum Field: String, KindField {
        case text, area
        case amendsNoteID = "amends_note_id"
        case recordedAt = "recorded_at"
        case recordedBy = "recorded_by"

        public var definition: FieldDefinition {
            switch self {
            case .text: field("Note", .text(maxLength: 20_000), required: true)
            case .area: field("Area of need", .code("broad-area-of-need"))
            case .amendsNoteID: field("Amends note", .reference("note"))
            case .recordedAt: field("Recorded at", .text(maxLength: 40), system: true)
            case .recordedBy: field("Recorded by", .text(maxLength: 200), system: true, personal: true)
            }
        }
    }
}
