import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// A pupil's row, as JSON Lines, entering the school on `entry`.
    func pupilLine(_ n: Int, entry: String) -> String {
        #"{"kind": "pupil", "upn": "\#(syntheticUPN(n))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01", "entryDate": "\#(entry)"}"#
    }

    /// An enrolment's row, as JSON Lines.
    func enrolmentLine(_ n: Int, id: String, entry: String, leaving: String? = nil) -> String {
        let leavingKey = leaving.map { #", "leavingDate": "\#($0)""# } ?? ""
        return
            #"{"kind": "enrolment", "id": "\#(id)", "upn": "\#(syntheticUPN(n))", "entryDate": "\#(entry)"\#(leavingKey)}"#
    }

    /// An enrolment that ends before it starts was imported, where every other kind keeps its
    /// dates in order (and `pupil transfer` refuses a date before the pupil joined).
    @Test func anEnrolmentLeavingBeforeItsEntryIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let error = try refusal(
                [
                    pupilLine(1, entry: "2024-09-01"),
                    enrolmentLine(1, id: "EN1", entry: "2024-09-01", leaving: "2024-01-01"),
                ],
                as: "e.jsonl", into: store, in: folder)
            #expect(
                error.problems.map { "\($0.line) \($0.reason)" } == ["2 The leaving date is before the entry date."],
                "\(error.problems)")
            #expect(try store.pupils().isEmpty)
        }
    }

    /// An enrolment row with its own ID is the enrolment of that ID: another ID was matched to
    /// the pupil's open enrolment, so two of the source's enrolments became one record (in one
    /// file: "the same ID" of two different IDs). It may take up only the enrolment no ID names
    /// yet (the one a new pupil's row starts).
    @Test func anEnrolmentWithAnotherIDIsAnotherEnrolment() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            _ = try importing(
                [
                    pupilLine(1, entry: "2022-09-01"),
                    enrolmentLine(1, id: "EN1", entry: "2022-09-01", leaving: "2023-07-20"),
                    enrolmentLine(1, id: "EN2", entry: "2024-09-01"),
                ], as: "first.jsonl", into: store, in: folder)
            #expect(try store.enrolments(of: syntheticUPN(1)).map(\.entryDate) == ["2022-09-01", "2024-09-01"])
            // EN3 is not EN2, though its dates are: the pupil would be on roll here twice at once.
            let before = try store.digest()
            let again = try refusal(
                [enrolmentLine(1, id: "EN3", entry: "2024-09-01")], as: "second.jsonl", into: store, in: folder)
            #expect(again.problems.map(\.line) == [1])
            #expect(again.problems.allSatisfy { $0.reason.contains("overlaps") }, "\(again.problems)")
            #expect(try store.digest() == before)
            // Two open enrolments with two IDs in one file: not "the same ID".
            let both = try refusal(
                [
                    pupilLine(2, entry: "2024-09-01"), enrolmentLine(2, id: "EN4", entry: "2024-09-01"),
                    enrolmentLine(2, id: "EN5", entry: "2025-01-06"),
                ], as: "third.jsonl", into: store, in: folder)
            #expect(both.problems.map(\.line) == [3])
            #expect(both.problems.allSatisfy { $0.reason.contains("overlaps") }, "\(both.problems)")
            #expect(try store.digest() == before)
        }
    }
}
