import Foundation
import Testing

@testable import SENSync

/// Acceptance: after an erasure reaches every store and each store is checkpointed, the pupil's
/// name, UPN and note text appear nowhere in any store file (the test scans the bytes).
struct ScopeErasureTests {
    // Distinctive synthetic values: long enough that a chance match in a SQLite file is impossible.
    static let forename = "Quorravelle"
    static let surname = "Thistlewaite-Ambrusco"
    static let upn = syntheticUPN(7319)
    static let oldNote = "Erasable note: struggles with multi-step instructions (marker KV7QX)"
    static let newNote = "Erasable note at the new school: responds well to visual timetable (marker ZR4WP)"
    static let review = "Erasable review: outcome partly met (marker MB2YL)"
    static var needles: [String] { [forename, surname, upn, oldNote, newNote, review] }

    // A pupil who stays, as a positive control: the scan must still find their name.
    static let keptSurname = "Kestrelworth-Obiora"

    /// Builds file-based stores in which the pupil's record is spread over an academy, its trust,
    /// the LA and a maintained school the pupil moved to.
    static func spreadHistory(in area: ScopeArea) throws -> RecordID {
        try area.add("Trust", .trust)
        try area.add("Old", .academy, trust: "Trust")
        try area.add("New", .maintainedSchool)
        try area.add("Bystander", .maintainedSchool)
        try area.distributeDirectory()
        let old = area["Old"]
        let pupil = try old.addPupil(
            NewPupil(upn: upn, forename: forename, surname: surname, dateOfBirth: "2015-06-30"), author: "SENCO Old")
        try old.addPupil(
            NewPupil(upn: syntheticUPN(7320), forename: "Kept", surname: keptSurname, dateOfBirth: "2015-07-01"),
            author: "SENCO Old")
        try old.addNote(pupil: pupil.description, text: oldNote, author: "SENCO Old")
        let plan = try old.createPlan(
            pupil: pupil.description, NewSupportPlan(title: "Plan", reviewDate: "2026-03-01"), author: "SENCO Old")
        try old.recordReview(
            plan: plan.description,
            NewReview(heldOn: ScopeArea.today, summary: review, decision: .continue, nextReviewDate: "2026-04-01"),
            author: "SENCO Old")
        try area.relay("Old", "Trust", "LA")
        try area.la.transferPupil(pupil.description, to: area.id("New"), on: ScopeArea.today, author: "LA officer")
        try area.send("LA", "New")
        try area["New"].addNote(pupil: pupil.description, text: newNote, author: "SENCO New")
        try area.send("New", "LA")
        // The trust has heard of the move but the academy has not: both still hold the pupil.
        try area.send("LA", "Trust")
        return pupil
    }

    static func checkpointAll(_ area: ScopeArea) throws {
        for name in area.names { try area[name].checkpoint() }
    }

