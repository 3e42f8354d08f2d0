import CSV
import Foundation

/// A file `sensync import` reads, and how.
public struct ImportFile: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        /// One record per line, each a JSON object naming its kind (`Schemas/import/`).
        case jsonLines = "jsonl"
        /// One kind per file, a heading row of MIS column names, one record per row.
        case csv

        /// The format a file's name gives (`.csv`; `.jsonl`, `.ndjson` or `.json`), if any.
        public static func named(by path: String) -> Format? {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "csv": .csv
            case "jsonl", "ndjson", "json": .jsonLines
            default: nil
            }
        }
    }

    public var path: String
    public var format: Format
    /// For CSV: the kind every row is (by default the one the file's name names, `pupils.csv`).
    public var kind: KindSpec?

    /// - Parameter format: The file's format; by default the one its name gives, and JSON Lines
    ///   when its name gives none (`sensync import` asks for `--format` instead).
    public init(path: String, format: Format? = nil, kind: KindSpec? = nil) {
        self.path = path
        self.format = format ?? Format.named(by: path) ?? .jsonLines
        // `pupils.csv`, `sen_needs.csv`: a CSV file is named after its kind unless told.
        self.kind =
            kind
            ?? (self.format == .csv
                ? ImportFormat.kind(named: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent) : nil)
    }

    /// Whether the path names a folder (which opens, but cannot be read as a file).
    var isFolder: Bool { PrivateFiles.isFolder(atPath: path) }

    /// The file's name without its folder: how problems name it (folders can name people).
    public var name: String {
        // As `URL.lastPathComponent`, without parsing a URL for every problem a file has.
        path.split(separator: "/").last.map(String.init) ?? (path.isEmpty ? "" : "/")
    }
}

extension ImportFile {
    /// Reads every row of the file with the reader `sensync import` uses, and counts rows and
    /// problems without checking or storing anything (the fuzz targets drive the readers with it).
    ///
    /// - Throws: ``ImportError`` for a problem that spoils the whole file.
    /// - Parameter contents: The file's bytes, read instead of the file at ``path`` (the fuzz
    ///   targets, thousands of inputs a second).
    package func countRows(contents: Data? = nil) throws -> (rows: Int, problems: Int) {
        var reader: any ImportRowReader =
            format == .csv ? try CSVRowReader(self, contents: contents) : try JSONLinesReader(self, contents: contents)
        var counts = (rows: 0, problems: 0)
        while let result = try reader.next() {
            switch result {
            case .success: counts.rows += 1
            case .failure: counts.problems += 1
            }
        }
        return counts
    }
}

/// One row as read, before it is checked: where it is and what each cell holds.
struct RawImportRow: Sendable {
    var line: Int
    /// The kind the row names (JSON Lines) or the file's kind (CSV); `nil` if neither says.
    var kind: KindSpec?
    /// Set when a line names a kind SENSync does not import (its name is not repeated).
    var unknownKind = false
    /// Each cell by heading (CSV) or key (JSON); `nil` for an empty or null cell.
    var cells: [(name: String, text: String?)]
    /// The cells (by position) whose JSON value was a number or true/false, not a string: only a
    /// field whose schema takes one may have it (`Schemas/import/line.schema.json`).
    var untyped: Set<Int> = []
}

/// Reads rows from a file one at a time, so memory stays flat whatever the file's size.
protocol ImportRowReader {
    /// The next row, or `nil` at the end. Problems that spoil one row (a line that is not JSON)
    /// are returned as problems; problems that spoil the file are thrown.
    mutating func next() throws -> Result<RawImportRow, ImportProblem>?
    /// Bytes read so far (for progress).
    var bytesRead: Int { get }
}

/// JSON Lines, read in blocks: one object per line; blank lines are skipped.
struct JSONLinesReader: ImportRowReader {
    /// The longest line read, in bytes: far above any record, so a file without line breaks is
    /// refused instead of being read whole into memory.
    static let maxLineLength = 16 << 20

