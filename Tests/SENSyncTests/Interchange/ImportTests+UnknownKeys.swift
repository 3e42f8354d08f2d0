import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// An unknown JSON key was repeated whenever it read as a key (letters, digits, underscores):
    /// a UPN or a surname given as a key was printed on stderr and in `--json` problems. A key is
    /// repeated now only when it is close to a column of the kind (a typing slip); any other is
    /// named by its place on the line.
    @Test func anUnknownKeyIsRepeatedOnlyWhenItIsAMistypedColumn() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let personal = [syntheticUPN(5), "Smith", "2016-01-01"]
            let json = try write(
                #"""
                {"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01", "\#(personal[0])": "x", "Smith": "y", "surnme": "z", "\#(personal[2])": "w"}
                """#, "p.jsonl", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([json], options: ImportOptions(author: "MIS"))
            }
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason.prefix(44))" } == [
                    "1 - Key 6 on this line is not a column of a pupi",
                    "1 - Key 7 on this line is not a column of a pupi",
                    "1 surnme A key on this line is not a column of a pupi",
                    "1 - Key 9 on this line is not a column of a pupi",
                ], "\(error.problems)")
            // The columns listed are the keys a JSON line gives (a CSV file's headings are listed
            // for a CSV file's unknown heading).
            let listed = try #require(error.problems.first?.reason)
            #expect(
                listed.hasSuffix("its columns are: id, upn, forename, surname, dateOfBirth, yearGroup, entryDate."),
                "\(listed)")
            let said = error.description + error.problems.map(\.description).joined()
            for value in personal { #expect(!said.contains(value), "\(said)") }
            #expect(try store.pupils().isEmpty)
        }
    }

    /// A quote left open took every line after it, other pupils' rows too, into one cell, and
    /// the import said it had imported one row. Refused now, at the row whose quote is open.
    @Test func aQuoteLeftOpenInACSVFileIsRefused() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let pupils = try write(
                """
                UPN,Forename,Surname,DOB
                \(syntheticUPN(1)),Ada,Example,2016-01-01
                \(syntheticUPN(2)),Bo,Example,2016-01-01
                """, "pupils.csv", in: folder)
            _ = try store.importRecords([pupils], options: ImportOptions(author: "MIS"))
            let digest = try store.digest()
            let concerns = try write(
                """
                UPN,Raised on,Raised by (role),Areas of need,Observations
                \(syntheticUPN(1)),2025-01-10,senco,semh,"Struggles with groups
                \(syntheticUPN(2)),2025-01-11,senco,semh,Pupil B's own note

                """, "concerns.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([concerns], options: ImportOptions(author: "MIS"))
            }
            #expect(error.problems.map(\.line) == [2], "\(error.problems)")
            #expect(error.problems.first?.reason.hasPrefix("A quote in this row is never closed") == true)
            #expect(!error.description.contains(syntheticUPN(2)) && !"\(error.problems)".contains("Pupil B"))
            #expect(try store.digest() == digest)
            // A quote inside a quoted cell, written twice, is one quote: the file imports.
            let fine = try write(
                """
                UPN,Raised on,Raised by (role),Areas of need,Observations
                \(syntheticUPN(1)),2025-01-10,senco,semh,"Uses a 5"" ruler
                and a reading window"

                """, "concerns.csv", in: folder)
            _ = try store.importRecords([fine], options: ImportOptions(author: "MIS"))
        }
    }
}
