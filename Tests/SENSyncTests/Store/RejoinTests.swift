import Foundation
import Testing

@testable import SENSync

/// A site whose store was restored from a backup and went on writing (so it forked: its numbers
/// were already used by changes that reached the LA) rejoins under a new id.
struct RejoinTests {
    static let ada = NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01")

    /// Replacing a site is all or nothing: a transfer that failed left the new site in the
    /// directory beside the old (two active sites of one name, each bundle to it refused as
    /// ambiguous). A pupil who joins the school later than the day the others move (an entry date
    /// still to come) moves from the day they join, instead of stopping every move.
    @Test func aReplacementIsAllOrNothingAndMovesAPupilWhoJoinsLater() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let elm = try area.add("Elm", .maintainedSchool)
            try area.send("LA", "Elm")
            let later = area.la.today.adding(days: 10).description
            try elm.addPupil(Self.ada, author: "SENCO")
            var bea = NewPupil(upn: syntheticUPN(2), forename: "Bea", surname: "Example", dateOfBirth: "2016-05-01")
            bea.entryDate = later
            let beaID = try elm.addPupil(bea, author: "SENCO")
            try area.send("Elm", "LA")
            let elm2 = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Elm", kind: .maintainedSchool), la: area.la.publicIdentity,
                now: area.clock.now)
            let before = try #require(try area.la.directory())
            // A failure part way (no author, found at the first move) changes nothing.
            #expect(throws: StoreError.self) {
                try area.la.replaceInDirectory(elm.identity.id, with: elm2.publicIdentity, author: " ")
            }
            #expect(try area.la.directory() == before)
            #expect(try area.la.enrolments(of: beaID.description).count == 1)

            #expect(try area.la.replaceInDirectory(elm.identity.id, with: elm2.publicIdentity, author: "LA") == 2)
            let directory = try #require(try area.la.directory())
            #expect(directory.activeEntry(elm.identity.id) == nil && directory.activeEntry(elm2.identity.id) != nil)
            let moved = try area.la.enrolments(of: beaID.description).filter { $0.schoolID == elm2.identity.id }
            #expect(moved.map(\.entryDate) == [later])
        }
    }

    /// A leaked key file: the README has the LA remove the site at once, then the site rejoins.
    /// `--replaces` refused a site already removed ("not an active site"), and a plain add in its
    /// place let carry-over write the copy's changes again over the LA's later edits (the new
    /// store had received none of the pupils, so everything looked as if only the copy held it).
    @Test func aSiteRemovedForALeakedKeyIsReplacedAndOnlyThenCarriesOver() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let elm = try area.add("Elm", .maintainedSchool, inMemory: false)
            try area.send("LA", "Elm")
            let pupil = try elm.addPupil(Self.ada, author: "SENCO")
            try area.send("Elm", "LA")
            try area.la.updatePupil(pupil.description, PupilUpdate(forename: "Adaline"), author: "LA officer")
            try area.send("LA", "Elm")
            try area.la.removeFromDirectory(elm.identity.id)
            let rejoined = try Store.rejoin(
                restored: elm, newStoreAt: dir.appendingPathComponent("elm-2.sensync").path, now: area.clock.now)
            area.register("Elm 2", rejoined)

            // The wrong way first: a plain add. Carry-over waits for the pupils to move.
            let wrong = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Elm", kind: .maintainedSchool), la: area.la.publicIdentity,
                now: area.clock.now)
            try area.la.addToDirectory(wrong.publicIdentity)
            area.register("Elm wrong", wrong)
            try area.send("LA", "Elm wrong")
            let refusal = #expect(throws: StoreError.self) { try wrong.carryOver(from: elm) }
            #expect(refusal?.hint?.contains("--replaces") == true, "\(String(describing: refusal))")
            // While the wrong entry is active, its name is taken: the replacement is refused.
            #expect(throws: StoreError.self) {
                try area.la.replaceInDirectory(elm.identity.id, with: rejoined.publicIdentity, author: "LA")
            }
            try area.la.removeFromDirectory(wrong.identity.id)

            // The way the README says: the removed site is replaced, its pupils move.
            #expect(try area.la.replaceInDirectory(elm.identity.id, with: rejoined.publicIdentity, author: "LA") == 1)
            try area.send("LA", "Elm 2")
            let report = try rejoined.carryOver(from: elm)
            #expect(report.carried == 0 && report.refused.isEmpty, "\(report)")
            try area.send("Elm 2", "LA")
            for store in [area.la, rejoined] { #expect(try store.pupil(pupil.description).forename == "Adaline") }
        }
    }

    @Test func anAcademyThatForkedRejoinsInItsTrustAndCarriesOverWhatOnlyItsCopyHeld() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            try area.add("Trust", .trust)
            let academy = try area.add("Academy", .academy, trust: "Trust", inMemory: false)
            let elm = try area.add("Elm", .maintainedSchool)
            try area.send("LA", "Academy")
            let pupil = try academy.addPupil(Self.ada, author: "SENCO")
            // Bea moves on to Elm before the backup: the backup still holds her two changes.
            let bea = try academy.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Bea", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "SENCO")
            try academy.transferPupil(bea.description, to: elm.identity.id, on: "2026-01-05", author: "SENCO")
            try area.send("Academy", "LA")
            let backup = try area.backUp("Academy", as: "backup")
            // After the backup, two changes reach the LA.
            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "SENCO")
            try academy.addNote(pupil: pupil.description, text: "Reached the LA.", author: "SENCO")
            try area.send("Academy", "LA")

            // Restored, it writes three changes before anything tells it: numbers 2 and 3 fork.
            let restored = try Store.open(at: backup, now: area.clock.now)
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 3), author: "Restored SENCO")
            try restored.addNote(pupil: pupil.description, text: "Only on the copy.", author: "Restored SENCO")
            try restored.addNote(pupil: pupil.description, text: "Also only on the copy.", author: "Restored SENCO")
            let forked = dir.appendingPathComponent("forked.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: forked)
            let refusal = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: forked) }
            #expect(refusal?.code == .fork)
            #expect(refusal?.hint.contains("sensync rejoin start") == true, "\(refusal?.hint ?? "")")

            let rejoined = try Store.rejoin(
                restored: restored, newStoreAt: dir.appendingPathComponent("academy-2.sensync").path,
                now: area.clock.now)
            #expect(rejoined.identity.id != academy.identity.id)
            #expect(rejoined.identity.name == "Academy" && rejoined.identity.kind == .academy)
            #expect(try rejoined.pinnedLA() == area.la.publicIdentity)
            let moved = try area.la.replaceInDirectory(
                academy.identity.id, with: rejoined.publicIdentity, author: "LA officer")
            #expect(moved == 1)
            let directory = try #require(try area.la.directory())
            #expect(directory.activeEntry(rejoined.identity.id)?.trust == area["Trust"].identity.id)
            #expect(directory.activeEntry(academy.identity.id) == nil)
            // The old id cannot be replaced twice, nor a site by one of another kind.
            #expect(throws: StoreError.self) {
                try area.la.replaceInDirectory(academy.identity.id, with: rejoined.publicIdentity, author: "LA")
            }
            area.register("Academy 2", rejoined)
            try area.send("LA", "Academy 2")
            #expect(try rejoined.pupil(pupil.description).yearGroup == 5)

            let report = try rejoined.carryOver(from: restored)
            // Ada's first change came back; the three made only on the copy are carried over; Bea's
            // two are about a pupil no longer on this roll (the LA holds them).
            #expect(report.alreadyHeld == 1 && report.carried == 3 && report.notOnRoll == 2, "\(report)")
            #expect(report.refused.isEmpty, "\(report)")
            #expect(try rejoined.carryOver(from: restored).carried == 0)
            try area.send("Academy 2", "LA")
            // Bea stays where the LA has her: never enrolled at the new id.
            let beaSchools = Set(try area.la.enrolments(of: bea.description).compactMap(\.schoolID))
            #expect(beaSchools == [academy.identity.id, elm.identity.id])
            #expect(throws: StoreError.self) { try rejoined.pupil(bea.description) }
            for store in [area.la, rejoined] {
                #expect(try store.pupil(pupil.description).yearGroup == 3)
                let notes = try store.notes(of: pupil.description).map(\.text).sorted()
                #expect(notes == ["Also only on the copy.", "Only on the copy.", "Reached the LA."])
            }
            #expect(try area.la.history(of: pupil.description).filter { $0.author == "Restored SENCO" }.count == 3)
            #expect(try area.la.auditVerify().problems.allSatisfy { $0.kind == .fork })
            #expect(try rejoined.auditVerify().isClean)
        }
    }

    /// The LA erased a pupil after the school's backup was taken; the backup still holds them.
    /// Carry-over wrote the pupil again at the rejoined site (their changes were the copy's, and
    /// this store had never heard of them: the LA erased them before the replacement, so did not
    /// move them): an erased child's record back on a school's roll. A pupil the LA holds from
    /// the old site (a peer acknowledged a change about them) is the LA's to keep, move or erase.
    @Test func aPupilTheLAErasedAfterTheBackupIsNotWrittenAgainByCarryOver() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Elm", .maintainedSchool, inMemory: false)
            try area.send("LA", "Elm")
            let ada = try school.addPupil(Self.ada, author: "SENCO")
            let bea = try school.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Bea", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "SENCO")
            try area.send("Elm", "LA")
            try area.send("LA", "Elm")
            let backup = try area.backUp("Elm", as: "backup")
            try area.la.erasePupil(ada.description, reason: "duplicate record", author: "LA officer")

            let restored = try Store.open(at: backup, now: area.clock.now)
            try restored.addNote(pupil: bea.description, text: "Only on the copy.", author: "SENCO")
            let rejoined = try Store.rejoin(
                restored: restored, newStoreAt: dir.appendingPathComponent("elm-2.sensync").path,
                now: area.clock.now)
            #expect(
                try area.la.replaceInDirectory(school.identity.id, with: rejoined.publicIdentity, author: "LA") == 1)
            area.register("Elm 2", rejoined)
            try area.send("LA", "Elm 2")
            let report = try rejoined.carryOver(from: restored)
            #expect(report.carried == 1 && report.notOnRoll == 1, "\(report)")
            #expect(try rejoined.pupils().map(\.id) == [bea])
            try area.send("Elm 2", "LA")
            #expect(try area.la.notes(of: bea.description).map(\.text) == ["Only on the copy."])
            #expect(throws: StoreError.self) { try area.la.pupil(ada.description) }
            #expect(try area.la.history(of: bea.description).count == 3)
        }
    }

    /// Carry-over waits until a pupil of the old site's roll has reached the new site (the
    /// LA's replacement moves them). It waited for one the LA had acknowledged, so when those were
    /// all erased (or moved on) before the replacement, and only pupils of the school's last,
    /// unacknowledged bundle moved, it refused for ever.
    @Test func carryOverGoesAheadWhenOnlyTheLastBundlesPupilsMoved() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let trust = try area.add("Trust", .trust)
            let school = try area.add("Oakfield", .maintainedSchool, inMemory: false)
            try area.send("LA", "Oakfield")
            let ada = try school.addPupil(Self.ada, author: "SENCO")
            try area.send("Oakfield", "LA")
            try area.send("LA", "Oakfield")
            let bea = try school.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Bea", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "SENCO")
            try area.send("Oakfield", "LA")
            try area.la.erasePupil(ada.description, reason: "duplicate record", author: "LA officer")

            let academy = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield", kind: .academy), la: area.la.publicIdentity,
                now: area.clock.now)
            #expect(
                try area.la.replaceInDirectory(
                    school.identity.id, with: academy.publicIdentity, trust: trust.identity.id, author: "LA") == 1)
            area.register("Oakfield Academy", academy)
            try area.send("LA", "Trust")
            try area.send("Trust", "Oakfield Academy")
            let report = try academy.carryOver(from: school)
            #expect(report.carried == 0 && report.alreadyHeld == 1 && report.notOnRoll == 1, "\(report)")
            #expect(try academy.pupils().map(\.id) == [bea])
        }
    }

    /// A maintained school that converts to an academy usually keeps its name: the LA adds the
    /// academy in place of the school (`directory add --replaces` with `--trust`). It was refused
    /// twice over: the academy's name was the school's (two active sites of one name), and a
    /// replacement had to be the same kind of site. The academy takes the school's pupils with
    /// their whole history, joins its trust, and the school's name now names the academy.
    @Test func aMaintainedSchoolConvertsToAnAcademyOfTheSameNameInATrust() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let trust = try area.add("Trust", .trust)
            let school = try area.add("Oakfield", .maintainedSchool, urn: "100001")
            try area.send("LA", "Oakfield")
            let ada = try school.addPupil(Self.ada, author: "SENCO")
            try school.addNote(pupil: ada.description, text: "Sent before the conversion.", author: "SENCO")
            try area.send("Oakfield", "LA")

            let academy = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield", kind: .academy, urn: "140001"),
                la: area.la.publicIdentity, now: area.clock.now)
            // A plain add is still refused (two sites of one name), naming the way that works.
            let plain = #expect(throws: StoreError.self) {
                try area.la.addToDirectory(academy.publicIdentity, trust: trust.identity.id)
            }
            #expect(plain?.hint?.contains("--replaces") == true)
            // Only a maintained school becomes an academy; a rejoin keeps its trust.
            let backwards = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield", kind: .trust), la: area.la.publicIdentity,
                now: area.clock.now)
            #expect(throws: StoreError.self) {
                try area.la.replaceInDirectory(school.identity.id, with: backwards.publicIdentity, author: "LA")
            }
            let rejoining = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield", kind: .maintainedSchool),
                la: area.la.publicIdentity, now: area.clock.now)
            #expect(throws: StoreError.self) {
                try area.la.replaceInDirectory(
                    school.identity.id, with: rejoining.publicIdentity, trust: trust.identity.id, author: "LA")
            }

            let moved = try area.la.replaceInDirectory(
                school.identity.id, with: academy.publicIdentity, trust: trust.identity.id, author: "LA officer")
            #expect(moved == 1)
            let directory = try #require(try area.la.directory())
            #expect(directory.activeEntry(academy.identity.id)?.trust == trust.identity.id)
            #expect(directory.activeEntry(school.identity.id) == nil)
            #expect(try area.la.resolveSite("Oakfield").id == academy.identity.id)

            area.register("Oakfield Academy", academy)
            try area.send("LA", "Oakfield Academy")
            try area.send("LA", "Trust")
            for store in [academy, trust] {
                #expect(try store.pupil(ada.description).surname == "Example")
                #expect(try store.notes(of: ada.description).map(\.text) == ["Sent before the conversion."])
            }
            try academy.addNote(pupil: ada.description, text: "Written at the academy.", author: "SENCO")
            try area.send("Oakfield Academy", "Trust")
            try area.send("Trust", "LA")
            #expect(try area.la.notes(of: ada.description).count == 2)
            // The school's bundles are refused from now on: it was removed.
            #expect(throws: BundleError.self) {
                try area.la.apply(bundleAt: try area.make("Oakfield", "LA"))
            }
        }
    }

    /// A pupil's open SEN support goes with them when their school is replaced (a rejoin, or an
    /// academy conversion): it is the same school's support. The census at the new site said N for
    /// every SEN pupil, their open episodes being at the old site's id; one that ended stays there.
    @Test func openSENSupportMovesToTheSiteThatReplacesTheSchool() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Oakfield", .maintainedSchool, urn: "100001")
            try area.send("LA", "Oakfield")
            let ada = try school.addPupil(Self.ada, author: "SENCO").description
            try school.updatePupil(ada, PupilUpdate(senStatus: "K", senNeeds: "SLCN"), author: "SENCO")
            let ben = try school.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Ben", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "SENCO"
            ).description
            try school.updatePupil(ben, PupilUpdate(senStatus: "K", senNeeds: "MLD"), author: "SENCO")
            area.clock.advance(seconds: 3 * 86_400)
            try school.updatePupil(ben, PupilUpdate(senStatus: "N"), author: "SENCO")
            func census(_ store: Store) throws -> [String: String] {
                Dictionary(
                    uniqueKeysWithValues: try store.censusExport().rows.map { ($0.pupil.description, $0.provision) })
            }
            #expect(try census(school) == [ada: "K", ben: "N"])
            try area.send("Oakfield", "LA")

            let academy = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield", kind: .academy, urn: "140001"),
                la: area.la.publicIdentity, now: area.clock.now)
            area.clock.advance(seconds: 86_400)
            #expect(try area.la.replaceInDirectory(school.identity.id, with: academy.publicIdentity, author: "LA") == 2)
            area.register("Oakfield Academy", academy)
            try area.send("LA", "Oakfield Academy")
            // Ada's support is the academy's now; Ben's ended one stays with the school it was at.
            #expect(try census(academy) == [ada: "K", ben: "N"])
            let episodes = try academy.records(SENEpisode.spec, of: ada) + academy.records(SENEpisode.spec, of: ben)
            let schools = episodes.map {
                ($0.values.text(SENEpisode.Field.provision), $0.values.text(SENEpisode.Field.schoolID))
            }
            #expect(schools.filter { $0.1 == academy.identity.id.description }.map(\.0) == ["K"])
            #expect(schools.filter { $0.1 == school.identity.id.description }.count == episodes.count - 1)
        }
    }

    /// The restored copy learns what the LA holds before its forked numbers would show: it wrote
    /// change 2 again, then applied the LA's bundle (which says the LA holds up to 2), then wrote
    /// change 3. Its bundle carries only 3, proved by a signed run 2–3 that clashes with the run
    /// the LA holds for 2: the LA refuses it as a fork instead of taking a change whose signature
    /// it cannot keep (which `audit verify` then reported as an altered change).
    @Test func aRestoredCopyThatLearnsTheLAsHoldingsBeforeItsForkShowsIsStillRefused() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let (school, pupil, backup) = try area.schoolBackedUpAfterAPupil(Self.ada)
            try school.addNote(pupil: pupil.description, text: "Reached the LA.", author: "SENCO")
            try area.send("School", "LA")

            let restored = try Store.open(at: backup, now: area.clock.now)
            try restored.addNote(pupil: pupil.description, text: "Only on the copy.", author: "Restored SENCO")
            let fromLA = dir.appendingPathComponent("from-la.bundle")
            try area.la.makeBundle(to: [school.identity.id], at: fromLA)
            _ = try restored.apply(bundleAt: fromLA)
            try restored.addNote(pupil: pupil.description, text: "Also only on the copy.", author: "Restored SENCO")
            let forked = dir.appendingPathComponent("forked.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: forked)
            let digest = try area.la.digest()
            let refusal = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: forked) }
            #expect(refusal?.code == .fork, "\(String(describing: refusal))")
            #expect(refusal?.hint.contains("sensync rejoin start") == true, "\(refusal?.hint ?? "")")
            #expect(refusal?.message.contains("School signed two different runs of its changes from number 2") == true)
            let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: forked, against: area.la) }
            #expect(verify?.code == .fork)
            #expect(try area.la.digest() == digest)
            #expect(try area.la.auditVerify().isClean)
            #expect(try area.la.notes(of: pupil.description).map(\.text) == ["Reached the LA."])
        }
    }
}
