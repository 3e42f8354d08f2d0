import Foundation
import SENSync

/// The only place that writes to the terminal.
enum Terminal {
    static func print(_ text: String = "") {
        FileHandle.standardOutput.write(Data((visible(text) + "\n").utf8))
    }

    /// Progress and notices: stderr, so stdout stays parseable.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((visible(text) + "\n").utf8))
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        FileHandle.standardOutput.write(Data((escapedForTerminal(try jsonText(value)) + "\n").utf8))
    }

    /// Whether `scalar` must not reach a terminal as it is (``Unicode/Scalar/isUnsafeInText``).
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool { scalar.isUnsafeInText }

    /// `text` safe to show: each unsafe character (``isUnsafe(_:)``) as U+FFFD, keeping line
    /// breaks and tabs, or with `oneLine` those as spaces too (a table cell). Values come from
    /// other sites' bundles and from files: a name holding an escape sequence ran it on the
    /// reader's terminal.
    static func visible(_ text: String, oneLine: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) && (oneLine || ($0 != "\n" && $0 != "\t")) })
        else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n", "\t": out.append(oneLine ? " " : scalar)
            case _ where isUnsafe(scalar): out.append("\u{FFFD}")
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// JSON text with every unsafe character written as a `\uXXXX` escape: the same JSON value,
    /// safe on a terminal (the encoder leaves DEL, C1 controls and bidirectional overrides raw).
    static func escapedForTerminal(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { isUnsafe($0) && $0 != "\n" }) else { return json }
        var out = ""
        for scalar in json.unicodeScalars {
            if isUnsafe(scalar) && scalar != "\n" {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `value` as pretty-printed JSON with sorted keys (the form every `--json` output takes).
    ///
    /// Keys are lower camel case with `Id` for an id (`pupilId`, `schoolId`, `bundleId`), as
    /// record fields and the import format spell them, whether the Swift property says `pupilID`
    /// or not: see ``jsonKey(_:)``.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .custom { path in JSONKey(jsonKey(path.last?.stringValue ?? "")) }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A key as `--json` output spells it: `pupilID` → `pupilId`, `newEpisodeIDs` → `newEpisodeIds`.
    /// Only keys that are one lower-camel-case word of letters and digits are touched, so data
    /// used as dictionary keys (codes such as `SEMH`, names, dates, record ids) passes unchanged.
    static func jsonKey(_ key: String) -> String {
        let scalars = Array(key.unicodeScalars)
        guard let first = scalars.first, ("a"..."z").contains(first),
            scalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }),
            key.contains("ID")
        else { return key }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            // "ID" as a word of its own: after a lower-case letter or digit, and followed by the
            // end, "s" (a plural) at the end or before a capital, or the next word's capital.
            if scalars[i] == "I", i + 1 < scalars.count, scalars[i + 1] == "D", i > 0,
                !("A"..."Z").contains(scalars[i - 1])
            {
                let next = i + 2 < scalars.count ? scalars[i + 2] : nil
                let afterPlural = i + 3 < scalars.count ? scalars[i + 3] : nil
                let endsWord =
                    next == nil || ("A"..."Z").contains(next!)
                    || (next == "s" && (afterPlural == nil || ("A"..."Z").contains(afterPlural!)))
                if endsWord {
                    out.append("I")
                    out.append("d")
                    i += 2
                    continue
                }
            }
            out.append(scalars[i])
            i += 1
        }
        return String(out)
    }

    private struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The terminal's width in columns: `$COLUMNS`, else the terminal's own, else 80. Found once
    /// per process: every command's help is fitted to it at start-up, and reading the environment
    /// each time was a tenth of starting any command.
    static let width: Int = {
        if let text = getenv("COLUMNS").map({ String(cString: $0) }), let columns = Int(text), columns > 0 {
            return columns
        }
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }()

    /// `text` in lines of at most `width` columns, broken at spaces (a word longer than a line
    /// stands alone), every line after the first indented by `indent`.
    static func wrap(_ text: String, width: Int, indent: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            let limit = lines.isEmpty ? width : width - indent
            if !line.isEmpty, line.count + 1 + word.count > limit {
                lines.append(line)
                line = String(word)
            } else {
                line += line.isEmpty ? String(word) : " " + word
            }
        }
        lines.append(line)
        return lines.enumerated().map {
            $0.offset == 0 ? $0.element : String(repeating: " ", count: indent) + $0.element
        }
    }

    /// A plain table with a header row, columns padded to fit.
    static func table(_ header: [String], _ rows: [[String]], indent: Int = 0) {
        let all = ([header] + rows).map { $0.map { visible($0, oneLine: true) } }
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        let pad = String(repeating: " ", count: indent)
        func line(_ row: [String]) -> String {
            pad
                + row.enumerated().map { i, cell in
                    i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  ")
        }
        print(line(all[0]))
        print(pad + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        for row in all.dropFirst() { print(line(row)) }
    }

    static func bytes(_ n: UInt64) -> String {
        n < 10_000 ? "\(n) B" : n < 10_000_000 ? "\(n / 1024) KiB" : String(format: "%.1f MiB", Double(n) / 1_048_576)
    }
}

extension Value {
    /// The value for display.
    var display: String {
        switch self {
        case .null: "(empty)"
        case .integer(let i): String(i)
        case .text(let s): s
        }
    }
}

/// JSON form of a version vector: site id → sequence number.
/// `n` and `noun`, plural unless one: "1 referral", "3 referrals".
func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

func jsonVector(_ vv: VersionVector) -> [String: UInt64] {
    Dictionary(uniqueKeysWithValues: vv.entries.map { ($0.site.description, $0.seq) })
}

/// The JSON `site` object every command uses.
struct SiteJSON: Encodable {
    var id: String
    var name: String
    var kind: String
    var urn: String?
    var laCode: String?

    init(_ site: SiteIdentity) {
        id = site.id.description
        name = site.name
        kind = site.kind.rawValue
        urn = site.urn
        laCode = site.laCode
    }
}

/// Writes a report or summary to `--out`, never replacing an existing file unless `force`.
/// Checks the file a command is about to write (`--out`) before anything is done: a folder is
/// never replaced (with or without `--force`), and an existing file only with `force` or when
/// `mayReplace` says it is the command's own kind of file (a bundle over an older bundle).
func checkOutFile(_ out: String, force: Bool, mayReplace: (String) -> Bool = { _ in false }) throws {
    guard FileManager.default.fileExists(atPath: out) else { return }
    if PrivateFiles.isFolder(atPath: out) {
        throw CommandFailure(
            code: .io, message: "--out names a folder; it was left as it is.",
            hint: "Give the name of a file to write, in that folder or elsewhere.")
    }
    if PrivateFiles.holdsDataOrKeys(atPath: out) {
        throw CommandFailure(
            code: .io, message: "--out names a SENSync store, a database or a site's key file; it was left as it is.",
            hint: "Give the name of a new file to write (a store or key file is never replaced, even with --force).")
    }
    guard force || mayReplace(out) else {
        throw CommandFailure(
            code: .io, message: "The --out file already exists; it was left as it is.",
            hint: "Choose another name, or add --force to replace it.")
    }
}

func writeOut(_ text: String, to out: String, force: Bool, what: String) throws {
    try checkOutFile(out, force: force)
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
    } catch {
        throw CommandFailure(
            code: .io, message: "The \(what) could not be written to that file.",
            hint: "Check the folder exists and can be written.")
    }
    Terminal.print("Wrote the \(what) to \(out).")
}

/// `--as-of DATE`, checked.
func asOfDate(_ text: String?) throws -> CalendarDate? {
    try text.map { text in
        guard let date = CalendarDate(text) else {
            if CalendarDate.isOutsideKeptRange(text) {
                throw CommandFailure(
                    code: .invalidInput,
                    message: "--as-of is outside the dates SENSync keeps (\(CalendarDate.keptRange)).",
                    hint: "Check the year.")
            }
            throw CommandFailure(code: .invalidInput, message: "--as-of is not a date.", hint: "Use YYYY-MM-DD.")
        }
        return date
    }
}

/// `--within DAYS` (of `due` and `report school`), checked: from today to ``Store/maxDaysAhead``.
func checkWithin(_ days: Int?) throws {
    guard let days else { return }
    guard days >= 0 else {
        throw CommandFailure(
            code: .invalidInput, message: "--within cannot be negative.", hint: "Give a number of days.")
    }
    guard days <= Store.maxDaysAhead else {
        throw CommandFailure(
            code: .invalidInput, message: "--within is at most \(Store.maxDaysAhead) days (100 years).",
            hint: "Give fewer days.")
    }
}