    let file: ImportFile
    /// The open file, or `nil` when the bytes were given whole (then already in `buffer`).
    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private var line = 0
    private(set) var bytesRead = 0
    private let decoder = JSONDecoder()

    /// A value on a line: numbers and true/false are read as the text a person would type, and
    /// marked as not given as text (where the schema has text they are a problem).
    enum Cell: Decodable, Equatable {
        case text(String)
        /// A number or true/false, as text.
        case untyped(String)
        case null

        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            // Most values are text: tried first (a failed attempt throws, which costs).
            if value.decodeNil() {
                self = .null
            } else if let text = try? value.decode(String.self) {
                self = .text(text)
            } else if let whole = try? value.decode(Int64.self) {
                self = .untyped(String(whole))
            } else if let number = try? value.decode(Double.self) {
                self = .untyped(String(number))
            } else {
                self = .untyped(try value.decode(Bool.self) ? "yes" : "no")
            }
        }
    }

    /// Reads `file`, or `contents` in its place.
    init(_ file: ImportFile, contents: Data? = nil) throws {
        self.file = file
        if let contents {
            handle = nil
            buffer = Array(contents)
            bytesRead = contents.count
            atEnd = true
        } else {
            guard !file.isFolder, let handle = FileHandle(forReadingAtPath: file.path) else {
                throw ImportError.unreadable(file)
            }
            self.handle = handle
        }
    }

    /// Why a line that does not decode as a row is not one: not UTF-8, not JSON at all (a line cut
    /// short, most often), or JSON of another shape.
    static func whyNotARow(_ bytes: ArraySlice<UInt8>) -> String {
        // A NUL byte is no JSON text's, and the JSON decoder reads a line holding them as UTF-16.
        if bytes.contains(0) || String(validating: bytes, as: UTF8.self) == nil {
            return "This line is not UTF-8 text: save the file as UTF-8 and import it again."
        }
        let outsideJSON = Self.scan(bytes)
        if outsideJSON.closedAfterComma
            || (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil
        {
            // Valid JSON, but no value any field can hold.
            if outsideJSON.numberTooLarge {
                return
                    "This line holds a number too large to be any field's value; give the number as the MIS shows it."
            }
            return "This line is not valid JSON (it may be cut short); each line holds one whole JSON object."
        }
        return
            "This line is not a JSON object of texts, numbers, true/false and nulls (lists and objects cannot be imported)."
    }

    mutating func next() throws -> Result<RawImportRow, ImportProblem>? {
        while true {
            guard let bytes = try nextLine() else { return nil }
            line += 1
            // Saved as UTF-16 (Excel's and PowerShell's "Unicode"): every line would be refused.
            if line == 1, bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
                throw ImportError.file(
                    ImportProblem(
                        file: file.name, line: 1,
                        reason: "The file is UTF-16 text, not UTF-8: save it as UTF-8 and import it again."))
            }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            if bytes.contains(0) {
                return .failure(ImportProblem(file: file.name, line: line, reason: Self.whyNotARow(bytes)))
            }
            // More keys than any record has columns (a line of 200,000 unknown keys took 24 s and
            // 351 MB, one problem a key): refused before it is decoded, as one problem.
            let scan = Self.scan(bytes, limit: ImportFormat.maxColumns)
            let spans = scan.keySpans
            guard spans.count <= ImportFormat.maxColumns else {
                return .failure(
                    ImportProblem(
                        file: file.name, line: line,
                        reason:
                            "This line has more than \(ImportFormat.maxColumns) keys, far more than a record has columns (is it one record?)."
                    ))
            }
            let fields: [String: Cell]
            do {
                // Foundation reads an object closed after a comma; RFC 8259 does not allow it.
                guard !scan.closedAfterComma else { throw CocoaError(.coderReadCorrupt) }
                fields = try decoder.decode([String: Cell].self, from: Data(bytes))
            } catch {
                return .failure(ImportProblem(file: file.name, line: line, reason: Self.whyNotARow(bytes)))
            }
            // A key given twice: the decoder keeps one value without a word.
            let keys = Self.keys(bytes, spans: spans)
            guard keys.count == fields.count else {
                return .failure(
                    ImportProblem(
                        file: file.name, line: line,
                        reason: "This line gives a key more than once; give each field once."))
            }
            // An optional first line names the format and version.
            if case .text(let format)? = fields["format"], fields[ImportFormat.kindKey] == nil {
                let version = String(ImportFormat.version)
                guard format == ImportFormat.formatName,
                    fields["version"] == .untyped(version) || fields["version"] == .text(version)
                else {
                    return .failure(
                        ImportProblem(
                            file: file.name, line: line,
                            reason:
                                "This file is not \(ImportFormat.formatName) version \(ImportFormat.version) (Schemas/import/)."
                        ))
                }
                continue
            }
            // The keys in the line's order, `kind` among them: a key is named by its place on the
            // line when its text is not repeated.
            var row = RawImportRow(line: line, kind: nil, cells: [])
            row.cells.reserveCapacity(keys.count)
            for key in keys {
                let value = fields[key] ?? .null
                if key == ImportFormat.kindKey {
                    if case .text(let name) = value { row.kind = ImportFormat.kind(named: name) }
                    row.unknownKind = row.kind == nil
                }
                switch value {
                case .text(let text): row.cells.append((key, text))
                case .untyped(let text):
                    row.untyped.insert(row.cells.count)
                    row.cells.append((key, text))
                case .null: row.cells.append((key, nil))
                }
            }
            return .success(row)
        }
    }

    /// What one scan of a line's bytes outside its texts finds: where each key is (each string
    /// followed by a colon, quotes included; past `limit` keys the scan stops, and the line is
    /// refused for them), and what it holds outside JSON as RFC 8259 defines it: an object or list
    /// closed right after a comma (which Foundation's parsers accept), and a number no `Double`
    /// holds (valid JSON that they refuse as if it were not).
    struct LineScan {
        var keySpans: [Range<Int>] = []
        var closedAfterComma = false
        var numberTooLarge = false
    }

    static func scan(_ bytes: ArraySlice<UInt8>, limit: Int = .max) -> LineScan {
        var scan = LineScan()
        var (inString, escaped, start) = (false, false, bytes.startIndex)
        var lastString: Range<Int>?
        // The last byte outside whitespace (a text's closing quote for a text).
        var last: UInt8 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    lastString = start..<index
                    last = byte
                }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0D, 0x0A: continue
            case UInt8(ascii: "\""):
                inString = true
                start = index - 1
            case UInt8(ascii: ":"):
                if let lastString {
                    scan.keySpans.append(lastString)
                    if scan.keySpans.count > limit { return scan }
                }
                lastString = nil
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if last == UInt8(ascii: ",") { scan.closedAfterComma = true }
                lastString = nil
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A number: its bytes up to the next delimiter.
                var end = index
                while end < bytes.endIndex, !Self.delimiters.contains(bytes[end]) { end += 1 }
                if let number = Double(String(decoding: bytes[(index - 1)..<end], as: UTF8.self)), !number.isFinite {
                    scan.numberTooLarge = true
                }
                index = end
                lastString = nil
            default: lastString = nil
            }
            last = byte
        }
        return scan
    }

    private static let delimiters: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A, 0x22, 0x2C, 0x3A, 0x5D, 0x7D]

    /// The keys of a flat JSON object that decoded, in the order the line gives them (a key given
    /// twice listed twice).
    static func keys(_ bytes: ArraySlice<UInt8>, spans: [Range<Int>]? = nil) -> [String] {
        (spans ?? scan(bytes).keySpans).map { span in
            let quoted = bytes[span]
            // Most keys hold no escape: their bytes are the key.
            guard quoted.contains(UInt8(ascii: "\\")) else {
                return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
            }
            return (try? JSONDecoder().decode(String.self, from: Data(quoted))) ?? ""
        }
    }

    /// The next line's bytes (without its newline), or `nil` at the end of the file.
    private mutating func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                start = newline + 1
                return line
            }
            guard buffer.count - start <= Self.maxLineLength else {
                throw ImportError.file(
                    ImportProblem(
                        file: file.name, line: line + 1,
                        reason:
                            "This line is longer than \(Self.maxLineLength >> 20) MiB, so it is not one record (is the file JSON Lines, one record per line?)."
                    ))
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            // `read(upToCount:)` throws where `readData(ofLength:)` would stop the program (a
            // folder given as the file, a disk error).
            let block: Data
            do { block = try handle?.read(upToCount: 1 << 20) ?? Data() } catch { throw ImportError.unreadable(file) }
            if block.isEmpty { atEnd = true }
            bytesRead += block.count
            buffer.append(contentsOf: block)
        }
    }
}

