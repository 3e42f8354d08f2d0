import Foundation
import Testing

@testable import SENSync

/// Sync health as the LA sees one school: never exchanged, in step, behind, and in step again.
struct SyncHealthTests {
    /// An LA, a trust and an academy in it that has the directory (through the trust) and one pupil.
    static func academyInATrust(_ dir: URL, pupil n: Int) throws -> (TestArea, Store, RecordID) {
        let area = try TestArea(folder: dir)
        try area.add("Trust", .trust)
        let academy = try area.add("Academy", .academy, trust: "Trust")
        try area.send("LA", "Trust")
        try area.send("Trust", "Academy")
        let pupil = try academy.addPupil(
            NewPupil(upn: syntheticUPN(n), forename: "Bo", surname: "Example", dateOfBirth: "2016-04-01"),
            author: "SENCO")
        return (area, academy, pupil)
    }

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
            // Four weeks with nothing from the school: nobody here knows what it has recorded since,
            // so it is not "in step" (it was, however long the silence).
            let lastHeard = try #require(try health().lastReceived)
            area.clock.advance(seconds: 27 * 86_400)
            #expect(try health().verdict == .inStep)
            area.clock.advance(seconds: 2 * 86_400)
            let silent = try health()
            #expect(
                silent.verdict == .needsAttention("nothing received from it since \(lastHeard) (29 days)"),
                "\(silent.verdictText)")
            try area.send("Oakfield", "LA")
            #expect(try health().verdict == .inStep)
        }
    }

    /// A site bundles were made for that has never sent one: four weeks on, nobody here knows what
    /// it has recorded (it read "in step" for ever, since it lacked nothing).
    @Test func aSiteThatNeverAnsweredNeedsAttentionAfterFourWeeks() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Oakfield", .maintainedSchool)
            _ = try area.make("LA", "Oakfield")
            func health() throws -> PeerHealth {
                try #require(try area.la.syncHealth().first { $0.site.id == school.identity.id })
            }
            let first = try #require(try health().lastSent)
            #expect(try health().verdict == .inStep)
            area.clock.advance(seconds: 29 * 86_400)
            _ = try area.make("LA", "Oakfield")
            let silent = try health()
            #expect(
                silent.verdict
                    == .needsAttention(
                        "nothing received from it since the first bundle made for it, \(first) (29 days)"),
                "\(silent.verdictText)")
        }
    }

    /// An academy exchanges with the LA through its trust: the LA never hears what it holds from
    /// the academy itself, so once the LA had made it one bundle directly, it reported the academy
    /// lacking every change since, however many rounds went through the trust.
    @Test func anAcademyReachedThroughItsTrustIsNotReportedBehind() throws {
        try withTemporaryDirectory { dir in
            let (area, academy, pupil) = try Self.academyInATrust(dir, pupil: 7301)
            try area.send("Academy", "Trust")
            try area.send("Trust", "LA")
            try area.la.addNote(pupil: pupil.description, text: "LA: EP visit booked", author: "LA officer")
            try area.send("LA", "Academy")  // once, directly
            try area.la.addNote(pupil: pupil.description, text: "LA: EP visit held", author: "LA officer")
            for (from, to) in [("LA", "Trust"), ("Trust", "Academy"), ("Academy", "Trust"), ("Trust", "LA")] {
                try area.send(from, to)
            }
            let health = try area.la.syncHealth()
            let atAcademy = try #require(health.first { $0.site.id == academy.identity.id })
            #expect(atAcademy.verdict == .throughTrust("Trust") && atAcademy.theyLack == nil, "\(atAcademy)")
            #expect(atAcademy.lastSent != nil)
            let atTrust = try #require(health.first { $0.site.name == "Trust" })
            #expect(atTrust.verdict == .inStep, "\(atTrust)")
        }
    }

    /// An academy in a trust is reached through it, whatever it once sent the LA directly (before
    /// it joined, say): four weeks on, the LA reported it silent and lacking its own changes, which
    /// had all come through the trust. At the academy, the LA is reached through the trust too (it
    /// read "no bundle exchanged yet").
    @Test func anAcademyThatOnceSentDirectlyIsStillReachedThroughItsTrust() throws {
        try withTemporaryDirectory { dir in
            let (area, academy, pupil) = try Self.academyInATrust(dir, pupil: 7302)
            try area.send("Academy", "LA")  // once, directly
            for day in 1...5 {
                area.clock.advance(seconds: 7 * 86_400)
                try academy.addNote(pupil: pupil.description, text: "Week \(day).", author: "SENCO")
                for (from, to) in [("Academy", "Trust"), ("Trust", "LA"), ("LA", "Trust"), ("Trust", "Academy")] {
                    try area.send(from, to)
                }
            }
            let atLA = try #require(try area.la.syncHealth().first { $0.site.id == academy.identity.id })
            #expect(atLA.verdict == .throughTrust("Trust") && atLA.theyLack == nil, "\(atLA.verdictText)")
            let other = try area.add("Other Academy", .academy, trust: "Trust")
            try area.send("LA", "Trust")
            try area.send("Trust", "Other Academy")
            let laAtOther = try #require(try other.syncHealth().first { $0.site.id == area.la.identity.id })
            #expect(laAtOther.verdict == .throughTrust("Trust"), "\(laAtOther.verdictText)")
        }
    }
    /// A school that sent a bundle straight to another (a pupil it transferred there) has nobody
    /// to hear from: the other school lacks nothing from it and exchanges with the LA, not with
    /// it. Four weeks on, it read "needs attention: nothing received from it" for ever; only the
    /// sites a store exchanges with as a rule (the LA, its trust, its academies) fall silent.
    @Test func aSchoolSentADirectTransferIsNotAwaitedForEver() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let old = try area.add("Old", .maintainedSchool)
            let new = try area.add("New", .maintainedSchool)
            try area.send("LA", "Old")
            try area.send("LA", "New")
            let pupil = try old.addPupil(
                NewPupil(upn: syntheticUPN(7303), forename: "Cy", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try old.transferPupil(pupil.description, to: new.identity.id, on: "2026-01-05", author: "SENCO")
            try area.send("Old", "New")
            try area.send("Old", "LA")
            func health() throws -> PeerHealth {
                try #require(try old.syncHealth().first { $0.site.id == new.identity.id })
            }
            // Until it hears otherwise, Old counts what it sent as lacking: New never answers it.
            var h = try health()
            #expect(h.verdict == .behind(theyLack: 2, weLack: 0, since: "2026-01-05"), "\(h.verdictText)")
            area.clock.advance(seconds: 29 * 86_400)
            try area.send("LA", "Old")
            try area.send("Old", "LA")  // Old passes the pupil on: New may see nothing of Old's now
            h = try health()
            #expect(h.verdict == .inStep, "\(h.verdictText)")
            // The LA, which Old exchanges with as a rule, still falls silent.
            area.clock.advance(seconds: 29 * 86_400)
            let la = try #require(try old.syncHealth().first { $0.site.id == area.la.identity.id })
            #expect(la.verdictText.hasPrefix("needs attention: nothing received"), "\(la.verdictText)")
        }
    }
    /// A bundle for another site applied here by mistake is refused and logged, and names its
    /// sender: a school this one never exchanges with was then listed as needing attention ("its
    /// last 1 bundle(s) were refused") for ever, since it never sends here. The LA, which this
    /// school does exchange with, still shows such a refusal until its next bundle applies.
    @Test func aBundleMeantForAnotherSiteDoesNotListItsSenderForEver() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let here = try area.add("Here", .maintainedSchool)
            _ = try area.add("Elsewhere", .maintainedSchool)
            try area.send("LA", "Here")
            try area.send("LA", "Elsewhere")
            let meantForLA = try area.make("Elsewhere", "LA")
            #expect(throws: BundleError.self) { try here.apply(bundleAt: meantForLA) }
            let names = try here.syncHealth().map(\.site.name)
            #expect(names == ["LA"], "\(names)")
            let meantForElsewhere = try area.make("LA", "Elsewhere")
            #expect(throws: BundleError.self) { try here.apply(bundleAt: meantForElsewhere) }
            let la = try #require(try here.syncHealth().first { $0.site.name == "LA" })
            #expect(la.verdictText.hasPrefix("needs attention: its last 1 bundle(s) were refused"), "\(la.verdictText)")
            try area.send("LA", "Here")
            #expect(try here.syncHealth().map(\.verdict) == [.inStep])
        }
    }
}
