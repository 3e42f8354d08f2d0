import Foundation
import Testing

@testable import SENSync

struct SmokeTests {
    @Test func twoSchoolsExchangeABundleAndConverge() throws {
        try withTemporaryDirectory { dir in
            let clock = TestClock()
            let school = try Store.create(at: dir.appendingPathComponent("school.sensync").path, identity: makeSite("Oak", .maintainedSchool), now: clock.now)
            let la = try Store.create(at: dir.appendingPathComponent("la.sensync").path, identity: makeSite("LA", .la), now: clock.now)
            try school.addPeer(la.identity)
            try la.addPeer(school.identity)
            let pupil = try school.addPupil(NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Test", dateOfBirth: "2016-04-01", yearGroup: 4), author: "SENCO")
            try school.addNote(pupil: pupil.description, text: "Finds phonics hard", area: .cognitionLearning, author: "SENCO")
            try school.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD,SLCN"), author: "SENCO")
            let plan = try school.createPlan(pupil: pupil.description, NewSupportPlan(title: "Literacy", reviewDate: "2026-03-01"), author: "SENCO")
            try school.addOutcome(plan: plan.description, description: "Reads 40 words", targetDate: "2026-03-01", author: "SENCO")
            let file = dir.appendingPathComponent("s2la.bundle")
            let summary = try school.makeBundle(to: [la.identity.id], at: file)
            #expect(summary.header.changeCount == 5)
            let report = try la.apply(bundleAt: file)
            #expect(report.applied == 5)
            #expect(try la.digest() == school.digest())
            let again = try la.apply(bundleAt: file)
            #expect(again.result == .alreadyApplied)
            #expect(try la.pupils().count == 1)
            // concurrent edit
            try la.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "LA officer")
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 6), author: "SENCO")
            let f2 = dir.appendingPathComponent("la2s.bundle")
            try la.makeBundle(to: [school.identity.id], at: f2)
            let f3 = dir.appendingPathComponent("s2la2.bundle")
            try school.makeBundle(to: [la.identity.id], at: f3)
            let r2 = try school.apply(bundleAt: f2)
            let r3 = try la.apply(bundleAt: f3)
            #expect(r2.conflictsOpened == 1)
            #expect(r3.conflictsOpened == 1)
            #expect(r3.duplicates == 5)
            #expect(try la.digest() == school.digest())
            #expect(try la.conflicts().count == 1)
            #expect(try school.conflicts().first?.candidates.count == 2)
            try school.resolveConflict(record: pupil.description, field: "year_group", value: .integer(6), author: "SENCO")
            #expect(try school.conflicts().isEmpty)
        }
    }
}
