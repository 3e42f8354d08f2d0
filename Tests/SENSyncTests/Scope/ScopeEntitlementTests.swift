import Foundation
import Testing

@testable import SENSync

/// A site's changes about a pupil it was never entitled to are rejected on apply and reported;
/// the chain stays whole, so the site's later changes still apply.
struct ScopeEntitlementTests {
    static let intrusion = "Intruding note about a pupil this school never had (marker JW8TN)"

    /// A school store that can write about any pupil: made without a pinned LA (so it checks
    /// nothing locally), it writes a note about `target`, then pins the LA and joins the area.
    ///
    /// - Parameter enrollingAt: First write an enrolment of the pupil at this (other) school, so
    ///   the rogue school's own store believes that school's trust may see the pupil and sends
    ///   the changes to it in full.
    static func rogueSchool(
        _ name: String, _ kind: SiteKind, trust: String? = nil, in area: ScopeArea, writingAbout target: RecordID,
        enrollingAt elsewhere: SiteID? = nil
    ) throws -> Store {
        let identity = SiteIdentity(id: .v7(milliseconds: baseMilliseconds), name: name, kind: kind)
        let rogue = try Store.inMemory(identity: identity, now: area.clock.now)
        if let elsewhere {
            try rogue.write(
                author: "intruder", scope: target,
                ops: [
                    RecordOp(
                        table: "enrolment", id: .v7(milliseconds: baseMilliseconds),
                        writes: [
                            FieldWrite("school_id", .text(elsewhere.description)),
                            FieldWrite("entry_date", .text(ScopeArea.today)),
                        ])
                ])
        }
        try rogue.write(
            author: "intruder", scope: target,
            ops: [
                RecordOp(
                    table: "note", id: .v7(milliseconds: baseMilliseconds),
                    writes: [FieldWrite("text", .text(intrusion)), FieldWrite("recorded_by", .text("intruder"))])
            ])
        try rogue.pinLA(area.la.publicIdentity)
        try area.la.addToDirectory(rogue.publicIdentity, trust: trust.map { area.id($0) })
        return rogue
    }

    @Test func aChangeAboutAPupilTheSchoolNeverHadIsRejectedAtTheLA() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Home", .maintainedSchool)
            try area.distributeDirectory()
            let target = try area["Home"].addPupil(
                NewPupil(upn: syntheticUPN(5101), forename: "Target", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO Home")
            try area["Home"].addNote(pupil: target.description, text: "Home: genuine note", author: "SENCO Home")
            try area.send("Home", "LA")
            let targetRows = try area.la.recordRowsByPupil()[target]

            let rogue = try Self.rogueSchool("Rogue", .maintainedSchool, in: area, writingAbout: target)
            let directory = dir.appendingPathComponent("bundles/la-to-rogue.bundle")
            try area.la.makeBundle(to: [rogue.identity.id], at: directory)
            try rogue.apply(bundleAt: directory)
            let own = try rogue.addPupil(
                NewPupil(upn: syntheticUPN(5102), forename: "Own", surname: "Pupil", dateOfBirth: "2016-02-01"),
                author: "SENCO Rogue")

            let bundle = dir.appendingPathComponent("bundles/rogue-to-la.bundle")
            try rogue.makeBundle(to: [area.la.identity.id], at: bundle)
            let report = try area.la.apply(bundleAt: bundle)
            let intrusion = Dot(site: rogue.identity.id, seq: 1)
            #expect(report.rejected.map(\.dot) == [intrusion])
            #expect(report.rejected.first?.reason.contains("never entitled") == true)
            #expect(report.applied == 1)
            // Not merged: the target's records are exactly as before.
            #expect(try area.la.recordRowsByPupil()[target] == targetRows)
            #expect(try area.la.notes(of: target.description).map(\.text) == ["Home: genuine note"])
            // Kept in the chain, reported in the import log and the pupil's history.
            #expect(try area.la.versionVector()[rogue.identity.id] == 2)
            #expect(try area.la.importLog(limit: 1).first?.rejected == 1)
            let entry = try #require(try area.la.history(of: target.description).first { $0.dot == intrusion })
            #expect(entry.rejection?.contains("never entitled") == true)
            #expect(try area.la.auditVerify().isClean)
            // The school's own pupil arrived, and its later changes still apply.
            #expect(try area.la.pupils().map(\.id).contains(own))
            try rogue.addNote(pupil: own.description, text: "Rogue: genuine note", author: "SENCO Rogue")
            try rogue.makeBundle(to: [area.la.identity.id], at: bundle)
            let later = try area.la.apply(bundleAt: bundle)
            #expect(later.rejected.isEmpty)
            #expect(later.applied == 1)
            #expect(try area.la.notes(of: own.description).map(\.text) == ["Rogue: genuine note"])
            // The LA passes the change on in the pupil's chain; the pupil's school rejects it too.
            let home = try area.send("LA", "Home")
            #expect(home.rejected.map(\.dot) == [intrusion])
            #expect(try area["Home"].notes(of: target.description).map(\.text) == ["Home: genuine note"])
        }
    }

