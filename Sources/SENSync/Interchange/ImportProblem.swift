import Foundation

/// One thing wrong with an import file: where, and why. Never the value itself (it may be a
/// child's name or date of birth), only its position and the rule it breaks.
public struct ImportProblem: Sendable, Hashable, Encodable, CustomStringConvertible {
    /// The file's name, without its folder.
    public var file: String
    public var line: Int
    /// The last line, when the problem spans a pupil's rows (a rule across their records).
    public var lastLine: Int?
    /// The column heading or JSON key, when one cell is at fault.
    public var column: String?
    public var reason: String

    public init(file: String, line: Int, lastLine: Int? = nil, column: String? = nil, reason: String) {
        self.file = file
        self.line = line
        self.lastLine = lastLine
        self.column = column
        self.reason = reason
    }

    public var description: String {
        let lines = lastLine.map { $0 > line ? "lines \(line)-\($0)" : nil } ?? nil
        return "\(file) \(lines ?? "line \(line)")\(column.map { ", column \($0)" } ?? ""): \(reason)"
    }
}

/// An import that changed nothing, and why.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Rows broke the format's rules: ``problems`` lists them.
        case rejected
        /// A file could not be opened.
        case unreadable
    }

    public var code: Code
    public var message: String
    public var hint: String?
    /// The first problems found (at most ``ImportRun/maxProblemsListed``), in file order.
    public var problems: [ImportProblem]
    /// How many problems were found in all.
    public var problemCount: Int

    public var description: String { hint.map { "\(message) \($0)" } ?? message }

    static func unreadable(_ file: ImportFile) -> ImportError {
        file.isFolder
            ? ImportError(
                code: .unreadable, message: "\(file.name) is a folder, not a file.",
                hint: "Give the files in it: `sensync import FOLDER/*.csv` (in any order).", problems: [],
                problemCount: 0)
            : ImportError(
                code: .unreadable, message: "\(file.name) cannot be read.",
                hint: "Check the path and that this account may read it.", problems: [], problemCount: 0)
    }

    /// A problem that stops a file being read at all (no heading row, broken CSV quoting).
    static func file(_ problem: ImportProblem) -> ImportError {
        ImportError(
            code: .rejected, message: "Nothing was imported: \(problem)".withFullStop,
            hint: "Fix the file (or export it again from the MIS) and import it again.", problems: [problem],
            problemCount: 1)
    }
}

/// What an import did (or, for a dry run, would do).
public struct ImportSummary: Sendable, Hashable {
    /// Rows read, in every file.
    public var rows = 0
    /// Records created, by kind name (pupils among them).
    public var created: [String: Int] = [:]
    /// Records with at least one field changed, by kind name.
    public var updated: [String: Int] = [:]
    /// Rows that matched a record already holding the same values.
    public var unchanged = 0
    /// Changes recorded (one per pupil whose records changed, or a few for a pupil with very
    /// many rows): these replicate as ordinary changes.
    public var changes = 0
    /// Whether nothing was kept (``ImportOptions/dryRun``).
    public var dryRun = false

    public var createdCount: Int { created.values.reduce(0, +) }
    public var updatedCount: Int { updated.values.reduce(0, +) }
}

/// How an import runs.
public struct ImportOptions: Sendable {
    /// Names the system the file came from; records are matched by the source's own ids within
    /// one source (`MIS` unless said otherwise).
    public var source: String
    /// Who is recorded as the author of the changes.
    public var author: String
    /// Check everything and report what would change, but keep nothing.
    public var dryRun: Bool

    public init(source: String = "MIS", author: String, dryRun: Bool = false) {
        self.source = source
        self.author = author
        self.dryRun = dryRun
    }
}

/// How far an import has gone, for a progress line.
public struct ImportProgress: Sendable, CustomStringConvertible {
    public enum Stage: Sendable {
        /// Reading ``file`` (and, for one file, checking and writing its rows as they are read).
        case reading
        /// Checking and writing the rows of several files, read first and gathered by pupil.
        case writing
    }

    public var stage: Stage
    /// The file being read (empty while writing).
    public var file: String
    /// Rows read from the file so far, or rows written so far.
    public var rows: Int
    /// Bytes of the file read so far, and its size.
    public var bytesRead: Int
    public var bytesTotal: Int
    /// While writing: rows to write in all.
    public var rowsTotal: Int

    init(file: String, rows: Int, bytesRead: Int, bytesTotal: Int) {
        self.stage = .reading
        self.file = file
        self.rows = rows
        self.bytesRead = bytesRead
        self.bytesTotal = bytesTotal
        self.rowsTotal = 0
    }

    init(stage: Stage, rows: Int, rowsTotal: Int) {
        self.stage = stage
        self.file = ""
        self.rows = rows
        self.bytesRead = 0
        self.bytesTotal = 0
        self.rowsTotal = rowsTotal
    }

    /// What a progress line says.
    public var description: String {
        switch stage {
        case .reading:
            let percent = bytesTotal > 0 ? " (\(min(100, bytesRead * 100 / bytesTotal))%)" : ""
            return "\(file): \(rows) \(rows == 1 ? "row" : "rows") read\(percent)"
        case .writing:
            let percent = rowsTotal > 0 ? " (\(min(100, rows * 100 / rowsTotal))%)" : ""
            return "Checked: \(rows) of \(rowsTotal) rows, by pupil\(percent) (kept only if every row passes)"
        }
    }
}
