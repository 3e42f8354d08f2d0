import Foundation

/// A spell of SEN provision (census E, K or N) at a school: at most one open per pupil per school.
public enum SENEpisode: RecordKind {
    public static let name = "sen_episode"
    public static let number: UInt64 = 13
    public static let noun = "provision episode"
    public static let orderedBy: Field? = .startDate

    public enum Field: String, KindField {
        case provision
        case schoolID = "school_id"
        case startDate = "start_date"
        case endDate = "end_date"

        public var definition: FieldDefinition {
            switch self {
            case .provision:
                field(
                    "SEN provision", .code("census-sen-provision"), required: true, ctf: "SENprovision",
                    census: "SENprovision")
            case .schoolID: field("School", .site, required: true, default: "here")
            case .startDate: field("Start date", .date, required: true, ctf: "StartDate")
            case .endDate: field("End date", .date)
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.startDate, .endDate)
    }
}
