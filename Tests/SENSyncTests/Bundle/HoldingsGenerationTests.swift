import Foundation
import GRDB
import Testing

@testable import SENSync

/// Holdings told by generation (bundle format 3.1, ``HoldingsBasis``): a bundle lists only the
/// pupils whose holdings changed since the generation its recipient confirmed, and whatever order
/// bundles arrive in (lost, late, twice), a store never believes a peer holds more than it does,
/// and after an exchange in order believes exactly what it holds.
struct HoldingsGenerationTests {
    /// A school of `pupils` pupils, each with a note, sharing the area directory with the LA.
    private static func schoolInSync(_ dir: URL, pupils: Int) throws -> (ScopeArea, [RecordID]) {
        let area = try ScopeArea(folder: dir)
        try area.add("Oak", .maintainedSchool)
        try area.distributeDirectory()
        var ids: [RecordID] = []
        for n in 1...pupils {
            let id = try area["Oak"].addPupil(
                NewPupil(
                    upn: syntheticUPN(7000 + n), forename: "Fore\(n)", surname: "Sur\(n)", dateOfBirth: "2016-03-04"),
                author: "SENCO Oak")
            try area["Oak"].addNote(pupil: id.description, text: "note \(n)", author: "SENCO Oak")
            ids.append(id)
        }
        return (area, ids)
    }

    /// ``schoolInSync(_:pupils:)`` after a bundle each way: each holds what the other holds.
    private static func exchanged(_ dir: URL, pupils: Int) throws -> (ScopeArea, [RecordID]) {
        let (area, ids) = try schoolInSync(dir, pupils: pupils)
        try area.send("Oak", "LA")
        try area.send("LA", "Oak")
        return (area, ids)
    }

    private static func section(of url: URL) throws -> BundleSection {
        try #require(try Store.inspectBundle(at: url).sections.first)
    }

    @Test func aDeltaTellsOnlyTheHoldingsThatChanged() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.schoolInSync(dir, pupils: 12)
            let first = try area.make("Oak", "LA")
            let whole = try Self.section(of: first)
            // Every pupil's holdings are what the bundle carries of them (format 3.2): none listed.
            #expect(whole.holdingsCount == 0)
            // Whole (the LA confirmed none), and Oak holds the LA's first generation (the bundle
            // that brought the directory).
            #expect(whole.holdingsBasis == HoldingsBasis(base: 0, generation: 1, confirmed: 1))
            try area.la.apply(bundleAt: first)
            let back = try area.make("LA", "Oak")
            // The LA holds the school's first generation, and tells it its own holdings of the 12
            // pupils (none when it sent the directory).
            #expect(try Self.section(of: back).holdingsBasis == HoldingsBasis(base: 1, generation: 2, confirmed: 1))
            #expect(try Self.section(of: back).holdingsCount == 12)
            try area["Oak"].apply(bundleAt: back)

            try area["Oak"].addNote(pupil: pupils[3].description, text: "more", author: "SENCO Oak")
            try area["Oak"].addNote(pupil: pupils[7].description, text: "more", author: "SENCO Oak")
            let delta = try area.make("Oak", "LA")
            let section = try Self.section(of: delta)
            #expect(section.holdingsBasis == HoldingsBasis(base: 1, generation: 2, confirmed: 2))
            // The two notes it carries tell what changed.
            #expect(section.holdingsCount == 0)
            try area.la.apply(bundleAt: delta)
            #expect(try area.la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())

