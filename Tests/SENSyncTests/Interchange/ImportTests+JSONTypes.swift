import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// `true` or a number where the schema has text (`Schemas/import/line.schema.json`: string or
    /// null) was taken as the words a person would type: `"surname": true` made a pupil named
    /// "yes". Numbers stay welcome where the schema takes them (a year group, a rank, a cost, a
    /// record's id as a whole number).
    @Test func aNumberOrTrueWhereTheSchemaHasTextIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let error = try refusal(
                [
                    #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": true, "dateOfBirth": "2016-01-01", "yearGroup": 4}"#,
                    #"{"kind": "pupil", "upn": "\#(syntheticUPN(2))", "forename": 12, "surname": "Example", "dateOfBirth": "2016-01-01"}"#,
                    #"{"kind": "pupil", "id": false, "upn": "\#(syntheticUPN(3))", "forename": "Bo", "surname": "Example", "dateOfBirth": "2016-01-01"}"#,
                ], as: "p.jsonl", into: store, in: folder)
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-")" } == ["1 surname", "2 forename", "3 id"],
                "\(error.problems)")
            #expect(error.problems.allSatisfy { $0.reason.contains("in quotes") }, "\(error.problems)")
            #expect(try store.pupils().isEmpty)

            _ = try importing(
                [
                    #"{"kind": "pupil", "upn": "\#(syntheticUPN(1))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01", "yearGroup": 4}"#,
                    #"{"kind": "sen_need", "id": "N1", "upn": "\#(syntheticUPN(1))", "need": "SLCN", "rank": 1, "startDate": "2024-09-10"}"#,
                    #"{"kind": "pupil", "id": 17, "upn": "\#(syntheticUPN(4))", "forename": "Cy", "surname": "Example", "dateOfBirth": "2016-01-01"}"#,
                ], as: "ok.jsonl", into: store, in: folder)
            #expect(try store.pupil(syntheticUPN(1)).yearGroup == 4)
            // A numeric id is its digits: the same record when given again as text.
            let again = try importing(
                [
                    #"{"kind": "pupil", "id": "17", "upn": "\#(syntheticUPN(4))", "forename": "Cy", "surname": "Example", "dateOfBirth": "2016-01-01"}"#
                ], as: "again.jsonl", into: store, in: folder)
            #expect(again.changes == 0)
        }
    }
}
