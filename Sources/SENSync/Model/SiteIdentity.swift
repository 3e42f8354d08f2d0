import Foundation

/// What kind of organisation a site is.
public enum SiteKind: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case maintainedSchool = "maintained-school"
    case academy
    case trust
    case la

    /// Whether pupils are enrolled here (maintained schools and academies).
    public var isSchool: Bool { self == .maintainedSchool || self == .academy }

    public var description: String { rawValue }

    /// A human label: "maintained school", "academy", "trust", "local authority".
    public var label: String {
        switch self {
        case .maintainedSchool: "maintained school"
        case .academy: "academy"
        case .trust: "trust"
        case .la: "local authority"
        }
    }
}

/// A site's public identity: who it is, as recorded in its store.
public struct SiteIdentity: Hashable, Sendable, Codable {
    public var id: SiteID
    public var name: String
    public var kind: SiteKind
    /// The six-digit unique reference number of a school.
    public var urn: String?
    /// The three-digit DfE local authority number.
    public var laCode: String?

    public init(id: SiteID, name: String, kind: SiteKind, urn: String? = nil, laCode: String? = nil) {
        self.id = id
        self.name = name
        self.kind = kind
        self.urn = urn
        self.laCode = laCode
    }
}

/// Checks applied to site details at set-up.
public enum SiteRules {
    /// A URN is exactly six digits.
    public static func isValidURN(_ urn: String) -> Bool {
        urn.utf8.count == 6 && urn.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// An LA code is exactly three digits.
    public static func isValidLACode(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
