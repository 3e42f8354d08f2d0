import Foundation
import Testing

@testable import SENSync

/// The import readers on hostile files: what they hold in memory and how deep they go does not
/// grow with the file.
@Suite struct ImportReaderBoundsTests {
    func write(_ bytes: [UInt8], _ name: String, in folder: URL) throws -> ImportFile {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return ImportFile(path: url.path)
    }

    /// Blank rows were skipped by the reader calling itself, one stack frame per blank row: a
    /// file of blank lines overflowed the stack.
    @Test func csvBlankRowsAreSkippedWithoutRecursion() throws {
        try withTemporaryDirectory { folder in
            var text = Array("ID,UPN,Forename\n".utf8)
            text += [UInt8](repeating: 0x0A, count: 100_000)
            text += Array("P1,A801200001001,Ada\n".utf8)
            let counts = try write(text, "pupils.csv", in: folder).countRows()
            #expect(counts.rows == 1 && counts.problems == 0)
        }
    }

    /// A JSON Lines file with no line break was read whole into memory; a line is now refused once
    /// it passes ``JSONLinesReader/maxLineLength``.
    @Test func jsonLinesRefusesALineLongerThanTheLimit() throws {
        try withTemporaryDirectory { folder in
            var text = Array("{\"kind\": \"pupil\"}\n".utf8)
            text += [UInt8](repeating: 0x20, count: JSONLinesReader.maxLineLength + 1)
            let file = try write(text, "records.jsonl", in: folder)
            #expect {
                try file.countRows()
            } throws: { error in
                guard let error = error as? ImportError else { return false }
                return error.problems.first?.line == 2 && error.message.contains("longer than")
            }
        }
    }

    /// A line just within the limit is still read.
    @Test func jsonLinesReadsALineAtTheLimit() throws {
        try withTemporaryDirectory { folder in
            let object = Array("{\"kind\": \"pupil\"}".utf8)
            var text = object + [UInt8](repeating: 0x20, count: JSONLinesReader.maxLineLength - object.count)
            text += Array("\n".utf8)
            let counts = try write(text, "records.jsonl", in: folder).countRows()
            #expect(counts.rows == 1)
        }
    }

    /// A CSV field whose quote is never closed was read to the end of the file into one cell: a
    /// 100 MB file took 200 MB of memory. A row is refused once it passes its limit
    /// (``CSVRowReader/maxRowLength``; smaller here, so the test reads less), from the file and
    /// from bytes alike; a row just within it is read.
    @Test func csvRefusesARowLongerThanTheLimit() throws {
        let limit = 4 * CSVRowReader.readAhead
        try withTemporaryDirectory { folder in
            for (length, quoted) in [
                (limit + CSVRowReader.readAhead + 1, true), (limit + CSVRowReader.readAhead + 1, false),
                (limit - CSVRowReader.readAhead, false), (limit - CSVRowReader.readAhead, true),
            ] {
                var text = Array("ID,UPN,Forename\nP1,A801200001001,Ada\nP2,".utf8)
                if quoted { text += Array("\"".utf8) }
                text += [UInt8](repeating: 0x78, count: length)
                if quoted && length <= limit { text += Array("\"".utf8) }
                text += Array("\nP3,A801200001002,Bo\n".utf8)
                let file = try write(text, "pupils.csv", in: folder)
                for contents in [nil, Data(text)] {
                    let counts = Result {
                        let reader = try CSVRowReader(file, contents: contents, maxRowLength: limit)
                        var rows = 0
                        while try reader.next() != nil { rows += 1 }
                        return rows
                    }
                    if length > limit + CSVRowReader.readAhead {
                        #expect(throws: ImportError.self) { try counts.get() }
                        if case .failure(let error as ImportError) = counts {
                            #expect(error.problems.first?.line == 3 && error.message.contains("longer than"))
                        }
                    } else {
                        #expect(try counts.get() == 3)
                    }
                }
            }
        }
    }

    /// A heading row longer than any kind's headings is refused as line 1, early: one of 20 MB was
    /// read for 21 s into 406 MB and blamed on line 2.
    @Test func csvRefusesAHeadingRowLongerThanTheLimit() throws {
        let long =
            "UPN,Forename," + String(repeating: "H", count: CSVRowReader.maxHeadingLength + CSVRowReader.readAhead)
        let text = Array((long + "\nA801200001001,Ada,x\n").utf8)
        try withTemporaryDirectory { folder in
            let file = try write(text, "pupils.csv", in: folder)
            for contents in [nil, Data(text)] {
                let error = #expect(throws: ImportError.self) { try CSVRowReader(file, contents: contents) }
                #expect(error?.problems.first?.line == 1, "\(String(describing: error))")
                #expect(error?.problems.first?.reason.contains("heading row is longer than") == true)
            }
        }
    }

    /// The fuzz targets give the readers the bytes instead of a file: from the first read on it
    /// must be the same reading, rows, problems and the error that spoils a file alike.
    @Test func bytesGivenWholeAreReadAsTheFileIs() throws {
        let inputs: [(String, String)] = [
            ("records.jsonl", "{\"kind\": \"pupil\", \"upn\": \"A\"}\nnot json\n\n{\"kind\": \"x\"}"),
            ("records.jsonl", ""),
            ("records.jsonl", "\n\n{\"kind\": [1]}\n"),
            ("pupils.csv", "ID,UPN,Forename\nP1,A801200001001,Ada\nP2,only two\n\n\"P3\",\"x\ny\",z\n"),
            ("pupils.csv", "ID,UPN\n\"unclosed,1\n"),
            ("pupils.csv", ""),
        ]
        try withTemporaryDirectory { folder in
            for (name, text) in inputs {
                let file = try write(Array(text.utf8), name, in: folder)
                let fromFile = Result { try file.countRows() }
                let fromBytes = Result { try file.countRows(contents: Data(text.utf8)) }
                switch (fromFile, fromBytes) {
                case (.success(let a), .success(let b)):
                    #expect(a == b, "\(name): \(text.debugDescription)")
                case (.failure(let a as ImportError), .failure(let b as ImportError)):
                    #expect(a.description == b.description, "\(name): \(text.debugDescription)")
                default:
                    Issue.record(
                        "\(name): \(text.debugDescription): \(fromFile) from the file, \(fromBytes) from the bytes")
                }
            }
        }
    }

    /// A JSON line of 200,000 unknown keys took 24 s and 351 MB (a million, two minutes and
    /// 1.15 GB), each key a problem, for 200 problems listed. A line with more keys than any record
    /// has columns is refused as one problem, before it is decoded.
    @Test func jsonLinesRefusesALineWithMoreKeysThanAnyRecord() throws {
        var line = #"{"kind": "pupil", "upn": "A801200001001""#
        for n in 0..<200_000 { line += #", "k\#(n)": 1"# }
        line += "}\n"
        var reader = try JSONLinesReader(ImportFile(path: "records.jsonl"), contents: Data(line.utf8))
        guard case .failure(let problem)? = try reader.next() else {
            Issue.record("read as a row")
            return
        }
        #expect(problem.line == 1)
        #expect(problem.reason.contains("more than 1000 keys"), "\(problem)")
        #expect(try reader.next() == nil)
    }

    /// A heading row of 100,000 columns took 12 s and 179 MB: refused now as a file no MIS made
    /// (one that long is refused for its length, above; 5,000 short ones for their number).
    @Test func csvRefusesAHeadingRowWithMoreColumnsThanAnyRecord() throws {
        let headings = (0..<5_000).map { "Column \($0)" }.joined(separator: ",")
        let file = ImportFile(path: "pupils.csv")
        #expect {
            try file.countRows(contents: Data((headings + "\n").utf8))
        } throws: { error in
            guard let error = error as? ImportError, let problem = error.problems.first else { return false }
            return problem.line == 1 && problem.reason.contains("more than 1000 columns")
        }
    }
}