            // The LA's own holdings of those two pupils changed (it took the notes); then nothing
            // is new either way, and no pupil is listed at all.
            let ack = try area.make("LA", "Oak")
            #expect(try Self.section(of: ack).holdingsCount == 2)
            try area["Oak"].apply(bundleAt: ack)
            let empty = try area.make("Oak", "LA")
            #expect(try Self.section(of: empty).holdingsCount == 0)
            #expect(try Self.section(of: empty).holdingsBasis?.base == 2)
        }
    }

    /// A bundle's changes say what its sender holds of their pupils (format 3.2): a school's own
    /// new changes need no holdings entry, and the LA believes exactly what the school holds.
    @Test func theChangesABundleCarriesTellTheirHoldings() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.exchanged(dir, pupils: 8)
            try area["Oak"].addNote(pupil: pupils[2].description, text: "more", author: "SENCO Oak")
            try area["Oak"].addNote(pupil: pupils[5].description, text: "more", author: "SENCO Oak")
            try area["Oak"].addNote(pupil: pupils[5].description, text: "again", author: "SENCO Oak")
            let delta = try area.make("Oak", "LA")
            let section = try Self.section(of: delta)
            #expect(section.changeCount == 3)
            #expect(section.holdingsCount == 0)
            #expect(try Store.inspectBundle(at: delta).holdingsFromChanges)
            try area.la.apply(bundleAt: delta)
            #expect(try area.la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())
            // So nothing goes back: the LA knows Oak holds its own notes.
            #expect(try Store.inspectBundle(at: try area.make("LA", "Oak")).changeCount == 0)
        }
    }

    /// The rule that keeps the changes carried from saying too much: a pupil carried whose told
    /// holdings do not cover what is carried (a change held only to relay it, a pupil never told
    /// of) is listed again, as told; one whose told holdings cover it is not.
    @Test func aCarriedPupilIsListedUnlessWhatWasToldCoversIt() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.exchanged(dir, pupils: 3)
            let oak = area["Oak"]
            let held = try #require(try oak.ownHoldings()[pupils[0]])
            var beyond = held
            beyond[area.id("LA")] = 99
            let stranger = RecordID.v7()
            let entries = try oak.writer.write { db in
                var tx = try StoreTransaction(db)
                let view = try ScopeView.load(&tx, me: oak.identity, today: CalendarDate(ScopeArea.today)!)
                let revisions = try PlanRevisions(for: area.la.identity, view: view, tx: &tx)
                return try oak.holdingsSection(
                    to: area.la.identity, view: view, revisions: revisions, planRev: nil,
                    carried: [pupils[0]: held, pupils[1]: beyond, stranger: VersionVector([oak.identity.id: 1])],
                    tx: &tx
                ).entries
            }
            #expect(Set(entries.map(\.pupil)) == [pupils[1], stranger])
            #expect(try entries.first { $0.pupil == pupils[1] }?.held == oak.ownHoldings()[pupils[1]])
            #expect(entries.first { $0.pupil == stranger }?.held.isEmpty == true)
        }
    }

    /// The holdings-from-changes flag has no value: one with a value is a damaged header, refused
    /// before anything is read, and the store is unchanged.
    @Test func aHoldingsFromChangesFlagWithAValueIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.schoolInSync(dir, pupils: 2)
            let url = try area.make("Oak", "LA")
            let crafted = dir.appendingPathComponent("crafted.bundle")
            try rewriteBundleHeader(of: url, to: crafted, signer: try area["Oak"].keys()) {
                $0.holdingsFromChanges = false
                $0.extensions[BundleHeader.holdingsFromChangesTag] = [1]
            }
            let before = try area.la.digest()
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: crafted) }
            #expect(error?.message.contains("holdings-from-changes") == true, "\(error?.message ?? "")")
            #expect(try area.la.digest() == before)
            #expect(try area.la.apply(bundleAt: url).result == .applied)
        }
    }

    @Test func aLostBundleCostsNothingAndALateOneIsIgnored() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.exchanged(dir, pupils: 6)
            try area["Oak"].addNote(pupil: pupils[0].description, text: "lost", author: "SENCO Oak")
            let lost = try area.make("Oak", "LA")  // never delivered
            try area["Oak"].addNote(pupil: pupils[1].description, text: "late", author: "SENCO Oak")
            let late = try area.make("Oak", "LA")
            try area["Oak"].addNote(pupil: pupils[2].description, text: "arrives", author: "SENCO Oak")
            let arrives = try area.make("Oak", "LA")
            // Coded against what the LA confirmed, not against the bundles before it: the pupils
            // told in the lost and the late bundle are listed (the LA may hold either), the third
            // is told by the note it carries.
            #expect(try Self.section(of: arrives).holdingsCount == 2)
            try area.la.apply(bundleAt: arrives)
            #expect(try area.la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())
            let before = try area.la.belief(of: area["Oak"])
            try area.la.apply(bundleAt: late)
            #expect(try area.la.belief(of: area["Oak"]) == before)
            try area.la.apply(bundleAt: lost)
            #expect(try area.la.belief(of: area["Oak"]) == before)
        }
    }

    @Test func aRecipientThatCannotUseASectionForgetsAndAsksForEverything() throws {
        try withTemporaryDirectory { dir in
            let (area, pupils) = try Self.exchanged(dir, pupils: 5)
            try area["Oak"].addNote(pupil: pupils[0].description, text: "after", author: "SENCO Oak")
            let delta = try area.make("Oak", "LA")
            #expect(try Self.section(of: delta).holdingsBasis?.base == 1)
            // The LA no longer holds the generation the delta is coded against (as a store
            // restored from before it would): it keeps the listed pupils only (none: the note told
            // what changed, and is not counted on what is gone), and confirms none.
            let la = area.la
            try la.writer.write { db in
                try db.execute(sql: "UPDATE holdings_exchange SET received = 0")
            }
            try la.apply(bundleAt: delta)
            #expect(try la.belief(of: area["Oak"]).isEmpty)
            let back = try area.make("LA", "Oak")
            #expect(try Self.section(of: back).holdingsBasis?.confirmed == 0)
            try area["Oak"].apply(bundleAt: back)
            let whole = try area.make("Oak", "LA")
            #expect(try Self.section(of: whole).holdingsBasis?.base == 0)
            #expect(try Self.section(of: whole).holdingsCount == 5)
            try la.apply(bundleAt: whole)
            #expect(try la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())
        }
    }

    @Test func aSenderRestoredFromABackupTellsEverythingAgain() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.exchanged(dir, pupils: 4)
            try area.send("Oak", "LA")
            // Oak forgets the generations it made (as a store restored from before them would).
            try area["Oak"].writer.write { db in
                try db.execute(sql: "UPDATE holdings_exchange SET sent = 0, confirmed = 0, told_rev = -1")
                try db.execute(sql: "DELETE FROM holdings_sent")
            }
            try area.send("LA", "Oak")  // the LA holds generation 2, which Oak never made now
            let next = try area.make("Oak", "LA")
            let basis = try #require(try Self.section(of: next).holdingsBasis)
            #expect(basis.base == 0 && basis.generation == 3)
            try area.la.apply(bundleAt: next)
            #expect(try area.la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())
        }
    }

    /// A signed header whose holdings bases are malformed — a generation of 0, a base not below
    /// the generation, a recipient not in the bundle, a number too large to count on from — is
    /// refused as damaged, and the store is unchanged; none of them stops the store.
    @Test(arguments: [
        HoldingsBasis(base: 0, generation: 0, confirmed: 0),
        HoldingsBasis(base: 3, generation: 3, confirmed: 0),
        HoldingsBasis(base: 0, generation: 1, confirmed: (1 << 63) - 1),
        HoldingsBasis(base: 0, generation: (1 << 63) - 1, confirmed: 0),
    ])
    func malformedHoldingsBasesAreRefused(_ basis: HoldingsBasis) throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.schoolInSync(dir, pupils: 2)
            let url = try area.make("Oak", "LA")
            let crafted = dir.appendingPathComponent("crafted.bundle")
            try rewriteBundleHeader(of: url, to: crafted, signer: try area["Oak"].keys()) {
                $0.sections[0].holdingsBasis = basis
            }
            let before = try area.la.digest()
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: crafted) }
            #expect(error?.message.contains("holdings") == true, "\(error?.message ?? "")")
            #expect(try area.la.digest() == before)
            #expect(try area.la.apply(bundleAt: url).result == .applied)
        }
    }

    @Test func aHoldingsBasisForAnotherRecipientIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.schoolInSync(dir, pupils: 2)
            let url = try area.make("Oak", "LA")
            // A header naming a basis for a recipient with no section: built by hand.
            var header = try Store.inspectBundle(at: url)
            var w = BinaryWriter()
            w.writeVarint(1)
            w.write(contentsOf: area.id("Oak").bytes)
            w.writeVarint(0)
            w.writeVarint(1)
            w.writeVarint(0)
            header.sections[0].holdingsBasis = nil
            header.extensions[HoldingsBasis.extensionTag] = w.bytes
            let other = dir.appendingPathComponent("other.bundle")
            try rewriteBundleHeader(of: url, to: other, signer: try area["Oak"].keys()) { $0 = header }
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: other) }
            #expect(error?.message.contains("holdings") == true, "\(error?.message ?? "")")
        }
    }

    /// Random writes at a school and at the LA, bundles made both ways and delivered in any
    /// order, some never, some twice. After every delivery the recipient believes exactly what the
    /// sender held when it made the bundle (when the section was usable), what it believed before
    /// (an older section), or part of it (a section coded against a generation it does not hold);
    /// after an exchange in order, each believes exactly what the other holds.
    @Test(arguments: [0x401D_0001, 0x401D_0002, 0x401D_0003, 0x401D_0004, 0x401D_0005, 0x401D_0006] as [UInt64])
    func holdingsAreExactOrUnderEstimatedWhateverTheOrder(seed: UInt64) throws {
        print("holdings generations seed 0x\(String(seed, radix: 16, uppercase: true))")
        try withTemporaryDirectory { dir in
            var rng = SplitMix64(seed: seed)
            let (area, pupils) = try Self.schoolInSync(dir, pupils: 6)
            try area.send("Oak", "LA")
            var mailbox: [(from: String, to: String, url: URL, held: [RecordID: VersionVector])] = []
            for step in 0..<80 {
                let at = "seed 0x\(String(seed, radix: 16)), step \(step)"
                switch rng.below(4) {
                case 0:
                    let site = rng.chance(70) ? "Oak" : "LA"
                    let pupil = rng.pick(pupils)!
                    try area[site].addNote(pupil: pupil.description, text: "step \(step)", author: "SENCO \(site)")
                case 1:
                    let (from, to) = rng.chance(50) ? ("Oak", "LA") : ("LA", "Oak")
                    // Every pupil is Oak's, so each side tells the other all it holds.
                    mailbox.append((from, to, try area.make(from, to), try area[from].ownHoldings()))
                default:
                    guard let (from, to, url, held) = rng.pick(mailbox) else { continue }
                    let basis = try #require(try Self.section(of: url).holdingsBasis)
                    let received = try area[to].received(from: area[from])
                    let before = try area[to].belief(of: area[from])
                    let result = try area[to].apply(bundleAt: url).result
                    let belief = try area[to].belief(of: area[from])
                    if result == .alreadyApplied {
                        #expect(belief == before, "\(at): a bundle applied again changed what \(to) believes")
                    } else if basis.generation <= received {
                        #expect(belief == before, "\(at): an older section changed what \(to) believes")
                    } else if basis.base <= received {
                        #expect(belief == held, "\(at): \(to) does not believe what \(from) held")
                    } else {
                        #expect(
                            belief.allSatisfy { held[$0.key] == $0.value },
                            "\(at): \(to) believes what \(from) did not say")
                    }
                }
            }
            try area.send("Oak", "LA")
            try area.send("LA", "Oak")
            try area.send("Oak", "LA")
            #expect(try area.la.belief(of: area["Oak"]) == area["Oak"].ownHoldings())
            try area.send("LA", "Oak")
            #expect(try area["Oak"].belief(of: area.la) == area.la.ownHoldings())
        }
    }
}

