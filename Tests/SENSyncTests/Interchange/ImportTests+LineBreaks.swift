import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// Multi-line text from a Windows export has CR LF line breaks (in a quoted CSV cell, or
    /// `\r\n` in a JSON string): it was refused as "a character that cannot be recorded", telling
    /// the user to type the text again. Line breaks are kept as LF where the field takes them; a
    /// one-line field still refuses them, saying what to do about a file. Rows after a cell of
    /// CR LF lines are numbered by the lines the cell spans.
    @Test func windowsLineBreaksInMultiLineTextAreKeptAsLineBreaks() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let pupils = try write(
                "UPN,Forename,Surname,DOB\r\n\(syntheticUPN(1)),Ada,Example,2016-01-01\r\n", "pupils.csv", in: folder)
            let heading = "ID,UPN,Raised on,Raised by (role),Areas of need,Observations\r\n"
            let first =
                "C1,\(syntheticUPN(1)),2025-10-01,class-teacher,cognition-learning,\"First line.\r\nSecond line.\"\r\n"
            let bad = try write(
                heading + first + "C2,\(syntheticUPN(1)),2025-13-01,class-teacher,cognition-learning,Reading.\r\n",
                "concerns.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([pupils, bad], options: ImportOptions(author: "MIS"))
            }
            #expect(error.problems.map { "\($0.file) \($0.line)" } == ["concerns.csv 4"], "\(error.problems)")
            let good = try write(heading + first, "concerns.csv", in: folder)
            _ = try store.importRecords([pupils, good], options: ImportOptions(author: "MIS"))
            let concern = try #require(try store.records(Concern.spec, of: syntheticUPN(1)).first)
            #expect(concern.values.text(Concern.Field.observations) == "First line.\nSecond line.")

            let json = try write(
                #"{"kind": "concern", "id": "C3", "upn": "\#(syntheticUPN(1))", "raisedOn": "2025-10-01", "raisedByRole": "class-teacher", "areas": "cognition-learning", "observations": "One\r\nTwo\rThree"}"#,
                "c.jsonl", in: folder)
            _ = try store.importRecords([json], options: ImportOptions(author: "MIS"))
            let texts = try store.records(Concern.spec, of: syntheticUPN(1)).map {
                $0.values.text(Concern.Field.observations)
            }
            #expect(texts.contains("One\nTwo\nThree"), "\(texts)")

            let name = try write(
                #"{"kind": "pupil", "upn": "\#(syntheticUPN(2))", "forename": "Bo", "surname": "Ex\r\nample", "dateOfBirth": "2016-01-01"}"#,
                "p.jsonl", in: folder)
            let refused = try #require(throws: ImportError.self) {
                try store.importRecords([name], options: ImportOptions(author: "MIS"))
            }
            #expect(refused.problems.map { "\($0.line) \($0.column ?? "-")" } == ["1 surname"])
            let reason = try #require(refused.problems.first?.reason)
            #expect(reason.contains("cannot be recorded") && !reason.contains("type the text again"), "\(reason)")
        }
    }

    /// A lone CR in a quoted cell is a line break too (the file's line breaks may be LF, CR LF or
    /// CR): rows after it were numbered one line short.
    @Test func aLoneCRInACellCountsAsALine() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let pupils = try write(
                "UPN,Forename,Surname,DOB\n\(syntheticUPN(1)),Ada,Example,2016-01-01\n", "pupils.csv", in: folder)
            let heading = "ID,UPN,Raised on,Raised by (role),Areas of need,Observations\n"
            let cases = [("\"a\rb\"", "\n", 4), ("\"a\r\nb\rc\nd\"", "\r\n", 6), ("\"a\rb\"", "\r", 4)]
            for (cell, end, line) in cases {
                let text =
                    heading.replacingOccurrences(of: "\n", with: end)
                    + "C1,\(syntheticUPN(1)),2025-10-01,class-teacher,cognition-learning,\(cell)\(end)"
                    + "C2,\(syntheticUPN(1)),2025-10-01,bogus-role,cognition-learning,Reading.\(end)"
                let bad = try write(text, "concerns.csv", in: folder)
                let error = try #require(throws: ImportError.self) {
                    try store.importRecords([pupils, bad], options: ImportOptions(author: "MIS"))
                }
                #expect(error.problems.map { "\($0.file) \($0.line)" } == ["concerns.csv \(line)"], "\(error.problems)")
            }
        }
    }
}
