import Foundation
import Testing

@testable import SENSync

/// A transferred pupil's complete SEN history reaches the new school, whether the LA or the old
/// school makes the transfer; the old school then hears nothing new about them and forgets them
/// once its upstream has acknowledged everything it held.
struct ScopeTransferTests {
    /// Gives a pupil a complete record at `school`: two notes (one amending the other), SEN status
    /// and needs, a plan with an outcome, a provision item and a review.
    @discardableResult
    static func recordFullHistory(of pupil: RecordID, at store: Store, tag: String) throws -> RecordID {
        let p = pupil.description
        let first = try store.addNote(
            pupil: p, text: "\(tag): finds phonics hard", area: .cognitionLearning, author: "SENCO \(tag)")
        try store.addNote(
            pupil: p, text: "\(tag): phonics, corrected", amends: first.description, author: "SENCO \(tag)")
        try store.updatePupil(p, PupilUpdate(senStatus: "K", senNeeds: "SPLD,SLCN"), author: "SENCO \(tag)")
        let plan = try store.createPlan(
            pupil: p,
            NewSupportPlan(
                title: "\(tag) literacy plan", reviewDate: "2026-03-01", responsibleOrg: "School",
                responsiblePerson: "SENCO"),
            author: "SENCO \(tag)")
        try store.addOutcome(
            plan: plan.description, description: "\(tag): reads age-appropriate texts", targetDate: "2026-07-01",
            author: "SENCO \(tag)")
        try store.addProvision(
            plan: plan.description,
            NewProvision(
                description: "\(tag): small-group phonics", provider: "TA", frequency: "3 x 20 min weekly",
                responsibleOrg: "School",
                responsiblePerson: "SENCO", costPence: 45_000),
            author: "SENCO \(tag)")
        try store.recordReview(
            plan: plan.description,
            NewReview(
                heldOn: ScopeArea.today, summary: "\(tag): progress good", decision: .continue,
                nextReviewDate: "2026-04-01"),
            author: "SENCO \(tag)")
        return plan
    }

    /// The pupil's rows at `store` (every table, by SQL), empty when it holds none.
    static func rows(of pupil: RecordID, at store: Store) throws -> Set<RecordRow> {
        try store.recordRowsByPupil()[pupil] ?? []
    }