/// CSV through yaslab/CSV.swift's streaming reader: a heading row, then one record per row.
/// Line numbers count the lines a quoted cell spans.
final class CSVRowReader: ImportRowReader {
    /// The longest row read, in bytes: far above any record, so a quote never closed (or a file
    /// with no line breaks) is refused instead of being read whole into one cell in memory.
    static let maxRowLength = 16 << 20
    /// What the CSV reader may have read ahead of the row it is on (its buffer is 64 KiB): a row
    /// is measured by what was read from the file while reading it, so rows up to
    /// `maxRowLength - readAhead` bytes are always read, and rows longer than
    /// `maxRowLength + readAhead` never.
    static let readAhead = 1 << 17
    /// The longest heading row read, in bytes: room for ``ImportFormat/maxColumns`` long headings
    /// (a 20 MB heading row took 21 s and 406 MB before it was refused, as line 2).
    static let maxHeadingLength = 1 << 20

    let file: ImportFile
    private let reader: CSVReader
    /// The heading row, each heading trimmed of spaces (and the first of a byte-order mark).
    let headings: [String]
    private let counter: CountingStream
    private let maxRowLength: Int
    private var line = 1
    /// The line the last row read began on.
    private var lastRowLine: Int?

    var bytesRead: Int { counter.count }

