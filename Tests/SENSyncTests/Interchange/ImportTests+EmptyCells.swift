import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// An empty cell is no value (Schemas/import/README.md): a new record takes the field's
    /// default, and a required field left empty is missing. An empty `Status` was refused as
    /// "cannot be cleared", and an empty `Areas of need` on a new concern said so too instead of
    /// "needs".
    @Test func anEmptyCellOnANewRecordTakesTheDefault() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let pupils = try write(
                "UPN,Forename,Surname,DOB\n\(syntheticUPN(1)),Ada,Example,2016-01-01\n", "pupils.csv", in: folder)
            let concerns = try write(
                """
                ID,UPN,Raised on,Raised by (role),Areas of need,Observations,Status
                C1,\(syntheticUPN(1)),2025-10-01,class-teacher,cognition-learning,Finds instructions hard.,
                """, "concerns.csv", in: folder)
            let plans = try write(
                """
                ID,UPN,Title,Status,Start date,Review date
                SP1,\(syntheticUPN(1)),Talk,,2025-10-02,2025-12-01
                """, "support_plans.csv", in: folder)
            let options = ImportOptions(author: "MIS")
            _ = try store.importRecords([pupils, concerns, plans], options: options)
            let concern = try #require(try store.records(Concern.spec, of: syntheticUPN(1)).first)
            #expect(concern.values.text(Concern.Field.status) == "open")
            let plan = try #require(try store.records(SupportPlan.spec, of: syntheticUPN(1)).first)
            #expect(plan.values.text(SupportPlan.Field.status) == "active")
            // The same files again change nothing: an empty cell of a required field leaves the
            // record's value as it is.
            let again = try store.importRecords([pupils, concerns, plans], options: options)
            #expect(again.createdCount == 0 && again.updatedCount == 0 && again.unchanged == 3)

            let noAreas = try write(
                """
                ID,UPN,Raised on,Raised by (role),Areas of need,Observations
                C2,\(syntheticUPN(1)),2025-10-01,class-teacher,,Finds reading hard.
                """, "concerns.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([noAreas], options: options)
            }
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason)" } == [
                    "2 Areas of need A new concern needs Areas of need."
                ], "\(error.problems)")
        }
    }
}
