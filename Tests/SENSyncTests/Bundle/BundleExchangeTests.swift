import Foundation
import GRDB
import Testing

@testable import SENSync

/// Bundles between the stores of an area: acknowledgement, re-application, and refusals that name
/// what to do (missing changes, wrong recipient, unknown sender, bad signature, fork, clock,
/// versions).
struct BundleExchangeTests {
    /// An area (LA, a trust, an academy in it) where everyone has heard from the LA, and a pupil
    /// at the academy with `extra` further changes: `1 + extra` changes of the academy.
    static func area(_ dir: URL, extra: Int = 2, laInMemory: Bool = true, academyInMemory: Bool = true) throws -> (
        TestArea, RecordID
    ) {
        let area = try TestArea(folder: dir, inMemory: laInMemory)
        try area.add("Trust", .trust)
        try area.add("Academy", .academy, trust: "Trust", inMemory: academyInMemory)
        try area.send("LA", "Trust")
        try area.send("LA", "Academy")
        let academy = area["Academy"]
        let pupil = try academy.addPupil(Self.ada, author: "SENCO")
        for i in 0..<extra {
            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: i % 7), author: "SENCO")
        }
        return (area, pupil)
    }

    static let ada = NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01")

    /// What a refusal must leave alone (it adds its row to the import log, and nothing else).
    struct Untouched: Equatable {
        var digest: Digest32
        var versionVector: VersionVector
        var imports: [ImportLogEntry]
        var directoryVersion: UInt64?

        init(_ store: Store) throws {
            digest = try store.digest()
            versionVector = try store.versionVector()
            imports = try store.importLog(limit: 1000)
            directoryVersion = try store.directory()?.version
        }
    }

    /// Applies `url` at `store`, expects a refusal with `code`, and checks the store is untouched
    /// but for the refusal's row in the import log: every table but the log is unchanged.
    @discardableResult
    static func expectRefusal(
        _ code: BundleError.Code, applying url: URL, at store: Store,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> BundleError? {
        let before = try Untouched(store)
        let tables = try store.tableDump(excluding: ["import_log"])
        let error = #expect(throws: BundleError.self, sourceLocation: sourceLocation) { try store.apply(bundleAt: url) }
        #expect(error?.code == code, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        var after = try Untouched(store)
        #expect(after.imports.count == before.imports.count + 1, sourceLocation: sourceLocation)
        #expect(after.imports.first?.result == "refused: \(code.rawValue)", sourceLocation: sourceLocation)
        #expect(after.imports.first?.detail == error?.message, sourceLocation: sourceLocation)
        after.imports.removeFirst()
        #expect(after == before, "the refusal changed the store", sourceLocation: sourceLocation)
        #expect(
            try store.tableDump(excluding: ["import_log"]) == tables, "the refusal changed a table",
            sourceLocation: sourceLocation)
        return error
    }

    // MARK: Re-application and acknowledgement

    /// The import log accounts for every change a bundle carries: those merged, those held
    /// already, those kept without content (an erased pupil's) and those not taken add up to the
    /// bundle's count (a pupil erased before the trust heard of them showed "CHANGES 4 NEW 1").
    @Test func theLogAccountsForEveryChangeInABundle() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir)
            try area["Academy"].erasePupil(pupil.description, reason: "retention test", author: "SENCO")
            let report = try area.send("Academy", "Trust")
            #expect(report.heldWithoutContent == 3 && report.applied == 1)
            let entry = try #require(try area["Trust"].importLog(limit: 1).first)
            #expect(entry.changeCount == 4 && report.changesCounted == 4)
            #expect(entry.applied == 1 && entry.keptWithoutContent == 3)
            let counted = [entry.keptWithoutContent, entry.relayed, entry.notTaken].map { $0 ?? 0 }.reduce(0, +)
            #expect(entry.applied + entry.duplicates + entry.rejected + counted == entry.changeCount)
        }
    }

    /// `status` counts every change it holds of each site: a trust holds only the LA's changes
    /// about its academies' pupils, so none of them ran unbroken from the LA's first, and the LA
    /// was left out of "Changes held" altogether.
    @Test func statusCountsEveryChangeHeldOfEachSite() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir)
            try area.send("Academy", "Trust")
            try area.send("Trust", "LA")
            try area.la.addPupil(
                NewPupil(upn: syntheticUPN(2), forename: "Bo", surname: "Elsewhere", dateOfBirth: "2015-01-01"),
                author: "LA")
            try area.la.addNote(pupil: pupil.description, text: "Seen by the LA", author: "LA")
            try area.send("LA", "Trust")
            let status = try area["Trust"].status()
            let la = area.la.identity.id
            #expect(status.versionVector[la] == 0 && status.changesHeld[la] == 1)
            #expect(status.changesHeld[area["Academy"].identity.id] == 3)
            #expect(try area.la.status().changesHeld[la] == 2)
        }
    }

    @Test func reapplyingABundleChangesNothing() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            let first = try area.la.apply(bundleAt: url)
            #expect(first.result == .applied)
            #expect(first.applied == 3 && first.duplicates == 0 && first.skipped == 0)
            let before = try Untouched(area.la)
            let again = try area.la.apply(bundleAt: url)
            #expect(again.result == .alreadyApplied)
            #expect(again.applied == 0 && again.duplicates == 0)
            #expect(again.previousImportAt != nil)
            #expect(try Untouched(area.la) == before)
            // The same changes in a new bundle (the academy has no acknowledgement yet): all duplicates.
            let report = try area.send("Academy", "LA")
            #expect(report.result == .applied)
            #expect(report.applied == 0 && report.duplicates == 3)
            #expect(try area.la.digest() == before.digest)
        }
    }

    /// A `makeBundle` killed before it finished leaves hidden temporary files beside its output;
    /// the next one to the same file removes them (and only them).
    @Test func makingABundleRemovesWhatAnInterruptedOneLeft() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let out = dir.appendingPathComponent("to-la.bundle")
            // A process that no longer runs (pid 2^22 + 1 is above Linux's pid limit) left these.
            let stale = [
                ".to-la.bundle.0a1b2c3d.sensync-tmp", ".to-la.bundle.0a1b2c3d.0.sensync-tmp",
                ".to-la.bundle.0a1b2c3e.p4194305.sensync-tmp",
            ]
            // Another bundle's, a user's file, and the files of a command making a bundle to the
            // same path right now (this process stands in for it): they were removed under it.
            let kept = [
                ".other.bundle.0a1b2c3d.sensync-tmp", "to-la.bundle.notes",
                ".to-la.bundle.0a1b2c3f.p\(getpid()).sensync-tmp", ".to-la.bundle.0a1b2c3f.p\(getpid()).0.sensync-tmp",
            ]
            for name in stale + kept { try Data([1, 2, 3]).write(to: dir.appendingPathComponent(name)) }
            try area["Academy"].makeBundle(to: [area.la.identity.id], at: out)
            let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
            #expect(names.isDisjoint(with: stale))
            #expect(names.isSuperset(of: kept + ["to-la.bundle"]))
            #expect(try area.la.apply(bundleAt: out).applied == 3)
        }
    }

    /// A store restored from a backup has forgotten changes it had already sent. The LA's next
    /// bundle acknowledges them: the restored store applies it (bundles from upstream may bring
    /// its own changes back) but sees it is behind its own history, says so, and refuses local
    /// writes, which would reuse the lost changes' numbers, until it holds them again.
    @Test func aStoreRestoredFromABackupSeesItIsBehindItsOwnHistory() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let (school, pupil, backup) = try area.schoolBackedUpAfterAPupil(Self.ada)
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "SENCO")
            try area.send("School", "LA")
            #expect(try area.la.versionVector()[school.identity.id] == 2)

            let restored = try Store.open(at: backup, now: area.clock.now)
            #expect(try restored.status().behindOwnHistory == nil)
            let url = try area.la.makeBundle(to: [school.identity.id], at: dir.appendingPathComponent("la.bundle")).url
            let report = try restored.apply(bundleAt: url)
            #expect(report.behindOwnHistory == OwnHistoryGap(held: 1, acknowledged: 2))
            #expect(report.behindOwnHistory?.message.contains("restored from a backup") == true)
            #expect(try restored.status().behindOwnHistory == OwnHistoryGap(held: 1, acknowledged: 2))
            let before = try restored.digest()
            let error = #expect(throws: StoreError.self) {
                try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 3), author: "SENCO")
            }
            #expect(error?.code == .behindOwnHistory)
            #expect(try restored.digest() == before)
            #expect(try restored.versionVector()[school.identity.id] == 1)
            // The way back the README gives when the copy wrote nothing: a bundle to the LA (so it
            // knows what the copy holds), then the LA's reply brings the lost change back, and the
            // copy writes again. Its next change reached no one: it was never signed (the copy
            // signed from where its backup had, and the change it got back had its checkpoint
            // already), so the copy's bundle carried nothing and `audit verify` found it unsigned.
            let holdings = dir.appendingPathComponent("restored-holdings.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: holdings)
            try area.la.apply(bundleAt: holdings)
            let reply = try area.la.makeBundle(
                to: [school.identity.id], at: dir.appendingPathComponent("la-2.bundle")
            ).url
            #expect(try restored.apply(bundleAt: reply).behindOwnHistory == nil)
            #expect(try restored.versionVector()[school.identity.id] == 2)
            try restored.addNote(pupil: pupil.description, text: "After the restore.", author: "SENCO")
            #expect(try restored.auditVerify().isClean)
            let after = dir.appendingPathComponent("restored.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: after)
            #expect(try area.la.apply(bundleAt: after).applied == 1)
            #expect(try area.la.notes(of: pupil.description).map(\.text) == ["After the restore."])
        }
    }

    /// An LA restored from a backup gets back, from its schools, what it had sent them: its
    /// own changes, and the area directory it had signed since (a school's bundle carries the
    /// directory when the LA's last bundle showed an older one; the LA takes its own signature).
    /// Until it has the directory back it does not sign another with the same number: two
    /// different lists of sites under one version would split the area.
    @Test func anLARestoredFromABackupGetsItsDirectoryAndChangesBackFromItsSchools() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir, inMemory: false)
            let school = try area.add("School", .maintainedSchool)
            try area.send("LA", "School")
            let pupil = try school.addPupil(Self.ada, author: "SENCO")
            try area.send("School", "LA")
            let backup = try area.backUp("LA", as: "la-backup")
            let x = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "X School", kind: .maintainedSchool),
                la: area.la.publicIdentity, now: area.clock.now)
            let version = try area.la.addToDirectory(x.publicIdentity).version
            try area.la.addNote(pupil: pupil.description, text: "From the LA.", author: "LA")
            try area.send("LA", "School")

            let restored = try Store.open(at: backup, now: area.clock.now)
            #expect(try restored.directory()?.version == version - 1)
            var counter = 0
            func exchange(_ from: Store, _ to: Store) throws -> ImportReport {
                counter += 1
                let url = dir.appendingPathComponent("restore-\(counter).bundle")
                try from.makeBundle(to: [to.identity.id], at: url)
                return try to.apply(bundleAt: url)
            }
            #expect(try exchange(school, restored).behindOwnHistory != nil)
            // The school holds a newer directory than the restored LA: the LA does not sign
            // another version \(version) meanwhile.
            let y = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Y School", kind: .maintainedSchool),
                la: area.la.publicIdentity, now: area.clock.now)
            let refused = #expect(throws: StoreError.self) { try restored.addToDirectory(y.publicIdentity) }
            #expect(refused?.code == .behindOwnHistory)
            #expect(try restored.directory()?.version == version - 1)

            _ = try exchange(restored, school)
            let back = try exchange(school, restored)
            #expect(back.directoryUpdatedTo == version)
            #expect(back.behindOwnHistory == nil)
            #expect(try restored.directory()?.activeEntry(x.identity.id) != nil)
            #expect(try restored.notes(of: pupil.description).map(\.text) == ["From the LA."])
            #expect(try restored.digest() == area.la.digest())
            // Whole again: the LA writes, and its next directory is a new version.
            #expect(try restored.addToDirectory(y.publicIdentity).version == version + 1)
            try restored.addNote(pupil: pupil.description, text: "After the restore.", author: "LA")
            #expect(try exchange(restored, school).applied == 1)
            #expect(try school.directory()?.version == version + 1)
            #expect(try restored.auditVerify().isClean)
        }
    }

    /// An LA restored from a backup that changes the directory before it hears from anyone signs
    /// a second, different directory under a number a school already holds: the school refuses
    /// it as a fork (it kept its own list without a word, and the two halves of the area then
    /// refused each other's bundles as from unknown sites). The way out: the LA adds the missing
    /// site again, and the newer version replaces both.
    @Test func aSecondDirectoryUnderTheSameVersionIsRefusedAsAFork() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir, inMemory: false)
            let school = try area.add("School", .maintainedSchool)
            try area.send("LA", "School")
            let backup = try area.backUp("LA", as: "la-backup")
            func site(_ name: String) throws -> Store {
                try Store.inMemory(
                    identity: SiteIdentity(id: .v7(), name: name, kind: .maintainedSchool),
                    la: area.la.publicIdentity, now: area.clock.now)
            }
            let x = try site("X School")
            let version = try area.la.addToDirectory(x.publicIdentity).version
            try area.send("LA", "School")

            let restored = try Store.open(at: backup, now: area.clock.now)
            let y = try site("Y School")
            #expect(try restored.addToDirectory(y.publicIdentity).version == version)
            let url = dir.appendingPathComponent("forked-directory.bundle")
            try restored.makeBundle(to: [school.identity.id], at: url)
            let before = try school.digest()
            let error = #expect(throws: BundleError.self) { try school.apply(bundleAt: url) }
            #expect(error?.code == .fork)
            #expect(error?.message.contains("version \(version)") == true)
            #expect(try school.digest() == before)
            #expect(try school.directory()?.activeEntry(x.identity.id) != nil)

            try restored.addToDirectory(x.publicIdentity)
            let again = dir.appendingPathComponent("mended-directory.bundle")
            try restored.makeBundle(to: [school.identity.id], at: again)
            #expect(try school.apply(bundleAt: again).directoryUpdatedTo == version + 1)
            let listed = try #require(try school.directory())
            #expect(listed.activeEntry(x.identity.id) != nil && listed.activeEntry(y.identity.id) != nil)
        }
    }

    /// A restored store that writes before it hears from upstream reuses a number whose change
    /// already reached the LA: the LA refuses its bundle as a fork. The LA's next bundle to it
    /// brought nothing that showed it (the LA acknowledges numbers, and the copy holds those
    /// numbers, only with other changes), so the copy went on writing changes no site would ever
    /// take. Now the LA keeps the fork it refused and sends the copy the change it holds under
    /// that number: the copy learns it forked, says so, refuses local writes, and rejoins.
    @Test func aRestoredStoreThatWroteBeforeSyncingLearnsItForkedFromTheLAsNextBundle() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let (school, pupil, backup) = try area.schoolBackedUpAfterAPupil(Self.ada)
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "SENCO")
            try area.send("School", "LA")

            let restored = try Store.open(at: backup, now: area.clock.now)
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 3), author: "Restored SENCO")
            let forked = dir.appendingPathComponent("forked.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: forked)
            let refusal = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: forked) }
            #expect(refusal?.code == .fork)
            // Refusing it again changes nothing.
            #expect(throws: BundleError.self) { try area.la.apply(bundleAt: forked) }

            let url = try area.la.makeBundle(to: [school.identity.id], at: dir.appendingPathComponent("la.bundle")).url
            let report = try restored.apply(bundleAt: url)
            let gap = try #require(report.behindOwnHistory)
            #expect(gap.forkedAt == 2, "\(gap)")
            #expect(gap.message.contains("forked") && gap.hint.contains("sensync rejoin start"), "\(gap)")
            #expect(try restored.status().behindOwnHistory == gap)
            let before = try restored.digest()
            let error = #expect(throws: StoreError.self) {
                try restored.addNote(pupil: pupil.description, text: "Lost if kept here.", author: "Restored SENCO")
            }
            #expect(error?.code == .behindOwnHistory)
            #expect(try restored.digest() == before)
            // The live store takes the same bundle and carries on.
            #expect(try school.apply(bundleAt: url).behindOwnHistory == nil)
            try school.addNote(pupil: pupil.description, text: "Carries on.", author: "SENCO")

            // The way back: the copy rejoins under a new id and carries over what only it held.
            let rejoined = try Store.rejoin(
                restored: restored, newStoreAt: dir.appendingPathComponent("school-2.sensync").path,
                now: area.clock.now)
            try area.send("School", "LA")
            try area.la.replaceInDirectory(school.identity.id, with: rejoined.publicIdentity, author: "LA officer")
            area.register("School 2", rejoined)
            try area.send("LA", "School 2")
            #expect(try rejoined.carryOver(from: restored).carried == 1)
            try area.send("School 2", "LA")
            try area.send("LA", "School 2")
            for store in [area.la, rejoined] {
                #expect(try store.pupil(pupil.description).yearGroup == 3)
                #expect(try store.notes(of: pupil.description).map(\.text) == ["Carries on."])
            }
            #expect(try rejoined.status().behindOwnHistory == nil)
        }
    }

    /// `status` counts what a peer lacks that it may see: at the LA, one school's pupils are not
    /// "still lacked" by another school (it would never be sent them).
    @Test func statusCountsOnlyWhatAPeerMaySee() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            try area.add("Oak", .maintainedSchool)
            try area.add("Elm", .maintainedSchool)
            try area.send("LA", "Oak")
            try area.send("LA", "Elm")
            try area.send("Elm", "LA")  // Elm is now the LA's peer, holding none of Oak's changes
            let ada = try area["Oak"].addPupil(Self.ada, author: "SENCO")
            try area["Oak"].updatePupil(ada.description, PupilUpdate(yearGroup: 3), author: "SENCO")
            try area.send("Oak", "LA")
            try area.send("LA", "Oak")
            let peers = try area.la.status().peers
            #expect(peers.first { $0.site.name == "Elm" }?.lacks == 0)
            #expect(peers.first { $0.site.name == "Oak" }?.lacks == 0)
            // A new change about Oak's pupil: Oak lacks it; Elm still lacks nothing.
            let bea = NewPupil(upn: syntheticUPN(2), forename: "Bea", surname: "Example", dateOfBirth: "2016-05-01")
            _ = try area["Oak"].addPupil(bea, author: "SENCO")
            try area.send("Oak", "LA")
            try area["Oak"].updatePupil(ada.description, PupilUpdate(yearGroup: 4), author: "SENCO")
            let after = try area.la.status().peers
            #expect(after.first { $0.site.name == "Elm" }?.lacks == 0)
            #expect(after.first { $0.site.name == "Oak" }?.lacks == 0)  // the LA holds nothing Oak lacks
        }
    }

    /// What a pupil's changes are above a floor (what a recipient holds, per site of origin) is
    /// read origin by origin from the index: the same dots as reading them all and keeping those
    /// above the floor, for every floor; rows under the floor are not read (an empty bundle from
    /// the LA cost the school's whole history: 573 ms at 1,000,000 changes).
    @Test func aPupilsChangesAboveAFloorAreTheChangesTheRecipientLacks() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir, extra: 6)
            try area.send("Academy", "Trust")
            try area.send("Trust", "LA")
            for i in 0..<4 {
                try area.la.updatePupil(pupil.description, PupilUpdate(forename: "Ada \(i)"), author: "LA officer")
            }
            let (all, sites) = try area.la.writer.read { db in
                let sites = try SiteOrdinals(db)
                return (try Store.changes(about: pupil, db: db, sites: sites), sites)
            }
            let origins = Set(all.map(\.site))
            #expect(origins.count == 2, "the academy's changes and the LA's")
            var rng = SplitMix64(seed: 0xF100_0D07)
            print("aPupilsChangesAboveAFloor seed 0xF100_0D07")
            for _ in 0..<40 {
                var floor = VersionVector()
                for site in origins where rng.next() % 3 != 0 {
                    floor[site] = rng.next() % 10
                }
                if rng.next() % 4 == 0 { floor[.v7()] = 5 }  // a site with nothing about the pupil
                let above = try area.la.writer.read { db in
                    try Store.changes(about: pupil, above: floor, db: db, sites: sites)
                }
                #expect(above == all.filter { $0.seq > floor[$0.site] }, "floor \(floor)")
            }
            let plan = try area.la.writer.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        EXPLAIN QUERY PLAN SELECT seq FROM scope_change
                        WHERE scope = ? AND site_ord = ? AND seq > ? ORDER BY seq
                        """, arguments: [pupil.description, 1, 3]
                ).map { $0["detail"] as String }
            }
            #expect(plan.contains { $0.contains("seq>?") }, "\(plan)")
        }
    }

    /// Counting what many sites lack reads every pupil's changes in bulk; the counts are the
    /// same as planning for each site alone, which reads them pupil by pupil.
    @Test func countsForManySitesMatchCountsForEachAlone() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let names = (1...6).map { "School \($0)" }
            for name in names {
                try area.add(name, .maintainedSchool)
                try area.send("LA", name)
            }
            for (i, name) in names.enumerated() {
                for k in 0..<(i % 3 + 1) {
                    let pupil = NewPupil(
                        upn: syntheticUPN(10 * i + k + 1), forename: "P\(i)\(k)", surname: "Example",
                        dateOfBirth: "2016-05-01")
                    let id = try area[name].addPupil(pupil, author: "SENCO")
                    try area[name].updatePupil(id.description, PupilUpdate(yearGroup: 2), author: "SENCO")
                }
                if i % 2 == 0 { try area.send(name, "LA") }
            }
            try area.send("LA", names[0])  // one school acknowledges what the LA holds
            try area.send(names[0], "LA")
            // The LA records an EHC request about one of School 3's pupils: School 3 lacks it.
            let pupil = try #require(try area.pupils(at: "LA").first { try area.pupils(at: names[2]).contains($0) })
            _ = try area.la.addRecord(
                EHCAssessment.self, pupil: pupil.description,
                [.requestReceivedOn: "2026-01-05", .requestSource: "parent"], author: "LA officer")
            let sites = names.map { area[$0].identity }
            let together = try area.la.pendingChanges(for: sites)
            for site in sites {
                #expect(together[site.id] == (try area.la.pendingChanges(for: site)), "\(site.name)")
            }
            #expect((together[area[names[2]].identity.id] ?? 0) >= 1)
        }
    }

    @Test func bundlesHoldExactlyWhatThePeerHasNotAcknowledged() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir)
            let academy = area["Academy"]
            let academyID = academy.identity.id
            let laID = area.la.identity.id
            let first = try academy.makeBundle(to: [laID], at: dir.appendingPathComponent("1.bundle"))
            #expect(first.header.changeCount == 3)
            #expect(first.header.versionVector == VersionVector([academyID: 3]))
            try area.la.apply(bundleAt: first.url)
            // The LA's reply acknowledges the academy's three changes (and carries none of them back).
            let reply = try area.la.makeBundle(to: [academyID], at: dir.appendingPathComponent("2.bundle"))
            #expect(reply.header.versionVector == VersionVector([academyID: 3]))
            #expect(reply.header.changeCount == 0)
            try academy.apply(bundleAt: reply.url)
            #expect(try academy.acknowledged(by: laID) == VersionVector([academyID: 3]))
            try academy.updatePupil(pupil.description, PupilUpdate(forename: "Ada-May"), author: "SENCO")
            let delta = try academy.makeBundle(to: [laID], at: dir.appendingPathComponent("3.bundle"))
            #expect(delta.header.changeCount == 1)
            #expect(delta.header.sections.map(\.origins) == [[academyID: 1]])
            let report = try area.la.apply(bundleAt: delta.url)
            #expect(report.applied == 1 && report.duplicates == 0)
            #expect(try area.la.digest() == academy.digest())
            #expect(try academy.status().peers.first { $0.site.id == laID }?.lacks == 1)
            // The trust, which has acknowledged nothing, gets all four from the LA.
            #expect(try area.send("LA", "Trust").applied == 4)
            #expect(try area["Trust"].digest() == academy.digest())
        }
    }

    /// The brief's example: the academy's second bundle to the LA, applied at a copy of the LA's
    /// store taken before it applied the first, names the academy's site and the missing range.
    @Test func missingPrerequisitesNameTheSiteAndRange() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir, extra: 3, laInMemory: false)
            let academy = area["Academy"]
            let academyID = academy.identity.id
            // The copy: the store file (checkpointed) and its key file.
            let laPath = try #require(area.la.path)
            let copyPath = dir.appendingPathComponent("la-copy.sensync").path
            try area.la.checkpoint()
            try FileManager.default.copyItem(atPath: laPath, toPath: copyPath)
            try FileManager.default.copyItem(
                atPath: KeyFile.path(forStore: laPath), toPath: KeyFile.path(forStore: copyPath))
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o600], ofItemAtPath: KeyFile.path(forStore: copyPath))

            let first = try area.make("Academy", "LA")
            try area.la.apply(bundleAt: first)
            try area.send("LA", "Academy")
            try academy.addNote(pupil: pupil.description, text: "Follow-up", author: "SENCO")
            let second = try area.make("Academy", "LA")
            #expect(try Store.inspectBundle(at: second).sections.first?.origins == [academyID: 1])

            let rebuilt = try Store.open(at: copyPath, now: area.clock.now)
            #expect(try rebuilt.versionVector().isEmpty)
            let error = try Self.expectRefusal(.missingPrerequisites, applying: second, at: rebuilt)
            #expect(error?.missing == MissingRange(site: academyID, from: 1, through: 4, isScopeHistory: true))
            // The site is named as the store knows it, not by its id.
            #expect(error?.message.contains("changes 1–4 of Academy") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(academyID.short) == false)
            #expect(error?.message.hasPrefix("Nothing was applied.") == true)
            #expect(error?.hint.isEmpty == false)
            // The refusal names no personal data.
            for secret in ["Ada", "Example", syntheticUPN(1), "Follow-up"] {
                #expect(error?.description.contains(secret) == false)
                #expect(try rebuilt.importLog().first?.detail?.contains(secret) != true)
            }
            // Verifying says the same.
            let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: second, against: rebuilt) }
            #expect(verify?.missing == error?.missing)
            // Given the first bundle, the second applies.
            #expect(try rebuilt.apply(bundleAt: first).applied == 4)
            #expect(try rebuilt.apply(bundleAt: second).applied == 1)
            #expect(try rebuilt.digest() == academy.digest())
            #expect(try area.la.apply(bundleAt: second).applied == 1)
            #expect(try rebuilt.digest() == area.la.digest())
        }
    }

    // MARK: Relays and history

    /// Found by `StoreBundlePropertyTests` (seed 0x5E45B01D). An academy holds one of the LA's
    /// changes only as skipped (a pupil it does not see) and the LA's next change, about its own
    /// pupil, in full; it then edits that pupil. It may not pass the skipped change on to its
    /// trust (the trust may see more than it does), so its chain part for the LA stops there —
    /// but its own edit depends on the LA's change behind that point, which must then travel as
    /// history. It did not, and the trust refused the bundle for missing the LA's changes.
    ///
    /// When the LA's chain later reaches the trust in order, the change it already holds as
    /// history is a duplicate: merging it again would bring back the value the academy's edit
    /// replaced, as a conflict no other store has.
    @Test func changesBehindASkippedRunTravelAsHistory() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir, extra: 0)
            let trust = area["Trust"]
            let academy = area["Academy"]
            try area.send("Academy", "Trust")
            try area.send("Trust", "Academy")
            try area.send("Trust", "LA")
            // The LA records a pupil at no school (out of the academy's and the trust's view), then
            // edits the academy's pupil.
            try area.la.addPupil(
                NewPupil(upn: syntheticUPN(5), forename: "Bo", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "LA officer")
            try area.la.updatePupil(pupil.description, PupilUpdate(yearGroup: 2), author: "LA officer")
            // The academy hears from the LA directly (the trust does not) and edits the same field.
            let fromLA = try area.send("LA", "Academy")
            #expect(fromLA.applied == 1 && fromLA.skipped == 0)
            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: 3), author: "SENCO")

            let url = try area.make("Academy", "Trust")
            let section = try #require(try Store.inspectBundle(at: url).sections.first)
            #expect(section.changeCount == 2)
            let report = try trust.apply(bundleAt: url)
            #expect(report.applied == 2 && report.rejected.isEmpty)
            #expect(try trust.digest() == academy.digest())
            #expect(try trust.conflicts().isEmpty)

            let later = try area.send("LA", "Trust")
            #expect(later.applied == 0 && later.duplicates == 1 && later.skipped == 0)
            #expect(try trust.conflicts().isEmpty)
            #expect(try trust.digest() == academy.digest())
            #expect(try trust.pupil(pupil.description).yearGroup == 3)
            let replica = try MemoryReplica.replaying(try trust.storedChanges(), as: fixedID(0xEE))
            #expect(try trust.digest() == replica.digest())
            // And the LA, which gets the academy's edit by the trust, agrees.
            try area.send("Trust", "LA")
            #expect(try area.la.conflicts().isEmpty)
            #expect(try area.la.pupil(pupil.description).yearGroup == 3)
        }
    }

    // MARK: Who may send and receive

    @Test func aBundleForAnotherSiteIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let trust = area["Trust"]
            let url = try area.make("Academy", "LA")
            let error = try Self.expectRefusal(.notAddressedToThisSite, applying: url, at: trust)
            #expect(error?.message.contains("addressed to other sites") == true)
            let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: url, against: trust) }
            #expect(verify?.code == .notAddressedToThisSite)
            // Nor does the sender apply its own bundle.
            try Self.expectRefusal(.notAddressedToThisSite, applying: url, at: area["Academy"])
            // A bundle for both sites has a section for each and applies at either.
            let both = dir.appendingPathComponent("to-both.bundle")
            let summary = try area["Academy"].makeBundle(to: [area.la.identity.id, trust.identity.id], at: both)
            #expect(summary.header.sections.count == 2)
            #expect(summary.header.sections.map(\.recipient) == [area.la.identity.id, trust.identity.id])
            #expect(try trust.apply(bundleAt: both).applied == 3)
            #expect(try area.la.apply(bundleAt: both).applied == 3)
            #expect(try trust.digest() == area.la.digest())
        }
    }

    @Test func aSenderOutsideTheDirectoryIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            // A school that pinned the LA but that the LA never listed.
            let unlisted = try Store.inMemory(
                identity: makeSite("Unlisted", .maintainedSchool), la: area.la.publicIdentity, now: area.clock.now)
            try unlisted.addPupil(
                NewPupil(upn: syntheticUPN(3), forename: "Bo", surname: "Example", dateOfBirth: "2016-05-01"),
                author: "SENCO")
            let fromUnlisted = dir.appendingPathComponent("unlisted.bundle")
            try unlisted.makeBundle(to: [area.la.identity.id], at: fromUnlisted)
            let error = try Self.expectRefusal(.unknownSender, applying: fromUnlisted, at: area.la)
            #expect(error?.message.contains("not in this site's area directory") == true)
            #expect(throws: BundleError.self) { try Store.verifyBundle(at: fromUnlisted, against: area.la) }

            // A store that has pinned no LA cannot tell who sent anything.
            let unpinned = try Store.inMemory(identity: makeSite("Unpinned", .trust), now: area.clock.now)
            try Self.expectRefusal(.unknownSender, applying: try area.make("LA", "Trust"), at: unpinned)

            // A trust with an academy in it cannot be removed: the academy's bundles go through it.
            let stillInIt = #expect(throws: StoreError.self) {
                try area.la.removeFromDirectory(area["Trust"].identity.id)
            }
            #expect(stillInIt?.message.contains(area["Academy"].identity.name) == true)
            #expect(try area.la.directory()?.entry(area["Trust"].identity.id)?.isRevoked == false)

            // A site the LA has removed from the directory.
            let beforeRemoval = try area.make("Academy", "LA")
            try area.la.removeFromDirectory(area["Academy"].identity.id)
            let removed = try Self.expectRefusal(.unknownSender, applying: beforeRemoval, at: area.la)
            #expect(removed?.message.contains("removed") == true)
            // It cannot be added again, so the hint says what can be done (it said to add it).
            #expect(removed?.hint.contains("cannot be added again") == true, "\(removed?.hint ?? "")")
            // Nor can a bundle be sealed to it, and the refusal says why.
            let sealed = #expect(throws: StoreError.self) {
                try area.la.makeBundle(
                    to: [area["Academy"].identity.id], at: dir.appendingPathComponent("to-removed.bundle"))
            }
            #expect(sealed?.message.contains("was removed from the area directory") == true)
        }
    }

    @Test func forgedAndAlteredSignaturesAreRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let academy = area["Academy"]
            let genuine = try area.make("Academy", "LA")
            // An impostor using the academy's site id with keys of its own.
            let impostor = try Store.inMemory(
                identity: academy.identity, la: area.la.publicIdentity, now: area.clock.now)
            try impostor.addPupil(
                NewPupil(upn: syntheticUPN(4), forename: "Cy", surname: "Example", dateOfBirth: "2016-06-01"),
                author: "SENCO")
            let forged = dir.appendingPathComponent("forged.bundle")
            try impostor.makeBundle(to: [area.la.identity.id], at: forged)
            let error = try Self.expectRefusal(.badSignature, applying: forged, at: area.la)
            #expect(error?.message.contains("signature") == true)
            // A header altered after signing (its checksum made right again).
            let altered = dir.appendingPathComponent("altered.bundle")
            try rewriteBundleHeader(of: genuine, to: altered, signer: nil) { $0.createdAt += 1 }
            try Self.expectRefusal(.badSignature, applying: altered, at: area.la)
            // Signed again with a key that is not the academy's.
            let resigned = dir.appendingPathComponent("resigned.bundle")
            try rewriteBundleHeader(of: genuine, to: resigned, signer: SiteKeys.generate())
            try Self.expectRefusal(.badSignature, applying: resigned, at: area.la)
            // The signature itself altered.
            var bytes = [UInt8](try Data(contentsOf: genuine))
            let layout = try BundleFile.readLayout(at: genuine)
            bytes[Int(layout.payloadOffset) - 10] ^= 0x01
            let flipped = dir.appendingPathComponent("flipped.bundle")
            try Data(bytes).write(to: flipped)
            try Self.expectRefusal(.badSignature, applying: flipped, at: area.la)
            // A carried directory not signed by the pinned LA (here, a newer one signed by another key).
            let rogueKeys = SiteKeys.generate()
            let rogue = try AreaDirectory(
                la: area.la.identity.id, version: 99, issuedAt: baseMilliseconds,
                entries: [
                    DirectoryEntry(identity: academy.publicIdentity),
                    DirectoryEntry(identity: PublicIdentity(site: area["Trust"].identity, keys: rogueKeys.publicKeys)),
                ]
            ).signed(with: rogueKeys)
            let withRogueDirectory = dir.appendingPathComponent("rogue-directory.bundle")
            try rewriteBundleHeader(
                of: try area.make("LA", "Trust"), to: withRogueDirectory, signer: try area.la.keys()
            ) {
                $0.directory = rogue.encoded()
                $0.directoryVersion = 99
            }
            let rogueError = try Self.expectRefusal(.badSignature, applying: withRogueDirectory, at: area["Trust"])
            #expect(rogueError?.message.contains("directory") == true)
            // The genuine bundle still applies.
            #expect(try area.la.apply(bundleAt: genuine).applied == 3)
        }
    }

    /// An academy restored from a backup (store and key file) reuses its site id for a different
    /// change: the LA, which holds the original, refuses the restored store's bundle as a fork.
    @Test func aRestoredBackupThatWritesAgainIsAFork() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir, extra: 1, academyInMemory: false)
            let academy = area["Academy"]
            let academyID = academy.identity.id
            let path = try #require(academy.path)
            try academy.checkpoint()
            let backup = dir.appendingPathComponent("backup.sensync").path
            try FileManager.default.copyItem(atPath: path, toPath: backup)
            try FileManager.default.copyItem(
                atPath: KeyFile.path(forStore: path), toPath: KeyFile.path(forStore: backup))
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o600], ofItemAtPath: KeyFile.path(forStore: backup))

            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: 4), author: "SENCO")
            try area.send("Academy", "LA")
            #expect(try area.la.versionVector() == VersionVector([academyID: 3]))

            let restored = try Store.open(at: backup, now: area.clock.now)
            #expect(restored.identity == academy.identity)
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "SENCO")
            let forked = dir.appendingPathComponent("forked.bundle")
            let summary = try restored.makeBundle(to: [area.la.identity.id], at: forked)
            #expect(summary.header.sections.first?.origins[academyID] == 3)
            let error = try Self.expectRefusal(.fork, applying: forked, at: area.la)
            #expect(error?.message.contains("Academy has two different changes numbered 3") == true)
            #expect(error?.message.contains(academyID.short) == false)
            #expect(error?.hint.contains("backup") == true)
            let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: forked, against: area.la) }
            #expect(verify?.code == .fork)

            // A fork further back is found too: the restored store writes on, the LA also has more.
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 6), author: "SENCO")
            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: 1), author: "SENCO")
            try academy.updatePupil(pupil.description, PupilUpdate(yearGroup: 2), author: "SENCO")
            try area.send("Academy", "LA")
            let forkedAgain = dir.appendingPathComponent("forked-again.bundle")
            try restored.makeBundle(to: [area.la.identity.id], at: forkedAgain)
            try Self.expectRefusal(.fork, applying: forkedAgain, at: area.la)
            #expect(try area.la.versionVector() == VersionVector([academyID: 5]))
            #expect(try area.la.digest() == academy.digest())
        }
    }

    // MARK: Clock guard

    @Test func clockAheadIsRefusedAndRecorded() throws {
        try withTemporaryDirectory { dir in
            let laIdentity = makeSite("LA", .la)
            let laKeys = SiteKeys.generate()
            let la = try Store.inMemory(identity: laIdentity, keys: laKeys, now: TestClock().now)
            let aheadClock = TestClock(start: baseMilliseconds + 25 * 3_600_000)
            let school = try Store.inMemory(
                identity: makeSite("School", .maintainedSchool), la: la.publicIdentity, now: aheadClock.now)
            try la.addToDirectory(school.publicIdentity)
            let fromLA = dir.appendingPathComponent("la.bundle")
            try la.makeBundle(to: [school.identity.id], at: fromLA)
            // The school's clock reads 25 hours past the LA's making of the bundle: it says so.
            let first = try school.apply(bundleAt: fromLA)
            #expect((1_499...1_501).contains(first.madeBeforeThisClockMinutes ?? 0), "\(first)")
            // And it refuses to stamp changes until someone insists that its clock is right.
            let doubted = #expect(throws: StoreError.self) { try school.addPupil(Self.ada, author: "SENCO") }
            #expect(doubted?.code == .clockAhead)
            #expect((1_499...1_501).contains(try school.confirmClock()?.minutesAhead ?? 0))
            let pupil = try school.addPupil(Self.ada, author: "SENCO")
            for year in 1...2 {
                try school.updatePupil(pupil.description, PupilUpdate(yearGroup: year), author: "SENCO")
            }
            let url = dir.appendingPathComponent("ahead.bundle")
            try school.makeBundle(to: [la.identity.id], at: url)
            let error = try Self.expectRefusal(.clockAhead, applying: url, at: la)
            #expect(error?.message.contains("minutes ahead") == true)
            // It names the school and says when it would be accepted: the first change is stamped
            // 25 hours and a few seconds after 2026-01-05 09:00 UTC, the guard is 24 hours.
            #expect(error?.message.contains("School") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("it would be accepted from 2026-01-05 10:0") == true)
            #expect(error?.hint.contains("--accept-clock-ahead") == true)
            #expect(try la.versionVector().isEmpty)
            // Accepting another site's stamps does not let these in.
            #expect(throws: BundleError.self) {
                try la.apply(bundleAt: url, acceptingClockAheadFrom: [la.identity.id])
            }
            #expect(try la.versionVector().isEmpty)
            // The same LA (identity and keys) with a wider guard accepts it.
            let lenient = try Store.inMemory(
                identity: laIdentity, clockGuardSeconds: 2 * 86_400, keys: laKeys, now: TestClock().now)
            try lenient.addToDirectory(school.publicIdentity)
            #expect(try lenient.apply(bundleAt: url).applied == 3)
            // Or the LA accepts this school's stamps explicitly, and its import log says so.
            let report = try la.apply(bundleAt: url, acceptingClockAheadFrom: [school.identity.id])
            #expect(report.applied == 3)
            #expect(report.madeBeforeThisClockMinutes == nil)
            #expect(report.acceptedClockAhead == [school.identity.id: 3])
            let logged = try #require(try la.importLog(limit: 1).first)
            #expect(logged.result == "applied")
            #expect(
                logged.detail
                    == "accepted 3 change(s) from School stamped ahead of this machine's clock, as asked (--accept-clock-ahead)"
            )
            // Accepting them does not put the LA's own clock ahead: its next change is stamped
            // within the guard, and a school whose clock is right takes the LA's bundle (the LA's
            // changes were refused everywhere for the 25 hours, exit 11).
            let other = try Store.inMemory(
                identity: makeSite("Other", .maintainedSchool), la: la.publicIdentity, now: TestClock().now)
            try la.addToDirectory(other.publicIdentity)
            let placed = try la.addPupil(
                NewPupil(
                    upn: syntheticUPN(2), forename: "Bo", surname: "Placed", dateOfBirth: "2016-05-01",
                    school: other.identity.id),
                author: "LA officer")
            let receipt = try la.updatePupil(placed.description, PupilUpdate(yearGroup: 5), author: "LA officer")
            let stamped = try #require(receipt.hlc).milliseconds
            #expect(stamped <= TestClock().now() + 24 * 3_600_000, "\(stamped)")
            let toOther = dir.appendingPathComponent("la-other.bundle")
            try la.makeBundle(to: [other.identity.id], at: toOther)
            #expect(try other.apply(bundleAt: toOther).applied == 2)
            #expect(try la.status().clockAheadMinutes == nil)
        }
    }

    /// A site whose clock ran fast and was put right: its status says its stamps are ahead.
    @Test func statusWarnsWhenThisSitesStampsAreAheadOfItsClock() throws {
        let clock = SettableClock(baseMilliseconds + 30 * 3_600_000)
        let school = try Store.inMemory(identity: makeSite("School", .maintainedSchool), now: clock.now)
        try school.addPupil(Self.ada, author: "SENCO")
        #expect(try school.status().clockAheadMinutes == nil)
        clock.set(baseMilliseconds + 5 * 3_600_000)  // put right: 25 hours back
        #expect(try school.status().clockAheadMinutes == 25 * 60)
        clock.set(baseMilliseconds + 7 * 3_600_000)  // within the 24-hour guard now
        #expect(try school.status().clockAheadMinutes == nil)
    }

    // MARK: Verify

    @Test func verifyChecksWithoutApplying() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            // Without a store: format, checksums and counts only (no keys, so no signature or payload).
            let alone = try Store.verifyBundle(at: url)
            #expect(!alone.checkedAgainstStore && alone.newChanges == 3)
            #expect(alone.header.sender == area["Academy"].identity)
            // With the recipient's store: everything, and nothing changes.
            let before = try Untouched(area.la)
            let checked = try Store.verifyBundle(at: url, against: area.la)
            #expect(checked.checkedAgainstStore && checked.newChanges == 3 && checked.duplicates == 0)
            #expect(try Untouched(area.la) == before)
            try area.la.apply(bundleAt: url)
            let after = try Store.verifyBundle(at: url, against: area.la)
            #expect(after.newChanges == 0 && after.duplicates == 3)
            // Without a store a forged signature goes unnoticed; with one it does not.
            let resigned = dir.appendingPathComponent("resigned.bundle")
            try rewriteBundleHeader(of: url, to: resigned, signer: SiteKeys.generate())
            #expect(try Store.verifyBundle(at: resigned).newChanges == 3)
            let forged = #expect(throws: BundleError.self) { try Store.verifyBundle(at: resigned, against: area.la) }
            #expect(forged?.code == .badSignature)
        }
    }

    @Test func headerHoldsNoPersonalData() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.area(dir)
            try area["Academy"].addNote(pupil: pupil.description, text: "Distinctive note text", author: "SENCO")
            let url = try area.make("Academy", "LA")
            let header = try Store.inspectBundle(at: url)
            #expect(header.sender == area["Academy"].identity)
            #expect(header.recipients == [area.la.identity.id])
            #expect(header.sections.first?.tableCounts == ["pupil": 3, "enrolment": 1, "note": 1])
            // Names, UPNs and note text are only in the sealed payload.
            for bundle in [url, try area.make("LA", "Trust")] {
                let bytes = try Data(contentsOf: bundle)
                for secret in ["Ada", "Example", syntheticUPN(1), "Distinctive"] {
                    #expect(
                        bytes.range(of: Data(secret.utf8)) == nil,
                        "\(secret) is readable in \(bundle.lastPathComponent)")
                }
            }
        }
    }

    // MARK: Versions and extensions

    @Test func unknownExtensionsAreKeptAndCriticalOnesRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            let keys = try area["Academy"].keys()
            let optional = dir.appendingPathComponent("optional.bundle")
            try rewriteBundleHeader(of: url, to: optional, signer: keys) { $0.extensions[8] = [1, 2, 3] }
            #expect(try Store.inspectBundle(at: optional).extensions == [8: [1, 2, 3]])
            #expect(try area.la.apply(bundleAt: optional).applied == 3)

            let critical = dir.appendingPathComponent("critical.bundle")
            try rewriteBundleHeader(of: url, to: critical, signer: keys) { $0.extensions[3] = [9] }
            let error = #expect(throws: BundleError.self) { try Store.inspectBundle(at: critical) }
            #expect(error?.code == .unsupportedVersion)
            #expect(error?.message.contains("critical extension 3") == true)
            try Self.expectRefusal(.unsupportedVersion, applying: critical, at: area["Trust"])
        }
    }

    /// An extension given twice could say two things at once (which holdings basis?): the header
    /// is refused, whichever the reader would have taken.
    @Test func anExtensionGivenTwiceIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            let keys = try area["Academy"].keys()
            // Tags 8 and 10, last in tag order, the same value: renaming 10 to 8 gives 8 twice.
            let tail: [UInt8] = [8, 3, 1, 2, 3, 10, 3, 1, 2, 3]
            let twice = dir.appendingPathComponent("twice.bundle")
            var rewritten = false
            try rewriteBundleHeader(
                of: url, to: twice, signer: keys,
                change: {
                    $0.extensions[8] = [1, 2, 3]
                    $0.extensions[10] = [1, 2, 3]
                },
                encoding: { bytes in
                    guard Array(bytes.suffix(tail.count)) == tail else { return bytes }
                    rewritten = true
                    return Array(bytes.dropLast(5)) + [8] + Array(bytes.suffix(4))
                })
            #expect(rewritten)
            let error = #expect(throws: BundleError.self) { try Store.inspectBundle(at: twice) }
            // Checksummed and signed, yet not readable: as every header this release cannot read.
            #expect(error?.code == .unsupportedVersion)
            #expect(error?.message.contains("extension 8 is given twice") == true, "\(error?.message ?? "")")
            try Self.expectRefusal(.unsupportedVersion, applying: twice, at: area.la)
        }
    }

    /// A format no release has had (0) or will have for years (300, as one flipped bit of 3 reads
    /// 259) is a damaged field; the others are an older or newer release's, named.
    @Test(arguments: [UInt16(0), 1, 2, 4, 19, 300])
    func otherFormatMajorVersionsAreRefusedNamingTheVersion(_ major: UInt16) throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            let other = dir.appendingPathComponent("other.bundle")
            try rewriteBundleHeader(of: url, to: other, signer: try area["Academy"].keys(), major: major)
            let error = #expect(throws: BundleError.self) { try Store.inspectBundle(at: other) }
            guard major != 0, major <= BundleHeader.formatMajor + 16 else {
                #expect(error?.code == .damaged)
                #expect(error?.message.contains("format version field") == true, "\(error?.message ?? "")")
                try Self.expectRefusal(.damaged, applying: other, at: area.la)
                return
            }
            #expect(error?.code == .unsupportedVersion)
            #expect(
                error?.message.contains(
                    major > BundleHeader.formatMajor
                        ? "format version \(major)" : "older SENSync (bundle format \(major))")
                    == true)
            #expect(
                error?.hint.contains(
                    major > BundleHeader.formatMajor
                        ? "Install a SENSync release that reads bundle format \(major)" : "Ask the sender to update")
                    == true)
            try Self.expectRefusal(.unsupportedVersion, applying: other, at: area.la)
        }
    }

    @Test func newerMinorFormatAndSchemaVersionsAreRead() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.area(dir)
            let url = try area.make("Academy", "LA")
            let newer = dir.appendingPathComponent("newer.bundle")
            try rewriteBundleHeader(of: url, to: newer, signer: try area["Academy"].keys()) {
                $0.formatMinor = 7
                $0.schemaVersion = RecordSchema.version + 7
            }
            let header = try Store.inspectBundle(at: newer)
            #expect(header.formatMinor == 7 && header.schemaVersion == RecordSchema.version + 7)
            #expect(try area.la.apply(bundleAt: newer).applied == 3)
        }
    }
}
