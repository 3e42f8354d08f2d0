import Foundation

/// A pupil: identity and the census SEN summary.
public enum Pupil: RecordKind {
    public static let name = "pupil"
    public static let number: UInt64 = 1
    public static let noun = "pupil"

    public enum Field: String, KindField {
        case upn, forename, surname
        case dateOfBirth = "date_of_birth"
        case yearGroup = "year_group"
        case senStatus = "sen_status"
        case senNeeds = "sen_needs"
        case formerUPNs = "former_upns"

        public var definition: FieldDefinition {
            switch self {
            case .upn:
                field(
                    "UPN", .text(maxLength: 13), required: true, personal: true, csv: "UPN", ctf: "UPN", census: "UPN",
                    sen2: "UPN")
            case .forename:
                field(
                    "Forename", .text(maxLength: 100), required: true, personal: true, csv: "Forename", ctf: "Forename",
                    sen2: "Forename")
            case .surname:
                field(
                    "Surname", .text(maxLength: 100), required: true, personal: true, csv: "Surname", ctf: "Surname",
                    sen2: "Surname")
            case .dateOfBirth:
                field(
                    "Date of birth", .date, required: true, personal: true, csv: "DOB", ctf: "DOB",
                    sen2: "PersonBirthDate")
            case .yearGroup: field("Year group", .integer(-2...14), csv: "NCyearActual", ctf: "NCyearActual")
            case .senStatus:
                field(
                    "SEN provision", .code("census-sen-provision"), system: true, ctf: "SENprovision",
                    census: "SENprovision")
            case .senNeeds: field("SEN needs by rank", .codes("census-sen-type"), system: true, census: "SENtype")
            case .formerUPNs:
                field("Former UPNs", .text(maxLength: 200), system: true, personal: true, ctf: "FormerUPN")
            }
        }
    }
}
