import Foundation

/// Why a bundle was refused. When one of these is thrown, the store is unchanged.
public struct BundleError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// The file is not a SENSync bundle at all.
        case notABundle = "not-a-bundle"
        /// The file is truncated, altered or otherwise damaged.
        case damaged
        /// The bundle was written in a format or schema this build cannot read.
        case unsupportedVersion = "unsupported-version"
        /// The bundle is addressed to other sites.
        case notAddressedToThisSite = "not-addressed-to-this-site"
        /// The sender is not in this site's directory (or this site has no LA pinned).
        case unknownSender = "unknown-sender"
        /// The bundle's signature, or the directory it carries, does not verify.
        case badSignature = "bad-signature"
        /// This site's keys cannot open the bundle.
        case cannotDecrypt = "cannot-decrypt"
        /// Changes the bundle builds on are not in this store.
        case missingPrerequisites = "missing-prerequisites"
        /// A change is stamped too far ahead of this machine's clock.
        case clockAhead = "clock-ahead"
        /// A site's history in the bundle disagrees with this store's.
        case fork
        /// The file could not be read or written.
        case io
        /// There is no file at the path given.
        case notFound = "not-found"
    }

    public var code: Code
    public var message: String
    public var hint: String
    /// For ``Code/missingPrerequisites``: what to ask for.
    public var missing: MissingRange?
    /// For ``Code/fork`` shown by the sender's own changes: the first of its numbers this store
    /// holds with another change.
    package var senderForkedAt: Dot?

    public init(_ code: Code, _ message: String, hint: String, missing: MissingRange? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.missing = missing
    }

    public var description: String { "\(message) \(hint)" }

    static func damaged(_ detail: String) -> BundleError {
        BundleError(
            .damaged, "The bundle file is damaged or incomplete (\(detail)).",
            hint: "Nothing was applied. Ask the sender for the file again; copy it in binary mode.")
    }

    /// The bundle-level form of a change's refusal, naming sites by `name` (by id where it gives
    /// `nil`).
    init(_ merge: MergeError, naming name: (SiteID) -> String? = { _ in nil }) {
        let code: Code =
            switch merge.code {
            case .missingPrerequisites: .missingPrerequisites
            case .clockAhead: .clockAhead
            case .fork: .fork
            case .malformed: .unsupportedVersion
            }
        self.init(code, "Nothing was applied. " + merge.message(naming: name), hint: merge.hint, missing: merge.missing)
    }
}
