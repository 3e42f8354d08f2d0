import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// Dates out of order were reported with the command line's options ("Check --review-date and
    /// --start-date.") and no column: a file has no options. The problem names the column of the
    /// later date, as the row gave it.
    @Test func datesOutOfOrderNameTheColumnOfTheLaterDate() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let error = try refusal(
                [
                    #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01"}"#,
                    #"{"kind": "support_plan", "id": "SP1", "upn": "\#(syntheticUPN(1))", "title": "Talk", "startDate": "2025-10-01", "reviewDate": "2025-09-01"}"#,
                ], as: "p.jsonl", into: store, in: folder)
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason)" } == [
                    "2 reviewDate The review date is before the start date."
                ], "\(error.problems)")
            let csv = try write(
                "UPN,Forename,Surname,DOB\n\(syntheticUPN(1)),Ada,Example,2016-01-01\n", "pupils.csv", in: folder)
            let plans = try write(
                "ID,UPN,Title,Start date,Review date\nSP1,\(syntheticUPN(1)),Talk,2025-10-01,2025-09-01\n",
                "support_plans.csv", in: folder)
            let csvError = try #require(throws: ImportError.self) {
                try store.importRecords([csv, plans], options: ImportOptions(author: "MIS"))
            }
            #expect(
                csvError.problems.map { "\($0.file) \($0.line) \($0.column ?? "-")" } == [
                    "support_plans.csv 2 Review date"
                ], "\(csvError.problems)")
        }
    }
}
