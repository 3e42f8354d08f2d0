import Foundation
import Testing

@testable import SENSync

extension ImportTests {
    /// Two columns (or keys) for the pupil's UPN, or for the source's id: one of the values was
    /// used without a word (`UPN` beside `U.P.N.`, `id` beside `ID`), where two columns for any
    /// other field are refused.
    @Test func theUPNOrIDGivenTwiceIsAProblem() throws {
        try withTemporaryDirectory { folder in
            let store = try school(folder)
            let upns = try write(
                "UPN,Forename,Surname,DOB,U.P.N.\n\(syntheticUPN(1)),Ada,Example,2016-01-01,\(syntheticUPN(2))\n"
                    + "\(syntheticUPN(3)),Bo,Example,2016-01-01,\(syntheticUPN(4))\n",
                "pupils.csv", in: folder)
            let error = try #require(throws: ImportError.self) {
                try store.importRecords([upns], options: ImportOptions(author: "MIS"))
            }
            // Once for the file, on its heading row.
            #expect(
                error.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason)" } == [
                    "1 UPN Two columns give the UPN; give it once."
                ])
            let ids = try write(
                "ID,UPN,Forename,Surname,DOB,I-D\nP1,\(syntheticUPN(1)),Ada,Example,2016-01-01,P2\n", "pupils.csv",
                in: folder)
            let idError = try #require(throws: ImportError.self) {
                try store.importRecords([ids], options: ImportOptions(author: "MIS"))
            }
            #expect(
                idError.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason)" } == [
                    "1 ID Two columns give the ID; give it once."
                ])
            let json = try write(
                #"""
                {"kind": "pupil", "upn": "\#(syntheticUPN(1))", "UPN": "\#(syntheticUPN(2))", "forename": "Ada", "surname": "Example", "dateOfBirth": "2016-01-01"}
                {"kind": "pupil", "id": "P1", "ID": "P2", "upn": "\#(syntheticUPN(3))", "forename": "Bo", "surname": "Example", "dateOfBirth": "2016-01-01"}
                """#, "p.jsonl", in: folder)
            let keyError = try #require(throws: ImportError.self) {
                try store.importRecords([json], options: ImportOptions(author: "MIS"))
            }
            #expect(
                keyError.problems.map { "\($0.line) \($0.column ?? "-") \($0.reason)" } == [
                    "1 UPN Two columns give the UPN; give it once.", "2 ID Two columns give the ID; give it once.",
                ])
            #expect(try store.pupils().isEmpty)
        }
    }
}