    /// Asserts `store` holds exactly the pupil's record that `reference` holds, through SQL and
    /// through the query API, and that it is complete (every kind of record present).
    static func expectCompleteCopy(
        of pupil: RecordID, at store: Store, as reference: Store, sourceLocation: SourceLocation = #_sourceLocation
    )
        throws
    {
        let mine = try rows(of: pupil, at: store)
        let theirs = try rows(of: pupil, at: reference)
        #expect(
            mine == theirs, "missing \(theirs.subtracting(mine).sorted()), extra \(mine.subtracting(theirs).sorted())",
            sourceLocation: sourceLocation)
        let tables = Set(mine.map(\.table))
        for table in ["pupil", "enrolment", "note", "support_plan", "plan_outcome", "provision_item", "plan_review"] {
            #expect(tables.contains(table), "no \(table) row", sourceLocation: sourceLocation)
        }
        #expect(
            try store.notes(of: pupil.description) == reference.notes(of: pupil.description),
            sourceLocation: sourceLocation)
        #expect(
            try store.plans(of: pupil.description) == reference.plans(of: pupil.description),
            sourceLocation: sourceLocation)
        #expect(
            try store.pupil(pupil.description) == reference.pupil(pupil.description), sourceLocation: sourceLocation)
    }

    /// Asserts `store` holds nothing about the pupil: no record rows, no change bodies, and the
    /// query API cannot find them.
    static func expectForgotten(_ pupil: RecordID, at store: Store, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        #expect(try rows(of: pupil, at: store).isEmpty, sourceLocation: sourceLocation)
        #expect(try store.changeBodiesByPupil()[pupil] == nil, sourceLocation: sourceLocation)
        #expect(try !store.pupils().map(\.id).contains(pupil), sourceLocation: sourceLocation)
        #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try store.notes(of: pupil.description) }
    }

    /// A transfer dated before the pupil joined their current school would end that enrolment
    /// before it began (a newcomer's README example did, with a pupil added today): refused.
    @Test func aTransferCannotEndAnEnrolmentBeforeItBegan() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("Old", "New", in: dir)
            let pupil = try area["Old"].addPupil(
                NewPupil(
                    upn: syntheticUPN(21), forename: "Ada", surname: "Joined", dateOfBirth: "2016-04-01",
                    entryDate: "2025-09-01"),
                author: "SENCO Old")
            let error = #expect(throws: StoreError.self) {
                try area["Old"].transferPupil(pupil.description, to: area.id("New"), on: "2025-08-31", author: "SENCO")
            }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains("2025-09-01") == true)
            try area.relay("Old", "LA")
            #expect(throws: StoreError.self) {
                try area.la.transferPupil(pupil.description, to: area.id("New"), on: "2025-08-31", author: "LA")
            }
            // On the day they joined, or later, it goes ahead.
            try area.la.transferPupil(pupil.description, to: area.id("New"), on: "2025-09-01", author: "LA")
        }
    }

    /// A transfer dated later (agreed for the start of next term) leaves the pupil on the old
    /// school's roll until that day, as the census has them: `pupil list` showed the new school at
    /// once, and the old one not at all.
    @Test func aTransferDatedLaterShowsThePupilAtTheOldSchoolUntilThatDay() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("Old", "New", in: dir)  // today is 2026-01-05
            let old = area["Old"]
            let pupil = try old.addPupil(
                NewPupil(upn: syntheticUPN(31), forename: "Ada", surname: "Later", dateOfBirth: "2016-04-01"),
                author: "SENCO Old")
            try old.transferPupil(pupil.description, to: area.id("New"), on: "2026-02-02", author: "SENCO")
            #expect(try old.pupil(pupil.description).schools == [area.id("Old")])
            #expect(try old.pupils().map(\.schools) == [[area.id("Old")]])
            area.clock.advance(seconds: 28 * 86_400)  // 2026-02-02
            #expect(try old.pupil(pupil.description).schools == [area.id("New")])
            #expect(try old.pupils().map(\.schools) == [[area.id("New")]])
        }
    }

    /// A pupil who leaves for no school in the area (moved away, educated at home, whereabouts
    /// unknown) could not be recorded at all: every pupil added stayed on the school's roll for
    /// ever. Now the school ends its enrolment; the LA sees the pupil on no school's roll (the
    /// area report counts them apart); the school forgets them once the LA holds everything; and
    /// the LA can place them at a school later, their history following them.
    @Test func aPupilWhoLeavesForNoSchoolIsOnNoRollAtTheLAAndForgottenByTheSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("Old", "New", in: dir)  // today is 2026-01-05
            let old = area["Old"]
            let pupil = try old.addPupil(
                NewPupil(
                    upn: syntheticUPN(41), forename: "Ed", surname: "Away", dateOfBirth: "2016-04-01",
                    entryDate: "2025-09-01"),
                author: "SENCO Old")
            let stays = try old.addPupil(
                NewPupil(upn: syntheticUPN(42), forename: "Flo", surname: "Stays", dateOfBirth: "2016-05-01"),
                author: "SENCO Old")
            try Self.recordFullHistory(of: pupil, at: old, tag: "old")
            try area.send("Old", "LA")

            // Refused, changing nothing: before they joined, a year or more ahead, by another school.
            for (date, words) in [("2025-08-31", "2025-09-01"), ("2027-02-01", "at most a year ahead")] {
                let error = #expect(throws: StoreError.self) {
                    try old.recordLeaving(pupil.description, on: date, author: "SENCO Old")
                }
                #expect(error?.code == .invalidInput)
                #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
            }
            #expect(throws: StoreError.self) {
                try area["New"].recordLeaving(pupil.description, on: ScopeArea.today, author: "SENCO New")
            }
            #expect(try old.pupil(pupil.description).schools == [area.id("Old")])

            try old.recordLeaving(pupil.description, on: ScopeArea.today, author: "SENCO Old")
            #expect(try old.pupil(pupil.description).schools == [])
            // Once left, there is nothing to end, and the school no longer writes about them.
            #expect(throws: StoreError.self) {
                try old.recordLeaving(pupil.description, on: ScopeArea.today, author: "SENCO Old")
            }
            #expect(throws: StoreError.self) {
                try old.addNote(pupil: pupil.description, text: "stale", author: "SENCO Old")
            }

            try area.send("Old", "LA")
            #expect(try area.la.pupil(pupil.description).schools == [])
            let report = try area.la.areaReport()
            #expect(report.schools.first { $0.name == "Not on roll at a school" }?.pupils == 1)
            #expect(report.schools.first { $0.name == "Old" }?.pupils == 1)
            #expect(throws: StoreError.self) {
                try area.la.recordLeaving(pupil.description, on: ScopeArea.today, author: "LA officer")
            }

            let ack = try area.send("LA", "Old")
            #expect(ack.pupilsForgotten == 1)
            try Self.expectForgotten(pupil, at: old)
            #expect(try Set(old.recordRowsByPupil().keys) == [stays])

            // Placed at a school in the area later by the LA: their whole history goes there.
            area.clock.advance(seconds: 7 * 86_400)
            try area.la.transferPupil(pupil.description, to: area.id("New"), on: "2026-01-12", author: "LA officer")
            #expect(try area.send("LA", "New").rejected.isEmpty)
            try Self.expectCompleteCopy(of: pupil, at: area["New"], as: area.la)
            #expect(try area["New"].pupil(pupil.description).schools == [area.id("New")])
            try area.gossip(rounds: 2)
            try Self.expectForgotten(pupil, at: old)
        }
    }

    /// The LA and the old school move a pupil at the same time, to different schools: both
    /// transfers stand, and the pupil was left on two rolls (both schools counted them in their
    /// census) with nothing in any queue. The LA's due-list now says so, and the LA ends the
    /// wrong one with `recordLeaving(school:)`.
    @Test func aPupilMovedByTwoSitesAtOnceIsFlaggedAndTheLAEndsTheWrongRoll() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("Old", "A", "B", in: dir)
            let pupil = try area["Old"].addPupil(
                NewPupil(upn: syntheticUPN(44), forename: "Hal", surname: "Twice", dateOfBirth: "2016-04-01"),
                author: "SENCO Old")
            try area.send("Old", "LA")
            try area.la.transferPupil(pupil.description, to: area.id("A"), on: ScopeArea.today, author: "LA officer")
            try area["Old"].transferPupil(pupil.description, to: area.id("B"), on: ScopeArea.today, author: "SENCO")
            try area.gossip(rounds: 3)
            #expect(Set(try area.la.pupil(pupil.description).schools) == [area.id("A"), area.id("B")])
            let flagged = try area.la.due().filter { $0.obligation.kind == "two-rolls" }
            #expect(flagged.count == 1 && flagged.first?.obligation.responsibleOrg == "LA", "\(flagged)")
            // A school may end only its own roll.
            #expect(throws: StoreError.self) {
                try area["B"].recordLeaving(
                    pupil.description, on: ScopeArea.today, author: "SENCO B", school: area.id("A"))
            }
            try area.la.recordLeaving(
                pupil.description, on: ScopeArea.today, author: "LA officer", school: area.id("A"))
            #expect(try area.la.pupil(pupil.description).schools == [area.id("B")])
            #expect(try area.la.due().filter { $0.obligation.kind == "two-rolls" }.isEmpty)
            try area.gossip(rounds: 3)
            #expect(try area["B"].pupil(pupil.description).schools == [area.id("B")])
            try Self.expectForgotten(pupil, at: area["A"])
        }
    }

    /// After a move, the support plan the old school wrote is the new school's to review: the
    /// LA's due-list and area report gave it to the old school, which no longer held the pupil.
    @Test func aMovedPupilsPlanIsTheNewSchoolsToReview() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("Old", "New", in: dir)
            let pupil = try area["Old"].addPupil(
                NewPupil(upn: syntheticUPN(43), forename: "Gil", surname: "Moves", dateOfBirth: "2016-04-01"),
                author: "SENCO Old")
            try area["Old"].createPlan(
                pupil: pupil.description,
                NewSupportPlan(
                    title: "Literacy", reviewDate: "2026-03-01", responsibleOrg: "Old", responsiblePerson: "SENCO Old"),
                author: "SENCO Old")
            try area.send("Old", "LA")
            func planDuty() throws -> Obligation? {
                try area.la.due().first { $0.obligation.kind == "plan-review" }?.obligation
            }
            #expect(try planDuty()?.responsibleOrg == "Old")
            try area.la.transferPupil(pupil.description, to: area.id("New"), on: ScopeArea.today, author: "LA officer")
            #expect(try planDuty()?.responsibleOrg == "New")
            #expect(try planDuty()?.responsibleRole == nil)
        }
    }

    @Test func theLATransfersAnAcademyPupilToAMaintainedSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Old", .academy, trust: "Trust")
            try area.add("New", .maintainedSchool)
            try area.distributeDirectory()
            let old = area["Old"]
            let pupil = try old.addPupil(
                NewPupil(upn: syntheticUPN(11), forename: "Ada", surname: "Moved", dateOfBirth: "2016-04-01"),
                author: "SENCO Old")
            let stays = try old.addPupil(
                NewPupil(upn: syntheticUPN(12), forename: "Bo", surname: "Stays", dateOfBirth: "2016-05-01"),
                author: "SENCO Old")
            try Self.recordFullHistory(of: pupil, at: old, tag: "old")
            try area.relay("Old", "Trust", "LA")
            // The LA adds to the record too, and the academy hears of it.
            try area.la.addNote(pupil: pupil.description, text: "LA: EP consulted", author: "LA officer")
            try area.relay("LA", "Trust", "Old")
            #expect(try old.notes(of: pupil.description).count == 3)

            try area.la.transferPupil(pupil.description, to: area.id("New"), on: ScopeArea.today, author: "LA officer")
            let arrival = try area.send("LA", "New")
            #expect(arrival.rejected.isEmpty)
            try Self.expectCompleteCopy(of: pupil, at: area["New"], as: area.la)
            #expect(try Set(area["New"].recordRowsByPupil().keys) == [pupil])

            // The trust hears of the move but keeps the pupil until the academy has acknowledged it.
            try area.send("LA", "Trust")
            #expect(try !Self.rows(of: pupil, at: area["Trust"]).isEmpty)
            // The academy learns the pupil left and, its trust holding everything it had, forgets them.
            #expect(try !Self.rows(of: pupil, at: old).isEmpty)
            let news = try area.send("Trust", "Old")
            #expect(news.pupilsForgotten == 1)
            try Self.expectForgotten(pupil, at: old)
            #expect(try Set(old.recordRowsByPupil().keys) == [stays])
            // Now the academy has acknowledged the ending, the trust forgets them too.
            try area.send("Old", "Trust")
            try Self.expectForgotten(pupil, at: area["Trust"])
            #expect(try Set(area["Trust"].recordRowsByPupil().keys) == [stays])

            // Later work at the new school reaches the LA and never the old school or its trust.
            try area["New"].addNote(pupil: pupil.description, text: "new: settling in", author: "SENCO New")
            try area.send("New", "LA")
            #expect(try area.la.notes(of: pupil.description).map(\.text).contains("new: settling in"))
            try area.gossip(rounds: 2)
            try Self.expectForgotten(pupil, at: old)
            try Self.expectForgotten(pupil, at: area["Trust"])
            try Self.expectCompleteCopy(of: pupil, at: area["New"], as: area.la)
            #expect(try area["New"].notes(of: pupil.description).count == 4)
            // The old school can no longer change the pupil's records.
            #expect(throws: StoreError.self) {
                try old.addNote(pupil: pupil.description, text: "stale", author: "SENCO Old")
            }
        }
    }

    @Test func theOldSchoolTransfersAPupilWithABundleStraightToTheNewSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Old", .maintainedSchool)
            try area.add("Trust", .trust)
            try area.add("New", .academy, trust: "Trust")
            try area.distributeDirectory()
            let old = area["Old"]
            let pupil = try old.addPupil(
                NewPupil(upn: syntheticUPN(21), forename: "Cy", surname: "Moved", dateOfBirth: "2015-09-01"),
                author: "SENCO Old")
            let stays = try old.addPupil(
                NewPupil(upn: syntheticUPN(22), forename: "Di", surname: "Stays", dateOfBirth: "2015-10-01"),
                author: "SENCO Old")
            try old.addNote(pupil: stays.description, text: "old: not for the new school", author: "SENCO Old")
            try old.addNote(pupil: pupil.description, text: "old: first concern", author: "SENCO Old")
            try area.send("Old", "LA")
            // More history the LA has not seen yet when the pupil moves.
            try Self.recordFullHistory(of: pupil, at: old, tag: "old")
            try old.transferPupil(pupil.description, to: area.id("New"), on: ScopeArea.today, author: "SENCO Old")

            let direct = try area.make("Old", "New")
            let arrival = try area["New"].apply(bundleAt: direct)
            #expect(arrival.rejected.isEmpty)
            try Self.expectCompleteCopy(of: pupil, at: area["New"], as: old)
            #expect(try Set(area["New"].recordRowsByPupil().keys) == [pupil])
            #expect(try area["New"].changeBodiesByPupil()[stays] == nil)

            // The old school keeps the pupil until its upstream, the LA, holds everything it had.
            try area.send("LA", "Old")
            #expect(try !Self.rows(of: pupil, at: old).isEmpty)
            try area.send("Old", "LA")
            #expect(try !Self.rows(of: pupil, at: old).isEmpty)
            let ack = try area.send("LA", "Old")
            #expect(ack.pupilsForgotten == 1)
            try Self.expectForgotten(pupil, at: old)
            #expect(try Set(old.recordRowsByPupil().keys) == [stays])

            // The new school's later notes reach its trust and the LA, never the old school.
            try area["New"].addNote(pupil: pupil.description, text: "new: settling in", author: "SENCO New")
            try area.gossip(rounds: 3)
            try Self.expectForgotten(pupil, at: old)
            try Self.expectCompleteCopy(of: pupil, at: area.la, as: area["New"])
            try Self.expectCompleteCopy(of: pupil, at: area["Trust"], as: area["New"])
            #expect(try area["New"].notes(of: pupil.description).map(\.text).contains("new: settling in"))
            #expect(try Set(area["Trust"].recordRowsByPupil().keys) == [pupil])
        }
    }

    @Test func aPupilMovingBetweenTrustsKeepsTheirHistoryAndLeavesNothingBehind() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust1", .trust)
            try area.add("Old", .academy, trust: "Trust1")
            try area.add("Trust2", .trust)
            try area.add("New", .academy, trust: "Trust2")
            try area.distributeDirectory()
            let pupil = try area["Old"].addPupil(
                NewPupil(upn: syntheticUPN(31), forename: "Ed", surname: "Moved", dateOfBirth: "2014-02-01"),
                author: "SENCO Old")
            try Self.recordFullHistory(of: pupil, at: area["Old"], tag: "old")
            try area.gossip(rounds: 2)
            // The old academy transfers the pupil and tells its trust; nothing goes direct.
            try area["Old"].transferPupil(
                pupil.description, to: area.id("New"), on: ScopeArea.today, author: "SENCO Old")
            try area.gossip(rounds: 4)
            try Self.expectCompleteCopy(of: pupil, at: area["New"], as: area.la)
            try Self.expectCompleteCopy(of: pupil, at: area["Trust2"], as: area.la)
            try Self.expectForgotten(pupil, at: area["Old"])
            try Self.expectForgotten(pupil, at: area["Trust1"])
            try area["New"].addNote(pupil: pupil.description, text: "new: settling in", author: "SENCO New")
            try area.gossip(rounds: 2)
            try Self.expectForgotten(pupil, at: area["Old"])
            try Self.expectForgotten(pupil, at: area["Trust1"])
            try Self.expectCompleteCopy(of: pupil, at: area["Trust2"], as: area.la)
        }
    }

    /// A school the pupil moved on to, sending to a school the pupil left long before, does not
    /// know what that school holds, so it sends what the school needs to know the pupil left it
    /// (here the academy's own changes: it made the transfer). Held there already, they count as
    /// held. They were refused as "carried by a site that never had this pupil", a false reason,
    /// in the import log on every exchange.
    @Test func aSchoolThePupilLeftCountsItsOwnChangesSentBackAsHeld() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.add("School", .maintainedSchool)
            try area.add("Second", .maintainedSchool)
            try area.distributeDirectory()
            let academy = area["Academy"]
            let pupil = try academy.addPupil(
                NewPupil(upn: syntheticUPN(31), forename: "Ed", surname: "Moved", dateOfBirth: "2016-04-01"),
                author: "SENCO Academy")
            try academy.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            try area.relay("Academy", "Trust", "LA")
            try academy.transferPupil(pupil.description, to: area.id("School"), on: ScopeArea.today, author: "SENCO")
            try area.relay("Academy", "Trust", "LA", "School")
            try area.la.transferPupil(pupil.description, to: area.id("Second"), on: "2026-01-06", author: "LA officer")
            try area.send("LA", "School")
            try area.send("LA", "Second")
            try area.relay("LA", "Trust", "Academy")

            let report = try area.send("Second", "Academy")
            #expect(report.refused.isEmpty, "\(report.refused.map(\.reason))")
            #expect(report.applied == 0)
            try area.send("School", "Academy")
            #expect(try area.send("Second", "Academy").refused.isEmpty)
            let logged = try #require(try academy.importLog(limit: 1).first)
            #expect(logged.rejected == 0 && logged.detail == nil, "\(logged.detail ?? "")")
        }
    }

    /// A pupil cannot be moved to a school removed from the area directory: nobody would hold
    /// them (its bundles are refused) and nothing said so. Refused at the LA and at the pupil's
    /// school alike, with what to do.
    @Test func aPupilCannotBeTransferredToARemovedSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea.maintainedSchools("School", "Closed", in: dir)
            let pupil = try area["School"].addPupil(
                NewPupil(upn: syntheticUPN(41), forename: "Flo", surname: "Stays", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try area.send("School", "LA")
            try area.la.removeFromDirectory(area.id("Closed"))
            try area.send("LA", "School")
            for site in ["LA", "School"] {
                let error = #expect(throws: StoreError.self) {
                    try area[site].transferPupil(
                        pupil.description, to: area.id("Closed"), on: ScopeArea.today, author: "Officer")
                }
                #expect(error?.message.contains("removed from the area directory") == true, "\(error?.message ?? "")")
            }
            #expect(try area["School"].pupil(pupil.description).schools == [area.id("School")])
        }
    }
}
