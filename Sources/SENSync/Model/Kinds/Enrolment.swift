import Foundation

/// A pupil's time on roll at a school. Written only by SENSync (adding and transferring pupils);
/// a transfer may be dated before the enrolment it ends was recorded, so the dates are not
/// checked against each other.
public enum Enrolment: RecordKind {
    public static let name = "enrolment"
    public static let number: UInt64 = 2
    public static let noun = "enrolment"
    public static let orderedBy: Field? = .entryDate

    public enum Field: String, KindField {
        case schoolID = "school_id"
        case entryDate = "entry_date"
        case leavingDate = "leaving_date"

        public var definition: FieldDefinition {
            switch self {
            // SEN2 reports the school by its URN, from the area directory.
            case .schoolID: field("School", .site, required: true, system: true, sen2: "URN")
            case .entryDate:
                field("Entry date", .date, required: true, system: true, ctf: "EntryDate", sen2: "EntryDate")
            case .leavingDate: field("Leaving date", .date, system: true, ctf: "LeavingDate", sen2: "LeavingDate")
            }
        }
    }
}
