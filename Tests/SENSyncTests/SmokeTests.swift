import Foundation
import Testing

@testable import SENSync

struct SmokeTests {
    @Test func anAreaSyncsWithinScopeRelaysTransfersAndForgets() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.add("School", .maintainedSchool)
            // Everyone first hears from the LA (the directory comes with it).
            for (from, to) in [("LA", "Trust"), ("Trust", "Academy"), ("LA", "School")] { try area.send(from, to) }
            let ada = try area["Academy"].addPupil(
                NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "A", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try area["Academy"].addNote(pupil: ada.description, text: "Finds phonics hard", author: "SENCO")
            let bo = try area["School"].addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Bo", surname: "B", dateOfBirth: "2016-05-01"), author: "SENCO"
            )
            // Academy → trust → LA (relay); school → LA.
            try area.send("Academy", "Trust")
            try area.send("Trust", "LA")
            try area.send("School", "LA")
            #expect(try area.pupils(at: "LA") == [ada, bo])
            #expect(try area.pupils(at: "Trust") == [ada])
            // The LA sends back: each sees only its own pupils.
            try area.send("LA", "Trust")
            try area.send("LA", "School")
            try area.send("Trust", "Academy")
            #expect(try area.pupils(at: "School") == [bo])
            #expect(try area.pupils(at: "Academy") == [ada])
            #expect(try area.pupils(at: "Trust") == [ada])
            // The LA transfers Ada to the maintained school; her full history goes with her.
            try area.la.transferPupil(
                ada.description, to: area["School"].identity.id, on: "2026-01-05", author: "LA officer")
            let toSchool = try area.send("LA", "School")
            #expect(toSchool.applied >= 3)
            #expect(try area.pupils(at: "School") == [ada, bo])
            #expect(try area["School"].notes(of: ada.description).map(\.text) == ["Finds phonics hard"])
            // The academy learns she left and forgets her; the trust keeps her until the academy
            // has acknowledged that, then forgets her too.
            try area.send("LA", "Trust")
            #expect(try area.pupils(at: "Trust") == [ada])
            try area.send("Trust", "Academy")
            #expect(try area.pupils(at: "Academy").isEmpty)
            try area.send("Academy", "Trust")
            #expect(try area.pupils(at: "Trust").isEmpty)
            // New notes at the school reach the LA, never the old school.
            try area["School"].addNote(pupil: ada.description, text: "Settling in well", author: "SENCO 2")
            try area.send("School", "LA")
            try area.send("LA", "Trust")
            try area.send("Trust", "Academy")
            #expect(try area.pupils(at: "Academy").isEmpty)
            #expect(try area.la.notes(of: ada.description).count == 2)
        }
    }
}
