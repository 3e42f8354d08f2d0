import Foundation

/// Why a change could not be applied. Nothing is applied when one of these is thrown.
public struct MergeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// Changes this one depends on are not in the store.
        case missingPrerequisites = "missing-prerequisites"
        /// The change is stamped too far ahead of this machine's clock.
        case clockAhead = "clock-ahead"
        /// The site has two different changes with the same sequence number.
        case fork
        /// The change body cannot be decoded.
        case malformed
    }

    public var code: Code
    public var message: String
    /// What the user should do next.
    public var hint: String
    /// For ``Code/missingPrerequisites``: the site and sequence range to ask for.
    public var missing: MissingRange?

    public var description: String { "\(message) \(hint)" }
}

/// A range of one site's changes that a store lacks.
public struct MissingRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var site: SiteID
    public var from: UInt64
    public var through: UInt64
    /// Only the site's changes in the range that are about one pupil are needed; they arrive with
    /// the pupil's history once the sender learns what this store holds.
    public var isScopeHistory: Bool

    public var description: String {
        let range = from == through ? "change \(from) of site \(site)" : "changes \(from)–\(through) of site \(site)"
        return isScopeHistory ? "\(range) about the same pupil (those it has)" : range
    }
}