    /// Reads `file`, or `contents` in its place, refusing a row longer than `maxRowLength` bytes.
    init(_ file: ImportFile, contents: Data? = nil, maxRowLength: Int = CSVRowReader.maxRowLength) throws {
        self.file = file
        self.maxRowLength = maxRowLength
        if let contents {
            counter = CountingStream(
                InputStream(data: contents), size: contents.count, rowLimit: min(maxRowLength, Self.maxHeadingLength))
        } else {
            // A symbolic link is followed: one to nothing (or to itself) cannot be read, which is
            // what is said (it read as a file with no heading row).
            let target = URL(fileURLWithPath: file.path).resolvingSymlinksInPath().path
            guard !file.isFolder, FileManager.default.isReadableFile(atPath: file.path),
                let stream = InputStream(fileAtPath: file.path),
                let size = (try? FileManager.default.attributesOfItem(atPath: target))?[.size] as? Int
            else { throw ImportError.unreadable(file) }
            counter = CountingStream(stream, size: size, rowLimit: min(maxRowLength, Self.maxHeadingLength))
        }
        let headingTooLong = ImportError.file(
            ImportProblem(
                file: file.name, line: 1,
                reason:
                    "The heading row is longer than \(ByteCountFormatter.string(fromByteCount: Int64(Self.maxHeadingLength), countStyle: .binary)), far longer than a record's headings (is this one kind's export?)."
            ))
        do {
            reader = try CSVReader(stream: counter, hasHeaderRow: true)
        } catch {
            if counter.rowTooLong { throw headingTooLong }
            throw ImportError.file(ImportProblem(file: file.name, line: 1, reason: "The file has no heading row."))
        }
        if counter.rowTooLong { throw headingTooLong }
        counter.rowLimit = maxRowLength
        var headings = reader.headerRow ?? []
        if let first = headings.first, first.hasPrefix("\u{FEFF}") { headings[0] = String(first.dropFirst()) }
        self.headings = headings.map { $0.trimmingCharacters(in: .whitespaces) }
        // UTF-16 without a byte-order mark reads as UTF-8 with a NUL after every letter: the
        // headings matched with their NULs dropped, and every row was refused for its values.
        if self.headings.contains(where: { $0.utf8.contains(0) }) {
            throw ImportError.file(
                ImportProblem(
                    file: file.name, line: 1,
                    reason:
                        "The file is not UTF-8 text (its heading row holds NUL bytes, as UTF-16 text does): save it as CSV UTF-8 and import it again."
                ))
        }
        // More columns than any record has (a heading row of 100,000 took 12 s and 179 MB):
        // no MIS export of one kind, and each unknown heading would be a problem.
        guard self.headings.count <= ImportFormat.maxColumns else {
            throw ImportError.file(
                ImportProblem(
                    file: file.name, line: 1,
                    reason:
                        "The heading row has more than \(ImportFormat.maxColumns) columns, far more than a record has (is this one kind's export?)."
                ))
        }
        // An export made without its heading row: the first pupil's details where the headings
        // should be (never repeated in a message).
        if self.headings.contains(where: { (try? Check.upn($0)) != nil || CalendarDate($0) != nil }) {
            throw ImportError.file(
                ImportProblem(
                    file: file.name, line: 1,
                    reason:
                        "The first line holds values, not column headings: export the file again with its heading row (the columns are in Schemas/import/)."
                ))
        }
        // The same heading twice: which value is meant cannot be known.
        var seen: [String: Int] = [:]
        for (position, heading) in self.headings.enumerated() where !heading.isEmpty {
            if let first = seen[heading.lowercased()] {
                throw ImportError.file(
                    ImportProblem(
                        file: file.name, line: 1,
                        reason: "Columns \(first + 1) and \(position + 1) have the same heading; give each column once."
                    ))
            }
            seen[heading.lowercased()] = position
        }
        line += (reader.headerRow ?? []).reduce(0) { $0 + Self.lineBreaks(in: $1) }
    }

