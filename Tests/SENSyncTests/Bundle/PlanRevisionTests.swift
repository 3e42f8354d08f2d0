import Foundation
import GRDB
import Testing

@testable import SENSync

/// A bundle to a school or trust looks only at the pupils revised since the last one
/// (``PlanRevisions``): it costs what changed, not what the recipient may see. These tests pin
/// what that must never lose: a change made since, a pupil the recipient may see without any
/// change (a trust given an academy), and a peer that holds less than it did.
struct PlanRevisionTests {
    private static func pupil(_ n: Int, at store: Store, _ name: String) throws -> RecordID {
        let id = try store.addPupil(
            NewPupil(upn: syntheticUPN(7400 + n), forename: "Fore\(n)", surname: "Sur\(n)", dateOfBirth: "2016-05-06"),
            author: "SENCO \(name)")
        try store.addNote(pupil: id.description, text: "note \(n)", author: "SENCO \(name)")
        return id
    }

    private static func section(_ url: URL) throws -> BundleSection {
        try #require(try Store.inspectBundle(at: url).sections.first)
    }

    /// Where the LA's bundles to `peer` may start looking, as the LA would read it now.
    /// The LA and one school, Oak, with `count` pupils, after two rounds of exchanges: each holds
    /// all the other holds.
    private static func oakInSync(_ dir: URL, pupils count: Int) throws -> (ScopeArea, [RecordID]) {
        let area = try ScopeArea(folder: dir)
        try area.add("Oak", .maintainedSchool)
        try area.distributeDirectory()
        let pupils = try (1...count).map { try pupil($0, at: area["Oak"], "Oak") }
        try area.gossip(rounds: 2)
        return (area, pupils)
    }

    private static func revisions(at store: Store, for peer: Store) throws -> PlanRevisions {
        try store.writer.read { db in
            var tx = try StoreTransaction(db)
            let view = try ScopeView.load(&tx, me: store.identity, today: CalendarDate(ScopeArea.today)!)
            return try PlanRevisions(for: peer.identity, view: view, tx: &tx)
        }
    }

    @Test func aBundleWithNothingNewLooksAtNoPupilAndOneChangeAtOnePupil() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.oakInSync(dir, pupils: 30)
            // Every pupil was looked at once; now nothing is revised since.
            let revisions = try Self.revisions(at: area.la, for: area["Oak"])
            #expect(revisions.planSince == revisions.current && revisions.toldSince == revisions.current)
            #expect(
                try area.la.writer.read { try PlanRevisions.revised(after: revisions.current, in: $0) }?.isEmpty == true
            )
            let quiet = try area.make("LA", "Oak")
            #expect(try Self.section(quiet).changeCount == 0 && Self.section(quiet).holdingsCount == 0)

            try area.la.addNote(pupil: pupils[4].description, text: "from the LA", author: "LA officer")
            let one = try area.make("LA", "Oak")
            #expect(try Self.section(one).changeCount == 1)
            // What the LA holds of the pupil now is told by the change it carries (format 3.2).
            #expect(try Self.section(one).holdingsCount == 0)
            try area["Oak"].apply(bundleAt: one)
            #expect(try area["Oak"].notes(of: pupils[4].description).count == 2)
            try area.send("Oak", "LA")
            let again = try area.make("LA", "Oak")
            #expect(try Self.section(again).changeCount == 0 && Self.section(again).holdingsCount == 0)
        }
    }

    /// A bundle that was lost: the pupil it carried is looked at again until the school says it
    /// holds what was sent.
    @Test func aPupilWhoseChangesWereSentIsLookedAtUntilTheyArrive() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.oakInSync(dir, pupils: 5)
            try area.la.addNote(pupil: pupils[1].description, text: "from the LA", author: "LA officer")
            _ = try area.make("LA", "Oak")  // lost
            let next = try area.make("LA", "Oak")
            #expect(try Self.section(next).changeCount == 1)
            try area["Oak"].apply(bundleAt: next)
            #expect(try area["Oak"].notes(of: pupils[1].description).count == 2)
        }
    }

    /// The LA moves an academy to another trust: no pupil changes, yet the new trust may now see
    /// the academy's pupils and must be sent them.
    @Test func aTrustGivenAnAcademyIsSentItsPupilsThoughNoPupilChanged() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("North", .trust)
            try area.add("South", .trust)
            try area.add("Elm", .academy, trust: "North")
            try area.distributeDirectory()
            let pupil = try Self.pupil(1, at: area["Elm"], "Elm")
            try area.relay("Elm", "North", "LA")
            try area.gossip(rounds: 2)
            #expect(try area["South"].pupils().isEmpty)
            try area.moveAcademy("Elm", to: "South")
            try area.send("LA", "South")
            #expect(try area["South"].pupils().map(\.id) == [pupil])
            #expect(try area["South"].notes(of: pupil.description).count == 1)
        }
    }

    /// A school that holds less of a pupil than it said (as a store that lost it would) is sent
    /// what it lacks although nothing about the pupil changed at the LA since: told in a section
    /// coded against what the LA holds (one pupil's entry), or in a whole one.
    @Test(arguments: [false, true])
    func aPeerThatHoldsLessThanBeforeIsLookedAtAgain(whole: Bool) throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.oakInSync(dir, pupils: 3)
            try area["Oak"].writer.write { db in
                try db.execute(sql: "DELETE FROM scope_clock WHERE scope = ?", arguments: [pupils[1].description])
                try db.execute(
                    sql: "UPDATE holdings_exchange SET told_rev = -1\(whole ? ", confirmed = 0" : "")")
            }
            let told = try area.make("Oak", "LA")
            let base = try #require(try Self.section(told).holdingsBasis).base
            #expect(whole ? base == 0 : base > 0)
            try area.la.apply(bundleAt: told)
            let resend = try area.make("LA", "Oak")
            // Everything about pupil 2 goes again: its pupil record, enrolment and note.
            #expect(try Self.section(resend).changeCount >= 2)
        }
    }
}
