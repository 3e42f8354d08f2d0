import ArgumentParser
import Foundation
import GRDB
import SENSync

/// The exit codes `sensync` documents (see the README).
public enum SENSyncExit: Int32, CaseIterable, Sendable {
    case success = 0
    case unexpected = 1
    case invalidInput = 2
    case notFound = 3
    case ambiguous = 4
    case bundleDamaged = 5
    case notAddressed = 6
    case unknownSender = 7
    case badSignature = 8
    case unsupportedVersion = 9
    case missingPrerequisites = 10
    case clockAhead = 11
    case fork = 12
    case io = 13
    case conflictsOpen = 14
    case keys = 15
    case usage = 64

    /// The code's name in JSON errors, spelled as the library's error codes are: `invalid-input`,
    /// `not-found`.
    public var name: String {
        String(describing: self).reduce(into: "") { name, c in
            if c.isUppercase { name += "-" + c.lowercased() } else { name.append(c) }
        }
    }

    /// What the code means, in at most 44 characters: `sensync --help` lists them one to a line,
    /// which stays one line down to a 50-column terminal (the README's table says more).
    public var meaning: String {
        switch self {
        case .success: "success"
        case .unexpected: "a bug: please report it"
        case .invalidInput: "a value failed validation; nothing written"
        case .notFound: "store, file, pupil, record or site not found"
        case .ambiguous: "a reference matched more than one"
        case .bundleDamaged: "not a bundle, or damaged; none of it applied"
        case .notAddressed: "bundle addressed to other sites"
        case .unknownSender: "bundle's sender not in the directory"
        case .badSignature: "bundle's signature does not verify"
        case .unsupportedVersion: "needs a newer (or older) SENSync"
        case .missingPrerequisites: "changes the bundle builds on are missing"
        case .clockAhead: "a clock is too far ahead; nothing recorded"
        case .fork: "a history forked or was altered"
        case .io: "a file could not be read or written"
        case .conflictsOpen: "conflicts list --fail-if-any found some"
        case .keys: "key file missing, exposed or not opening it"
        case .usage: "the command line is wrong (see --help)"
        }
    }
}

/// An error raised by the command layer itself.
struct CommandFailure: Error, CustomStringConvertible {
    var code: SENSyncExit
    var message: String
    var hint: String?
    /// One line per item the message is about (the records an export refused), shown after the hint.
    var details: [String] = []
    /// An import's problems, each by file, line and column: in the JSON error as `problems` (the
    /// text is written before the error, as the import finds them).
    var problems: [ImportProblem] = []
    var description: String { message }
}

/// Maps any error to its exit code, code name, message and hint.
struct ErrorReport: Encodable {
    var exit: SENSyncExit
    var code: String
    var message: String
    var hint: String?
    var candidates: [String] = []
    var problems: [ImportProblem] = []

    enum CodingKeys: String, CodingKey { case code, message, hint, exitCode, candidates, problems }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(hint, forKey: .hint)
        try c.encode(exit.rawValue, forKey: .exitCode)
        if !candidates.isEmpty { try c.encode(candidates, forKey: .candidates) }
        if !problems.isEmpty { try c.encode(problems, forKey: .problems) }
    }

    init(_ error: any Error) {
        switch error {
        case let e as CommandFailure:
            self.init(exit: e.code, code: e.code.name, message: e.message, hint: e.hint, candidates: e.details)
            problems = e.problems
        case let e as StoreError:
            let exit: SENSyncExit =
                switch e.code {
                case .invalidInput, .recordDeleted, .appendOnly, .storeExists: .invalidInput
                case .storeNotFound, .notFound, .unknownSite, .notAStore: .notFound
                case .ambiguous: .ambiguous
                case .newerStore, .olderStore: .unsupportedVersion
                case .database: .unexpected
                case .file: .io
                case .behindOwnHistory: .fork
                case .clockAhead: .clockAhead
                }
            self.init(exit: exit, code: e.code.rawValue, message: e.message, hint: e.hint, candidates: e.candidates)
        case let e as BundleError:
            let exit: SENSyncExit =
                switch e.code {
                case .notABundle, .damaged: .bundleDamaged
                case .unsupportedVersion: .unsupportedVersion
                case .notAddressedToThisSite: .notAddressed
                case .unknownSender: .unknownSender
                case .badSignature: .badSignature
                case .cannotDecrypt: .keys
                case .missingPrerequisites: .missingPrerequisites
                case .clockAhead: .clockAhead
                case .fork: .fork
                case .io: .io
                case .notFound: .notFound
                }
            self.init(exit: exit, code: e.code.rawValue, message: e.message, hint: e.hint)
        case let e as CTFError:
            self.init(exit: .invalidInput, code: e.code.rawValue, message: e.message, hint: e.hint)
        case let e as SecurityError:
            let exit: SENSyncExit =
                switch e.code {
                case .keyFileMissing, .keyFileExposed, .keyFileInvalid, .cannotDecrypt: .keys
                case .identityInvalid, .notTheLA, .unknownRecipient: .invalidInput
                case .directoryInvalid, .badSignature: .badSignature
                case .unknownSender: .unknownSender
                }
            self.init(exit: exit, code: e.code.rawValue, message: e.message, hint: e.hint)
        case let e as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(e.resultCode):
            // Another command held the store for longer than this one waits (a large import or
            // first sync): not a bug, and nothing to report.
            self.init(
                exit: .io, code: "store-busy",
                message: "The store is busy: another sensync command (an import or a bundle apply) is writing to it.",
                hint: "Nothing was changed. Run the command again once the other one has finished.")
        case let e as DatabaseError:
            // SQLite's own message names tables and constraints, never values.
            self.init(
                exit: .unexpected, code: "database",
                message: "The store reported an error (SQLite \(e.resultCode.rawValue): \(e.message ?? "no message")).",
                hint: "Nothing was changed. Run `sensync audit verify`, and report this with the command you ran.")
        case let e as CocoaError:
            // Why, in words (it gave Foundation's number: "(4)"), and which file, as the user gave it.
            let why: String =
                switch e.code {
                case .fileNoSuchFile, .fileReadNoSuchFile: "it or its folder does not exist"
                case .fileReadNoPermission, .fileWriteNoPermission: "this account may not use it"
                case .fileWriteOutOfSpace: "the disk is full"
                case .fileWriteVolumeReadOnly: "the disk is read-only"
                case .fileWriteFileExists: "a file is already there"
                default: "error \(e.code.rawValue)"
                }
            let file = e.filePath.map { " (\($0))" } ?? ""
            self.init(
                exit: .io, code: "io", message: "A file could not be read or written\(file): \(why).",
                hint: "Check the path and permissions.")
        default:
            self.init(
                exit: .unexpected, code: "unexpected", message: "Unexpected failure: \(type(of: error)).",
                hint: "Please report this with the command you ran.")
        }
    }

    init(exit: SENSyncExit, code: String, message: String, hint: String?, candidates: [String] = []) {
        self.exit = exit
        self.code = code
        self.message = message
        self.hint = hint
        self.candidates = candidates
    }
}