    @Test func anErasedPupilLeavesNoBytesInAnyStoreFile() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir, fileBased: true)
            let pupil = try Self.spreadHistory(in: area)
            let holders = ["LA", "Trust", "Old", "New"]

            // Before: the bytes are there, in every store that holds part of the history, so the
            // scan below would see them if purging were skipped.
            try Self.checkpointAll(area)
            for name in holders {
                let found = try scan(
                    [URL(fileURLWithPath: try #require(area[name].path))], for: [Self.forename, Self.surname, Self.upn])
                #expect(
                    found.count == 3,
                    "\(name) should hold the pupil's name and UPN before erasure, found \(found.keys.sorted())")
            }
            let before = try scan(try area.storeFiles(), for: Self.needles)
            #expect(Set(before.keys) == Set(Self.needles), "before erasure, every needle is somewhere: \(before)")
            #expect(before[Self.oldNote]?.contains("Old.sensync") == true)
            #expect(before[Self.newNote]?.contains("New.sensync") == true)
            #expect(
                try scan(try area.storeFiles(), for: [Self.forename])[Self.forename]?.contains("Bystander.sensync")
                    != true)

            // The LA erases; gossip until the erasure has reached every store that held the pupil.
            try area.la.erasePupil(
                pupil.description, reason: "parental request under UK GDPR art. 17", author: "LA officer")
            try area.gossip(rounds: 3)
            for name in holders {
                #expect(try area[name].erasedPupils().contains(pupil), "\(name) has no erasure record")
                #expect(try area[name].pupilsWithRecords().contains(pupil) == false, "\(name) still has records")
                #expect(try area[name].changeBodiesByPupil()[pupil] == nil, "\(name) still has change bodies")
                let audit = try area[name].auditVerify()
                #expect(audit.isClean, "\(name): \(audit.problems)")
                #expect(audit.chains.contains { $0.redacted > 0 }, "\(name) kept no redacted changes")
            }
            // A school that never held the pupil gets no erasure record (it never saw them).
            #expect(try area["Bystander"].erasedPupils().isEmpty)
            #expect(try area["Bystander"].auditVerify().isClean)

            try Self.checkpointAll(area)
            let files = try area.storeFiles()
            #expect(files.count >= area.names.count)
            let after = try scan(files, for: Self.needles)
            #expect(after.isEmpty, "personal data left after erasure: \(after)")
            // The scan still finds what was not erased.
            #expect(try scan(files, for: [Self.keptSurname])[Self.keptSurname]?.isEmpty == false)
        }
    }

    @Test func theErasureRecordAndRedactedHistoryRemainAndChainsVerify() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            let pupil = try Self.spreadHistory(in: area)
            let entriesBefore = try area.la.history(of: pupil.description)
            #expect(entriesBefore.allSatisfy { !$0.isRedacted })
            try area.la.erasePupil(pupil.description, reason: "parental request", author: "LA officer")
            try area.gossip(rounds: 3)
            for name in ["LA", "Trust", "Old", "New"] {
                let store = area[name]
                let rows = try store.recordRowsByPupil()[pupil] ?? []
                #expect(rows.map(\.table) == ["erasure"], "\(name): \(rows)")
                #expect(rows.first?.text.contains("parental request") == true)
                #expect(try store.auditVerify().isClean)
            }
            let entries = try area.la.history(of: pupil.description)
            #expect(entries.count == entriesBefore.count + 1)
            let erasure = try #require(entries.last)
            #expect(!erasure.isRedacted)
            #expect(erasure.author == "LA officer")
            #expect(erasure.siteName == "LA")
            #expect(erasure.writes.map(\.table) == ["erasure"])
            #expect(entries.dropLast().allSatisfy { $0.isRedacted && $0.author == nil && $0.writes.isEmpty })
            // Erased pupils stay erased: a late write from a school that had not heard is refused.
            #expect(throws: StoreError.self) {
                try area.la.addNote(pupil: pupil.description, text: "late", author: "LA officer")
            }
        }
    }

    /// The erasure depends on the new school's notes, which the old school and its trust never
    /// receive: it must still apply there, and must not block the LA's later bundles.
    @Test func anErasureWrittenAfterTheNewSchoolsNotesReachesTheOldSchoolAndItsTrust() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            let pupil = try Self.spreadHistory(in: area)
            try area.la.erasePupil(pupil.description, reason: "parental request", author: "LA officer")
            let toTrust = try area.send("LA", "Trust")
            #expect(toTrust.rejected.isEmpty)
            #expect(try area["Trust"].erasedPupils() == [pupil])
            #expect(try area["Trust"].pupilsWithRecords().contains(pupil) == false)
            try area.send("Trust", "Old")
            #expect(try area["Old"].erasedPupils() == [pupil])
            #expect(try area["Old"].pupilsWithRecords().contains(pupil) == false)
            // Later traffic still flows.
            let other = try area["Old"].addPupil(
                NewPupil(upn: syntheticUPN(7321), forename: "Later", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO Old")
            try area.relay("Old", "Trust", "LA")
            try area.la.addNote(pupil: other.description, text: "LA: seen", author: "LA officer")
            try area.relay("LA", "Trust", "Old")
            #expect(try area["Old"].notes(of: other.description).map(\.text) == ["LA: seen"])
        }
    }

    /// The old school moves the pupil with a bundle straight to the new school while the LA,
    /// not yet knowing, erases them. The transfer reaches the LA after the erasure (and is refused
    /// as erased), but the new school and its trust hold the pupil: the erasure must reach them.
    @Test func anErasureReachesASchoolThePupilMovedToBeforeTheLAHeard() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Old", .maintainedSchool)
            try area.add("Trust", .trust)
            try area.add("New", .academy, trust: "Trust")
            try area.distributeDirectory()
            let pupil = try area["Old"].addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2015-06-30"),
                author: "SENCO Old")
            try area["Old"].addNote(pupil: pupil.description, text: Self.oldNote, author: "SENCO Old")
            try area.send("Old", "LA")
            try area["Old"].transferPupil(
                pupil.description, to: area.id("New"), on: ScopeArea.today, author: "SENCO Old")
            try area.send("Old", "New")
            try area.relay("New", "Trust")
            #expect(try area["Trust"].pupilsWithRecords() == [pupil])
            try area.la.erasePupil(pupil.description, reason: "parental request", author: "LA officer")
            let late = try area.send("Old", "LA")
            #expect(!late.rejected.isEmpty && late.rejected.allSatisfy { $0.reason.contains("erased") })
            try area.gossip(rounds: 3)
            for name in area.names {
                #expect(
                    try area[name].pupilsWithRecords().contains(pupil) == false, "\(name) still holds the erased pupil")
                #expect(try area[name].changeBodiesByPupil()[pupil] == nil, "\(name) still holds change bodies")
                #expect(try area[name].erasedPupils() == [pupil], "\(name) has no erasure record")
                #expect(try area[name].auditVerify().isClean, "\(name)")
            }
        }
    }

    /// An academy adds a pupil and erases them before its first bundle. Its chain then starts
    /// with changes it holds only redacted, which it sends as skipped runs marked erased. The
    /// erasure, written after them, does not wait for their content (nobody can send it), and the
    /// trust passes the marked runs on to the LA though it may not pass on other skipped runs.
    @Test func aSchoolsErasureBeforeItsFirstBundleDoesNotBlockItsLaterChanges() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.distributeDirectory()
            let academy = area["Academy"]
            let mistake = try academy.addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2015-06-30"),
                author: "SENCO")
            try academy.erasePupil(mistake.description, reason: "added in error", author: "SENCO")
            let later = try academy.addPupil(
                NewPupil(upn: syntheticUPN(7322), forename: "Later", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO")
            try area.gossip(rounds: 3)
            #expect(try area.la.pupilsWithRecords() == [later])
            #expect(try area.la.versionVector()[area.id("Academy")] == 3)
            // The erasure is recorded where the pupil's content never arrived, so any that
            // arrives later is refused.
            #expect(try area.la.erasedPupils() == [mistake])
            #expect(try area["Trust"].erasedPupils() == [mistake])
            #expect(try academy.pupilsWithRecords() == [later])
        }
    }

    @Test func aSchoolsErasureAppliesWhereOnlyPartOfThePupilsHistoryArrived() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.distributeDirectory()
            let academy = area["Academy"]
            let pupil = try academy.addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2015-06-30"),
                author: "SENCO")
            try area.send("Academy", "Trust")
            // Written after the trust's bundle, and redacted by the erasure before the next one:
            // it reaches the trust and the LA only as skipped.
            try academy.addNote(pupil: pupil.description, text: "Erasable note (marker QQ9PH)", author: "SENCO")
            try academy.erasePupil(pupil.description, reason: "parental request", author: "SENCO")
            let later = try academy.addPupil(
                NewPupil(upn: syntheticUPN(7323), forename: "Later", surname: "Pupil", dateOfBirth: "2016-01-01"),
                author: "SENCO")
            try area.gossip(rounds: 3)
            for name in ["LA", "Trust", "Academy"] {
                let store = area[name]
                #expect(try store.versionVector()[area.id("Academy")] == 4, "\(name)")
                #expect(try store.pupilsWithRecords() == [later], "\(name)")
                #expect(try store.changeBodiesByPupil()[pupil] == nil, "\(name)")
                #expect(try store.erasedPupils() == [pupil], "\(name)")
            }
        }
    }

    @Test func aLateChangeAboutAnErasedPupilIsKeptWithoutContentAndNotMerged() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            let pupil = try Self.spreadHistory(in: area)
            // The new school writes before it hears of the erasure.
            try area["New"].addNote(
                pupil: pupil.description, text: "Erasable late note (marker QQ9LT)", author: "SENCO New")
            let late = Dot(site: area.id("New"), seq: try area["New"].versionVector()[area.id("New")])
            try area.la.erasePupil(pupil.description, reason: "parental request", author: "LA officer")
            let report = try area.send("New", "LA")
            // The late note, and the new school's earlier note sent again (the LA holds it only
            // redacted now), are kept in the chain without content and not merged.
            #expect(report.rejected.map(\.dot).contains(late), "\(report.rejected)")
            #expect(report.rejected.allSatisfy { $0.reason.contains("erased") })
            #expect(try area.la.versionVector()[area.id("New")] == late.seq)
            #expect(try area.la.pupilsWithRecords().contains(pupil) == false)
            #expect(try area.la.changeBodiesByPupil()[pupil] == nil)
            try area.gossip(rounds: 3)
            #expect(try area["New"].changeBodiesByPupil()[pupil] == nil)
            #expect(try area["New"].pupilsWithRecords().contains(pupil) == false)
        }
    }
}