    @Test func aChangeRelayedByATrustIsRejectedAtTheTrustAndAtTheLA() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Sibling", .academy, trust: "Trust")
            try area.add("Home", .maintainedSchool)
            let target = try area["Home"].addPupil(
                NewPupil(upn: syntheticUPN(5201), forename: "Target", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO Home")
            try area.send("Home", "LA")
            // The rogue academy claims the pupil is at its sister academy (so its own store sends
            // the changes to the trust in full), then writes a note about them.
            let rogue = try Self.rogueSchool(
                "Rogue", .academy, trust: "Trust", in: area, writingAbout: target, enrollingAt: area.id("Sibling"))
            try area.distributeDirectory()
            let directory = dir.appendingPathComponent("bundles/trust-to-rogue.bundle")
            try area["Trust"].makeBundle(to: [rogue.identity.id], at: directory)
            try rogue.apply(bundleAt: directory)
            let own = try rogue.addPupil(
                NewPupil(upn: syntheticUPN(5202), forename: "Own", surname: "Pupil", dateOfBirth: "2016-02-01"),
                author: "SENCO Rogue")
            let before = try area.la.recordRowsByPupil()[target]

            let up = dir.appendingPathComponent("bundles/rogue-to-trust.bundle")
            try rogue.makeBundle(to: [area.id("Trust")], at: up)
            let intrusions = [Dot(site: rogue.identity.id, seq: 1), Dot(site: rogue.identity.id, seq: 2)]
            let atTrust = try area["Trust"].apply(bundleAt: up)
            #expect(atTrust.rejected.map(\.dot) == intrusions)
            #expect(try area["Trust"].pupilsWithRecords() == [own])
            let atLA = try area.send("Trust", "LA")
            #expect(atLA.rejected.map(\.dot) == intrusions)
            #expect(atLA.rejected.allSatisfy { $0.reason.contains("never entitled") })
            #expect(try area.la.recordRowsByPupil()[target] == before)
            #expect(try area.la.pupils().map(\.id).contains(own))

            // Later changes from the academy still go through the trust to the LA.
            try rogue.addNote(pupil: own.description, text: "Rogue: genuine note", author: "SENCO Rogue")
            try rogue.makeBundle(to: [area.id("Trust")], at: up)
            #expect(try area["Trust"].apply(bundleAt: up).rejected.isEmpty)
            let later = try area.send("Trust", "LA")
            #expect(later.rejected.isEmpty)
            #expect(try area.la.notes(of: own.description).map(\.text) == ["Rogue: genuine note"])
            #expect(try area.la.versionVector()[rogue.identity.id] == 4)
            // The sister academy never hears of the claim: nothing about the pupil reaches it.
            try area.send("Trust", "Sibling")
            #expect(try area["Sibling"].pupilsWithRecords().isEmpty)
            #expect(try area["Sibling"].changeBodiesByPupil().isEmpty)
        }
    }

    /// The local check: a pinned site refuses to write about a pupil it does not have on roll.
    @Test func aPinnedSchoolCannotWriteAboutAPupilItDoesNotHave() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Home", .maintainedSchool)
            try area.add("Other", .maintainedSchool)
            try area.distributeDirectory()
            let target = try area["Home"].addPupil(
                NewPupil(upn: syntheticUPN(5301), forename: "Target", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO Home")
            let other = area["Other"]
            #expect(throws: StoreError.self) {
                try other.write(
                    author: "intruder", scope: target,
                    ops: [
                        RecordOp(
                            table: "note", id: .v7(milliseconds: baseMilliseconds),
                            writes: [FieldWrite("text", .text(Self.intrusion))])
                    ])
            }
            #expect(try other.versionVector()[other.identity.id] == 0)
        }
    }
}