    /// The line breaks in a cell as the file's lines count them: LF, CR LF and a lone CR, one
    /// each (by their bytes: a CR LF is one `Character`, not equal to "\n").
    static func lineBreaks(in text: String) -> Int {
        var count = 0
        var afterCR = false
        for byte in text.utf8 {
            if byte == 0x0A && !afterCR || byte == 0x0D { count += 1 }
            afterCR = byte == 0x0D
        }
        return count
    }

    func next() throws -> Result<RawImportRow, ImportProblem>? {
        // A loop, not a call to itself per blank row: a file of blank lines must not grow the stack.
        while true {
            counter.startRow()
            let next = reader.next()
            guard !counter.rowTooLong else {
                throw ImportError.file(
                    ImportProblem(
                        file: file.name, line: line + 1,
                        reason:
                            "This row is longer than \(ByteCountFormatter.string(fromByteCount: Int64(maxRowLength), countStyle: .binary)), so it is not one record (is a quote left open?)."
                    ))
            }
            guard let fields = next else {
                // Bytes that are not UTF-8 by the line they are on (the reader stops later, and
                // would name a line past them); else where the reader stopped.
                if let invalid = counter.firstInvalidLine {
                    throw ImportError.file(
                        ImportProblem(
                            file: file.name, line: invalid,
                            reason: "This line is not UTF-8 text: save the file as CSV UTF-8 and import it again."))
                }
                if reader.error != nil {
                    throw ImportError.file(
                        ImportProblem(
                            file: file.name, line: line + 1,
                            reason: "The file is not valid CSV from here (is a quote left open?)."))
                }
                if counter.quotes % 2 == 1 {
                    throw ImportError.file(
                        ImportProblem(
                            file: file.name, line: lastRowLine ?? line,
                            reason:
                                "A quote in this row is never closed, so every line after it was read into one cell: close it (a quote inside a cell is written twice, \"\") and import again."
                        ))
                }
                return nil
            }
            line += 1
            let row = line
            lastRowLine = row
            line += fields.reduce(0) { $0 + Self.lineBreaks(in: $1) }
            if fields.count == 1 && fields[0].isEmpty { continue }
            guard fields.count == headings.count else {
                return .failure(
                    ImportProblem(
                        file: file.name, line: row,
                        reason: "This row has \(fields.count) cells; the heading row has \(headings.count)."))
            }
            return .success(
                RawImportRow(
                    line: row, kind: file.kind,
                    cells: zip(headings, fields).map {
                        ($0, $1.trimmedOfSpace.isEmpty ? nil : $1)
                    }))
        }
    }
}

