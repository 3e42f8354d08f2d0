import Foundation

/// A ranked SEN need (census SEN type) with the dates it applied.
public enum SENNeedRecord: RecordKind {
    public static let name = "sen_need"
    public static let number: UInt64 = 14
    public static let noun = "need"
    public static let orderedBy: Field? = .startDate

    public enum Field: String, KindField {
        case need, rank
        case startDate = "start_date"
        case endDate = "end_date"

        public var definition: FieldDefinition {
            switch self {
            case .need:
                field(
                    "Need", .code("census-sen-type"), required: true, ctf: "SENtype", census: "SENtype", sen2: "SENtype"
                )
            case .rank:
                field(
                    "Rank", .integer(1...9), required: true, ctf: "SENtypeRank", census: "SENtypeRank",
                    sen2: "SENtypeRank")
            // CTF 17 added need start and end dates (`NeedStartDate`, `NeedEndDate`); see
            // Schemas/ctf/ctf-sen.md.
            case .startDate: field("Start date", .date, required: true, ctf: "NeedStartDate")
            case .endDate: field("End date", .date, ctf: "NeedEndDate")
            }
        }
    }

    public static func check(_ record: KindValues) throws(RecordRuleViolation) {
        try record.requireOrder(Field.startDate, .endDate)
        if let need = record.text(Field.need), let start = record.date(Field.startDate),
            !CensusRules.isCollected(need, on: start)
        {
            throw RecordRuleViolation(
                "DS (Down syndrome) is a census SEN type only from January 2025.",
                hint: "Record it from 2025-01-01, or use the need recorded at the time.")
        }
    }
}
