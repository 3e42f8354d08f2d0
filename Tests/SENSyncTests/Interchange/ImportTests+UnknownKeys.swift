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
}