/// A file's input stream that counts the bytes read through it (for progress), and says it has
/// more only until the file's size is read: the CSV reader asks before each read, and a file
/// stream on Linux says yes once more at the end.
final class CountingStream: InputStream {
    private let base: InputStream
    private let size: Int
    private(set) var count = 0
    /// The most bytes read for one row (``startRow()`` starts one): past it the stream ends, and
    /// ``rowTooLong`` says why.
    var rowLimit: Int
    private var rowStart = 0
    private(set) var rowTooLong = false

    init(_ base: InputStream, size: Int, rowLimit: Int = .max) {
        self.base = base
        self.size = size
        self.rowLimit = rowLimit
        super.init(data: Data())
    }

    /// The reader starts on a row: what it reads from here on counts toward ``rowLimit``.
    func startRow() { rowStart = count }

    override func open() { base.open() }
    override func close() { base.close() }
    override var hasBytesAvailable: Bool { count < size && !rowTooLong && base.hasBytesAvailable }
    override var streamStatus: Stream.Status { base.streamStatus }
    override var streamError: Error? { base.streamError }

    override func read(_ buffer: UnsafeMutablePointer<UInt8>, maxLength len: Int) -> Int {
        guard count - rowStart < rowLimit else {
            rowTooLong = true
            return 0
        }
        let n = base.read(buffer, maxLength: min(len, rowLimit - (count - rowStart)))
        if n > 0 {
            count += n
            let bytes = UnsafeBufferPointer(start: buffer, count: n)
            if firstInvalidLine == nil { checkUTF8(bytes) }
            for byte in bytes where byte == 0x22 { quotes += 1 }
        }
        return n
    }

    /// The quotes read so far. In CSV they come in pairs (a quoted cell's two, and a quote inside
    /// one written twice), so an odd count at the end is a quote left open: the reader took
    /// everything after it, other pupils' rows too, as one cell.
    private(set) var quotes = 0

    /// The line (counting every line break, as problems do) of the first byte that is not UTF-8:
    /// the CSV reader only says, once it stops, that something was not.
    private(set) var firstInvalidLine: Int?
    private var line = 1
    /// Continuation bytes the character being read still needs.
    private var pending = 0

    private func checkUTF8(_ bytes: UnsafeBufferPointer<UInt8>) {
        for byte in bytes {
            if pending > 0 {
                guard byte & 0xC0 == 0x80 else {
                    firstInvalidLine = line
                    return
                }
                pending -= 1
                continue
            }
            switch byte {
            case 0x0A: line += 1
            case 0..<0x80: break
            case 0xC2...0xDF: pending = 1
            case 0xE0...0xEF: pending = 2
            case 0xF0...0xF4: pending = 3
            default:
                firstInvalidLine = line
                return
            }
        }
    }

    override func getBuffer(
        _ buffer: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, length len: UnsafeMutablePointer<Int>
    ) -> Bool { false }
}
