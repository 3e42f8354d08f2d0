import Foundation
import Testing

@testable import SENSync

/// Sync health as the LA sees one school: never exchanged, in step, behind, and in step again.
struct SyncHealthTests {
    @Test func theLAsViewOfASchoolFollowsTheExchanges() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Oakfield", .maintainedSchool)
            func health() throws -> PeerHealth {
                try #require(try area.la.syncHealth().first { $0.site.id == school.identity.id })
            }
            #expect(try health().verdict == .needsAttention("no bundle exchanged yet"))
            let pupil = try school.addPupil(
                NewPupil(upn: syntheticUPN(7300), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try area.send("Oakfield", "LA")
            var h = try health()
            #expect(h.lastReceived != nil && h.lastSent == nil)
            #expect(h.theyLack == 0 && h.weLack == 0 && h.verdict == .inStep)
            // The LA writes about the pupil: the school now lacks one change it may see.
            try area.la.addNote(pupil: pupil.description, text: "LA: EP visit booked", author: "LA officer")
            h = try health()
            #expect(h.theyLack == 1 && h.verdict == .behind(theyLack: 1, weLack: 0, since: nil))
            // Sent, and the school says it holds it: in step.
            try area.send("LA", "Oakfield")
            #expect(try health().lastSent != nil)
            try area.send("Oakfield", "LA")
            #expect(try health().verdict == .inStep)
            // The school records more and says so in a bundle made before the LA hears of it: the LA
            // knows it lacks nothing yet; what the school holds beyond is counted once its bundle arrives.
            try school.addNote(pupil: pupil.description, text: "Settling well", author: "SENCO")
            #expect(try health().verdict == .inStep)
            try area.send("Oakfield", "LA")
            #expect(try health().verdict == .inStep)
            // The school's view of the LA never counts what the LA holds beyond its pupils.
            let atSchool = try #require(try school.syncHealth().first { $0.site.id == area.la.identity.id })
            #expect(atSchool.weLack == nil)
        }
    }
}