extension Store {
    /// What this store holds of each pupil (its per-pupil clocks).
    fileprivate func ownHoldings() throws -> [RecordID: VersionVector] {
        try writer.read { db in
            var result: [RecordID: VersionVector] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT c.scope, s.site_id, c.seq FROM scope_clock c JOIN site s ON s.ord = c.site_ord")
            {
                guard let pupil = RecordID(row[0] as String), let site = SiteID(row[1] as String) else { continue }
                result[pupil, default: VersionVector()][site] = UInt64(row[2] as Int64)
            }
            return result
        }
    }

    /// The generation of `peer`'s holdings this store holds.
    fileprivate func received(from peer: Store) throws -> UInt64 {
        try writer.read { db in
            UInt64(
                try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT received FROM holdings_exchange JOIN site ON site.ord = peer_ord WHERE site.site_id = ?
                        """, arguments: [peer.identity.id.description]) ?? 0)
        }
    }

    /// What this store believes `peer` holds of each pupil.
    fileprivate func belief(of peer: Store) throws -> [RecordID: VersionVector] {
        try writer.read { db in
            var result: [RecordID: VersionVector] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT p.pupil_id, s.site_id, p.seq FROM peer_scope p
                    JOIN site s ON s.ord = p.origin_ord JOIN site q ON q.ord = p.peer_ord
                    WHERE q.site_id = ? AND p.passed_on = 0
                    """, arguments: [peer.identity.id.description])
            {
                guard let pupil = RecordID(row[0] as String), let site = SiteID(row[1] as String) else { continue }
                result[pupil, default: VersionVector()][site] = UInt64(row[2] as Int64)
            }
            return result
        }
    }
}
