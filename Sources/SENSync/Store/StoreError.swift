import Foundation

/// A problem opening, reading or writing a store. Messages never contain personal data.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case storeNotFound = "store-not-found"
        case storeExists = "store-exists"
        case notAStore = "not-a-store"
        case newerStore = "newer-store"
        case olderStore = "older-store"
        case invalidInput = "invalid-input"
        case notFound = "not-found"
        case ambiguous
        case recordDeleted = "record-deleted"
        case appendOnly = "append-only"
        case unknownSite = "unknown-site"
        case database
        /// A file could not be made or written (the store, its key file, a bundle given as
        /// `--out`): a missing folder, no permission, a full disk.
        case file
        /// Peers hold more of this site's own changes than this store does (a restored backup).
        case behindOwnHistory = "behind-own-history"
        /// This computer's clock reads too far past the newest bundle received: it may be fast.
        case clockAhead = "clock-ahead"
    }

    public var code: Code
    /// What went wrong.
    public var message: String
    /// What to do next.
    public var hint: String?
    /// What an ambiguous reference could mean, one line each, for the person to pick from
    /// (shown on their terminal; never logged).
    public var candidates: [String] = []
    /// Set on the refusal of a local write about a pupil this site does not have on roll (the
    /// code stays `invalid-input`, as scripts read it): carry-over counts these apart.
    package var isNotOnRoll = false
    /// The record, and its field when the rule names one, that a rule across fields or records
    /// refused in a change of several (an import names the row and column that made it).
    package var record: RecordID?
    package var field: String?
    /// Other rules the same change broke, each once, when its writer asked for every one (an
    /// import).
    package var alsoRefused: [StoreError] = []

    public init(_ code: Code, _ message: String, hint: String? = nil, candidates: [String] = []) {
        self.code = code
        self.message = message
        self.hint = hint
        self.candidates = candidates
    }

    public var description: String { hint.map { "\(message) \($0)" } ?? message }
}

extension UUID128 {
    /// An id read from the store's own tables: a text that is not one means the file was altered
    /// or damaged outside SENSync, which is refused as such (it stopped the program).
    static func stored(_ text: String) throws -> UUID128 {
        guard let id = UUID128(text) else { throw StoreError.damagedID }
        return id
    }
}

extension StoreError {
    /// A record or pupil id in the store's tables is not an id.
    static let damagedID = StoreError(
        .notAStore, "The store is damaged: one of its record ids is not an id.",
        hint: "Nothing was changed. Run `sensync audit verify`, and restore the store from a backup.")
}
