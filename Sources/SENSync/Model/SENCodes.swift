import Foundation

/// The census SEN provision codes for England.
public enum SENStatus: String, Sendable, Codable, CaseIterable {
    /// Education, health and care plan.
    case ehcPlan = "E"
    /// SEN support.
    case senSupport = "K"
    /// No special educational need (also "monitoring").
    case none = "N"

    public var label: String {
        switch self {
        case .ehcPlan: "EHC plan"
        case .senSupport: "SEN support"
        case .none: "no SEN"
        }
    }
}

/// The census SEN type codes (2024/25 onwards, with DS from January 2025).
public enum SENNeed: String, Sendable, Codable, CaseIterable {
    case spld = "SPLD"
    case mld = "MLD"
    case sld = "SLD"
    case pmld = "PMLD"
    case semh = "SEMH"
    case slcn = "SLCN"
    case hi = "HI"
    case vi = "VI"
    case msi = "MSI"
    case pd = "PD"
    case asd = "ASD"
    case oth = "OTH"
    case nsa = "NSA"
    case ds = "DS"

    public var label: String {
        switch self {
        case .spld: "Specific learning difficulty"
        case .mld: "Moderate learning difficulty"
        case .sld: "Severe learning difficulty"
        case .pmld: "Profound and multiple learning difficulty"
        case .semh: "Social, emotional and mental health"
        case .slcn: "Speech, language and communication needs"
        case .hi: "Hearing impairment"
        case .vi: "Vision impairment"
        case .msi: "Multi-sensory impairment"
        case .pd: "Physical disability"
        case .asd: "Autistic spectrum disorder"
        case .oth: "Other difficulty or disability"
        case .nsa: "SEN support but no specialist assessment of type of need"
        case .ds: "Down syndrome"
        }
    }

    /// The Code of Practice broad area of need (6.28–6.35), if the code maps to one.
    public var broadArea: BroadArea? {
        switch self {
        case .slcn, .asd: .communicationAndInteraction
        case .spld, .mld, .sld, .pmld: .cognitionAndLearning
        case .semh: .socialEmotionalMentalHealth
        case .hi, .vi, .msi, .pd: .sensoryPhysical
        case .oth, .nsa, .ds: nil
        }
    }
}

/// The four broad areas of need in the SEND Code of Practice.
public enum BroadArea: String, Sendable, Codable, CaseIterable {
    case communicationAndInteraction = "communication-interaction"
    case cognitionAndLearning = "cognition-learning"
    case socialEmotionalMentalHealth = "semh"
    case sensoryPhysical = "sensory-physical"
}

/// A pupil's SEN status with ranked needs, checked against the census rules.
public struct SENProfile: Hashable, Sendable {
    public var status: SENStatus
    /// Needs by rank: the first is the primary need.
    public var needs: [SENNeed]

    public enum Problem: Error, Hashable, Sendable, CustomStringConvertible {
        case unknownStatus(String)
        case unknownNeed(String)
        case duplicateNeed(SENNeed)
        case needsWithoutStatus
        case statusWithoutPrimaryNeed(SENStatus)
        case nsaWithEHCPlan

        public var description: String {
            switch self {
            case .unknownStatus(let s): "'\(s)' is not an SEN status; use E (EHC plan), K (SEN support) or N (none)."
            case .unknownNeed(let s):
                "'\(s)' is not a census SEN type; use one of \(SENNeed.allCases.map(\.rawValue).joined(separator: ", "))."
            case .duplicateNeed(let n): "\(n.rawValue) is listed twice; each need has one rank."
            case .needsWithoutStatus: "Needs can only be recorded with SEN status E or K."
            case .statusWithoutPrimaryNeed(let s): "SEN status \(s.rawValue) needs at least a primary need (--needs)."
            case .nsaWithEHCPlan: "NSA (no specialist assessment) is only valid with SEN support (K), not an EHC plan."
            }
        }
    }

    /// Parses a status code and a comma-separated ranked list of need codes.
    public init(status rawStatus: String, needs rawNeeds: String) throws(Problem) {
        guard let status = SENStatus(rawValue: rawStatus.uppercased()) else { throw .unknownStatus(rawStatus) }
        var needs: [SENNeed] = []
        for part in rawNeeds.split(separator: ",") {
            let code = part.trimmingCharacters(in: .whitespaces).uppercased()
            guard !code.isEmpty else { continue }
            guard let need = SENNeed(rawValue: code) else { throw .unknownNeed(code) }
            guard !needs.contains(need) else { throw .duplicateNeed(need) }
            needs.append(need)
        }
        try self.init(status: status, needs: needs)
    }

    public init(status: SENStatus, needs: [SENNeed]) throws(Problem) {
        if status == .none && !needs.isEmpty { throw .needsWithoutStatus }
        if status != .none && needs.isEmpty { throw .statusWithoutPrimaryNeed(status) }
        if status == .ehcPlan && needs.contains(.nsa) { throw .nsaWithEHCPlan }
        if Set(needs).count != needs.count {
            throw .duplicateNeed(needs.first { n in needs.filter { $0 == n }.count > 1 }!)
        }
        self.status = status
        self.needs = needs
    }

    /// The needs as stored: codes by rank, comma-separated.
    public var needsField: String { Self.needsField(needs) }

    /// `needs` as stored: codes by rank, comma-separated.
    public static func needsField(_ needs: [SENNeed]) -> String { needs.map(\.rawValue).joined(separator: ",") }
}
