import Foundation

/// Why a change could not be applied. Nothing is applied when one of these is thrown.
///
/// The error keeps what happened as facts (``reason``); its message is made from them, naming
/// sites by id, or — with ``message(naming:)`` — by the names the reader's store knows.
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

    /// What happened to which change.
    public enum Reason: Hashable, Sendable {
        /// The change's site has another change with its number.
        case fork(Dot)
        /// The site signed two different runs of its changes that both cover change `dot`'s
        /// number: its signing went back, as a store restored from a backup does.
        case signedTwice(Dot)
        /// The change cannot be decoded, and why.
        case malformed(Dot, String)
        /// The change depends on changes this store does not hold.
        case missingDependencies(Dot, MissingRange)
        /// The change is stamped `minutesAhead` minutes ahead of this machine's clock; it would be
        /// accepted from `acceptedFrom` (Unix milliseconds) by this machine's clock.
        case clockAhead(Dot, minutesAhead: UInt64, limitMinutes: UInt64, acceptedFrom: UInt64)
        /// The change was made with a newer area directory than this store holds.
        case newerDirectory(Dot, version: UInt64, held: UInt64)
    }

    public var code: Code
    public var reason: Reason
    /// What the user should do next.
    public var hint: String
    /// For ``Code/missingPrerequisites``: the site and sequence range to ask for.
    public var missing: MissingRange?

    public init(code: Code, reason: Reason, hint: String, missing: MissingRange? = nil) {
        self.code = code
        self.reason = reason
        self.hint = hint
        self.missing = missing
    }

    /// What went wrong, naming sites by id.
    public var message: String { message(naming: { _ in nil }) }

    /// What went wrong, naming each site by `name` (its id where `name` gives `nil`).
    public func message(naming name: (SiteID) -> String?) -> String {
        switch reason {
        case .fork(let dot):
            "\(name(dot.site) ?? "Site \(dot.site)") has two different changes numbered \(dot.seq)."
        case .signedTwice(let dot):
            "\(name(dot.site) ?? "Site \(dot.site)") signed two different runs of its changes from number \(dot.seq)."
        case .malformed(let dot, let why):
            "\(dot.described(naming: name).capitalizingFirst) cannot be read: \(why)."
        case .missingDependencies(let dot, let range):
            "\(dot.described(naming: name).capitalizingFirst) depends on \(range.description(naming: name)), which this store does not hold."
        case .clockAhead(let dot, let minutes, let limit, let acceptedFrom):
            "\(dot.described(naming: name).capitalizingFirst) is stamped \(minutes) minutes ahead of this machine's clock (limit \(limit) minutes); it would be accepted from \(Self.utcMinute(acceptedFrom)) UTC by this machine's clock."
        case .newerDirectory(let dot, let version, let held):
            "\(dot.described(naming: name).capitalizingFirst) was made with version \(version) of the area directory; this store holds version \(held)."
        }
    }

    public var description: String { "\(message) \(hint)" }

    /// What to do about a site that forked its own history.
    static let forkHint =
        "That site was probably restored from a backup and reused its identity. It rejoins under a new site id (`sensync rejoin start` at that site); the LA then adds its new identity file with `sensync directory add FILE --replaces SITE`. See README, Troubleshooting: a restored backup."

    /// `YYYY-MM-DD HH:MM` in UTC, rounded up to the next minute.
    static func utcMinute(_ milliseconds: UInt64) -> String {
        let minutes = (milliseconds + 59_999) / 60_000
        let day = CalendarDate(year: 1970, month: 1, day: 1).adding(days: Int(minutes / 1440))
        let minute = Int(minutes % 1440)
        return "\(day) " + String(format: "%02d:%02d", minute / 60, minute % 60)
    }
}

/// A range of one site's changes that a store lacks.
public struct MissingRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var site: SiteID
    public var from: UInt64
    public var through: UInt64
    /// Only the site's changes in the range that are about one pupil are needed; they arrive with
    /// the pupil's history once the sender learns what this store holds.
    public var isScopeHistory: Bool

    public var description: String { description(naming: { _ in nil }) }

    /// "changes 3–5 of Oakfield Primary", naming the site by `name` (its id where `name` gives
    /// `nil`).
    public func description(naming name: (SiteID) -> String?) -> String {
        let site = site.named(by: name)
        let range = from == through ? "change \(from) of \(site)" : "changes \(from)–\(through) of \(site)"
        return isScopeHistory ? "\(range) about the same pupil (those it has)" : range
    }
}
