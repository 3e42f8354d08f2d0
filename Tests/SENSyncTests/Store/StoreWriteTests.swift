import Foundation
import Testing

@testable import SENSync

/// The domain write API: what it validates, and that every write is one replicated change.
struct StoreWriteTests {
    static let school = SiteIdentity(id: fixedID(0x11), name: "Oakfield", kind: .maintainedSchool, urn: "100001")
    static let la = SiteIdentity(id: fixedID(0x22), name: "Area LA", kind: .la)

    static func store(_ identity: SiteIdentity = school, clock: TestClock = TestClock()) throws -> Store {
        try Store.inMemory(identity: identity, now: clock.now)
    }

    static func newPupil(_ n: Int = 1, dob: String = "2016-04-01") -> NewPupil {
        NewPupil(upn: syntheticUPN(n), forename: "Ada", surname: "Test", dateOfBirth: dob, yearGroup: 4)
    }

    static func expectStoreError(
        _ code: StoreError.Code, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.code == code, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    @Test func addingAPupilEnrolsThemAtTheSchool() throws {
        let store = try Self.store()
        let id = try store.addPupil(Self.newPupil(), author: "SENCO")
        let pupil = try store.pupil(id.description)
        #expect(pupil.upn == syntheticUPN(1))
        #expect(pupil.senStatus == "N" && pupil.senNeeds.isEmpty)
        #expect(pupil.schools == [Self.school.id])
        #expect(try store.pupilID(for: syntheticUPN(1).lowercased()) == id)
        #expect(try store.versionVector() == VersionVector([Self.school.id: 1]))
        // At the LA there is no school to enrol at.
        let la = try Self.store(Self.la)
        #expect(try la.pupil(try la.addPupil(Self.newPupil(2), author: "LA officer").description).schools.isEmpty)
    }

    @Test func aBatchIsOneTransactionThatSeesItsOwnWrites() throws {
        let store = try Self.store()
        let (pupil, note) = try store.batch {
            let pupil = try store.addPupil(Self.newPupil(1), author: "SENCO")
            // Reads inside the batch see the pupil it has just added (by UPN and by id).
            let note = try store.addNote(pupil: syntheticUPN(1), text: "Finds phonics hard.", author: "SENCO")
            try store.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            #expect(try store.pupil(pupil.description).senStatus == "K")
            // A refused write throws and leaves the batch as it was; the batch goes on.
            Self.expectStoreError(.invalidInput) { try store.addPupil(Self.newPupil(1), author: "SENCO") }
            Self.expectStoreError(.notFound) { try store.addNote(pupil: syntheticUPN(2), text: "x", author: "SENCO") }
            return (pupil, note)
        }
        #expect(try store.versionVector() == VersionVector([Self.school.id: 3]))
        #expect(try store.pupils().map(\.id) == [pupil])
        #expect(try store.notes(of: pupil.description).map(\.id) == [note])
        #expect(try store.pupil(pupil.description).senNeeds == ["SPLD"])
        #expect(try store.auditVerify().isClean)
        // Writes after the batch carry on the numbering, each its own transaction again.
        try store.addNote(pupil: pupil.description, text: "Reads with a ruler.", author: "SENCO")
        #expect(try store.versionVector() == VersionVector([Self.school.id: 4]))
        #expect(try store.auditVerify().isClean)
    }

    @Test func aBatchThatThrowsRecordsNothing() throws {
        struct Stop: Error {}
        let store = try Self.store()
        #expect(throws: Stop.self) {
            try store.batch {
                _ = try store.addPupil(Self.newPupil(1), author: "SENCO")
                _ = try store.addNote(pupil: syntheticUPN(1), text: "Finds phonics hard.", author: "SENCO")
                throw Stop()
            }
        }
        #expect(try store.pupils(includeDeleted: true).isEmpty)
        #expect(try store.versionVector() == VersionVector())
        // The numbers the rolled-back changes had are used again, once.
        _ = try store.addPupil(Self.newPupil(1), author: "SENCO")
        #expect(try store.versionVector() == VersionVector([Self.school.id: 1]))
        #expect(try store.auditVerify().isClean)
    }

    @Test func aBatchWhoseWriteFailsAfterItsChecksRecordsNothing() throws {
        let store = try Self.store()
        let pupil = try store.addPupil(Self.newPupil(1), author: "SENCO")
        // Writing one record twice in a change passes the write's checks and is refused by the
        // merge rules, after the change has its number: the batch cannot keep a part of it.
        let note = RecordOp(table: "note", id: .v7(), writes: [FieldWrite("text", .text("Twice."))])
        var refusals: [Bool] = []
        func attempt(_ body: () throws -> Void) {
            do {
                try body()
                refusals.append(false)
            } catch { refusals.append(error is StoreError) }
        }
        let error = #expect(throws: StoreError.self) {
            try store.batch {
                try store.addNote(pupil: pupil.description, text: "Kept only with the batch.", author: "SENCO")
                attempt { try store.write(author: "SENCO", scope: pupil, ops: [note, note]) }
                // Every later write is refused, and so is the batch even if the caller goes on.
                attempt { try store.addNote(pupil: pupil.description, text: "x", author: "SENCO") }
            }
        }
        #expect(refusals == [true, true])
        #expect(error?.message.contains("nothing of the batch was recorded") == true)
        #expect(try store.versionVector() == VersionVector([Self.school.id: 1]))
        #expect(try store.notes(of: pupil.description).isEmpty)
        try store.addNote(pupil: pupil.description, text: "Recorded.", author: "SENCO")
        #expect(try store.versionVector() == VersionVector([Self.school.id: 2]))
        #expect(try store.auditVerify().isClean)
    }

    /// A bundle or any other store-wide operation needs a transaction of its own: inside a batch
    /// it is refused with an error (it used to trap in GRDB as a re-entrant write). The LA's
    /// directory edits join the batch, and go with it when it fails.
    @Test func storeWideOperationsAreRefusedInsideABatch() throws {
        let la = try Self.store(Self.la)
        let school = try Self.store()
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try la.batch {
                _ = try la.addPupil(Self.newPupil(1), author: "LA officer")
                try la.addToDirectory(school.publicIdentity)
                #expect(try la.directory()?.entry(Self.school.id) != nil, "the batch sees its own edit")
                throw Stop()
            }
        }
        #expect(try la.directory()?.entry(Self.school.id) == nil)
        #expect(try la.pupils().isEmpty)
        try la.batch {
            _ = try la.addPupil(Self.newPupil(1), author: "LA officer")
            try la.addToDirectory(school.publicIdentity)
            Self.expectStoreError(.invalidInput) { try la.checkpoint() }
            // Another store is not in the batch.
            _ = try school.addPupil(Self.newPupil(2), author: "SENCO")
        }
        #expect(try la.pupils().count == 1)
        #expect(try la.directory()?.entry(Self.school.id) != nil)
    }

    @Test func pupilDetailsAreValidated() throws {
        let store = try Self.store()
        Self.expectStoreError(.invalidInput) {
            try store.addPupil(
                NewPupil(upn: "Z801200001001", forename: "A", surname: "B", dateOfBirth: "2016-01-01"), author: "SENCO")
        }
        Self.expectStoreError(.invalidInput) { try store.addPupil(Self.newPupil(dob: "2016-02-30"), author: "SENCO") }
        Self.expectStoreError(.invalidInput) { try store.addPupil(Self.newPupil(dob: "2027-01-01"), author: "SENCO") }
        Self.expectStoreError(.invalidInput) {
            try store.addPupil(
                NewPupil(upn: syntheticUPN(1), forename: " ", surname: "B", dateOfBirth: "2016-01-01"), author: "SENCO")
        }
        Self.expectStoreError(.invalidInput) { try store.addPupil(Self.newPupil(), author: "  ") }
        #expect(try store.versionVector().isEmpty)
        try store.addPupil(Self.newPupil(), author: "SENCO")
        Self.expectStoreError(.invalidInput) { try store.addPupil(Self.newPupil(), author: "SENCO") }
        #expect(try store.versionVector() == VersionVector([Self.school.id: 1]))
    }

    @Test func senStatusAndNeedsFollowTheCensusRules() throws {
        let store = try Self.store()
        let id = try store.addPupil(Self.newPupil(), author: "SENCO").description
        Self.expectStoreError(.invalidInput) { try store.updatePupil(id, PupilUpdate(senStatus: "K"), author: "SENCO") }
        try store.updatePupil(id, PupilUpdate(senStatus: "K", senNeeds: "spld, slcn"), author: "SENCO")
        #expect(try store.pupil(id).senNeeds == ["SPLD", "SLCN"])
        Self.expectStoreError(.invalidInput) {
            try store.updatePupil(id, PupilUpdate(senStatus: "E", senNeeds: "NSA"), author: "SENCO")
        }
        try store.updatePupil(id, PupilUpdate(senStatus: "E"), author: "SENCO")  // keeps the needs
        #expect(try store.pupil(id).senStatus == "E")
        try store.updatePupil(id, PupilUpdate(senStatus: "N"), author: "SENCO")  // clears them
        let pupil = try store.pupil(id)
        #expect(pupil.senStatus == "N" && pupil.senNeeds.isEmpty)
        Self.expectStoreError(.invalidInput) { try store.updatePupil(id, PupilUpdate(), author: "SENCO") }
        Self.expectStoreError(.invalidInput) { try store.updatePupil(id, PupilUpdate(yearGroup: 15), author: "SENCO") }
    }

    @Test func notesAreAppendOnlyAndAmendWithinOnePupil() throws {
        let store = try Self.store()
        let ada = try store.addPupil(Self.newPupil(1), author: "SENCO").description
        let bo = try store.addPupil(Self.newPupil(2), author: "SENCO").description
        let note = try store.addNote(pupil: ada, text: "First concern", area: .semh, author: "SENCO")
        let amendment = try store.addNote(pupil: ada, text: "Correction", amends: note.description, author: "SENCO")
        #expect(try store.notes(of: ada).map(\.id) == [note, amendment])
        #expect(try store.notes(of: ada).last?.amendsNoteID == note)
        Self.expectStoreError(.invalidInput) {
            try store.addNote(pupil: bo, text: "Wrong pupil", amends: note.description, author: "SENCO")
        }
        Self.expectStoreError(.appendOnly) { try store.deleteRecord(note.description, author: "SENCO") }
        // A change that rewrites the note is refused before it is made: every site would reject it.
        let vv = try store.versionVector()
        let pupilID = try store.pupilID(for: ada)
        Self.expectStoreError(.invalidInput) {
            try store.write(
                author: "SENCO", scope: pupilID,
                ops: [RecordOp(table: "note", id: note, writes: [FieldWrite("text", .text("rewritten"))])])
        }
        #expect(try store.versionVector() == vv)
        #expect(try store.notes(of: ada).first?.text == "First concern")
    }

    @Test func deletedRecordsCannotBeChangedUntilRestored() throws {
        let store = try Self.store()
        let pupil = try store.addPupil(Self.newPupil(), author: "SENCO").description
        let plan = try store.createPlan(
            pupil: pupil, NewSupportPlan(title: "Literacy", reviewDate: "2026-03-02"), author: "SENCO"
        ).description
        #expect(try store.deleteRecord(plan, author: "SENCO").table == "support_plan")
        Self.expectStoreError(.invalidInput) { try store.deleteRecord(plan, author: "SENCO") }
        Self.expectStoreError(.recordDeleted) {
            try store.addOutcome(plan: plan, description: "Reads", targetDate: nil, author: "SENCO")
        }
        #expect(try store.plans(of: pupil).isEmpty)
        try store.restoreRecord(plan, author: "SENCO")
        Self.expectStoreError(.invalidInput) { try store.restoreRecord(plan, author: "SENCO") }
        try store.addOutcome(plan: plan, description: "Reads 40 words", targetDate: "2026-03-02", author: "SENCO")
        #expect(try store.plans(of: pupil).first?.outcomes.count == 1)
        // A pupil with records is not deleted (they would vanish everywhere), nor an enrolment
        // (it ends with a transfer); with their records deleted first, a pupil added by mistake is.
        Self.expectStoreError(.invalidInput) { try store.deleteRecord(pupil, author: "SENCO") }
        let enrolment = try #require(try store.enrolments(of: pupil).first).id.description
        Self.expectStoreError(.invalidInput) { try store.deleteRecord(enrolment, author: "SENCO") }
        for outcome in try store.plans(of: pupil).flatMap(\.outcomes) {
            try store.deleteRecord(outcome.id.description, author: "SENCO")
        }
        try store.deleteRecord(plan, author: "SENCO")
        try store.deleteRecord(pupil, author: "SENCO")
        Self.expectStoreError(.recordDeleted) {
            try store.createPlan(pupil: pupil, NewSupportPlan(title: "x", reviewDate: "2026-03-02"), author: "SENCO")
        }
        #expect(try store.status().tombstoneCounts.first { $0.table == "pupil" }?.count == 1)
    }

    @Test func reviewsMoveThePlanOnOrCloseIt() throws {
        // Reviews are recorded once held: the store's day moves on to each.
        let clock = TestClock()
        let store = try Self.store(clock: clock)
        let pupil = try store.addPupil(Self.newPupil(), author: "SENCO").description
        let plan = try store.createPlan(
            pupil: pupil, NewSupportPlan(title: "Literacy", reviewDate: "2026-03-02"), author: "SENCO"
        ).description
        clock.advance(seconds: 56 * 86_400)  // 2026-03-02
        Self.expectStoreError(.invalidInput) {
            try store.recordReview(
                plan: plan, NewReview(heldOn: "2026-03-02", summary: "Going well", decision: .continue), author: "SENCO"
            )
        }
        try store.recordReview(
            plan: plan,
            NewReview(heldOn: "2026-03-02", summary: "Going well", decision: .modify, nextReviewDate: "2026-06-01"),
            author: "SENCO")
        #expect(try store.plans(of: pupil).first?.reviewDate == "2026-06-01")
        clock.advance(seconds: 91 * 86_400)  // 2026-06-01
        try store.recordReview(
            plan: plan, NewReview(heldOn: "2026-06-01", summary: "Targets met", decision: .close), author: "SENCO")
        let closed = try #require(try store.plans(of: pupil).first)
        #expect(closed.status == "closed" && closed.reviews.count == 2)
        Self.expectStoreError(.invalidInput) {
            try store.addProvision(plan: plan, NewProvision(description: "x", costPence: -1), author: "SENCO")
        }
    }

    @Test func resolvingAConflictIsAReplicatedChange() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let school = try area.add("Oakfield", .maintainedSchool)
            let la = area.la
            let pupil = try school.addPupil(Self.newPupil(), author: "SENCO").description
            try area.send("Oakfield", "LA")
            try school.updatePupil(pupil, PupilUpdate(yearGroup: 5), author: "SENCO")
            try la.updatePupil(pupil, PupilUpdate(yearGroup: 6), author: "LA officer")
            try area.send("Oakfield", "LA")
            try area.send("LA", "Oakfield")
            let conflicts = try school.conflicts()
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.field == "year_group")
            #expect(Set(conflicts.first?.candidates.map(\.value) ?? []) == [.integer(5), .integer(6)])
            #expect(Set(conflicts.first?.candidates.compactMap(\.author) ?? []) == ["SENCO", "LA officer"])
            #expect(Set(conflicts.first?.candidates.compactMap(\.siteName) ?? []) == ["Oakfield", "LA"])
            Self.expectStoreError(.notFound) {
                try school.resolveConflict(record: pupil, field: "forename", value: .text("x"), author: "SENCO")
            }
            let receipt = try school.resolveConflict(
                record: pupil, field: "year_group", value: .integer(5), author: "SENCO")
            #expect(receipt.conflictsClosed == 1)
            #expect(try school.conflicts().isEmpty)
            try area.send("Oakfield", "LA")
            #expect(try la.conflicts().isEmpty)
            #expect(try la.pupil(pupil).yearGroup == 5)
            #expect(try la.digest() == school.digest())
        }
    }

    @Test func localClockNeverGoesBackwardsAcrossReopening() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("s.sensync").path
            let store = try Store.create(at: path, identity: Self.school, now: TestClock().now)
            let pupil = try store.addPupil(Self.newPupil(), author: "SENCO").description
            let first = try store.updatePupil(pupil, PupilUpdate(yearGroup: 3), author: "SENCO")
            // The machine's clock is set back an hour; the store is reopened. (Set back by more
            // than the clock guard, the store refuses its own writes as stamped too far ahead.)
            let reopened = try Store.open(at: path, now: TestClock(start: baseMilliseconds - 3_600_000).now)
            let second = try reopened.updatePupil(pupil, PupilUpdate(yearGroup: 4), author: "SENCO")
            #expect(try #require(second.hlc) > #require(first.hlc))
            #expect(second.dot == Dot(site: Self.school.id, seq: 3))
            #expect(try reopened.pupil(pupil).yearGroup == 4)
        }
    }

    /// A local write records only the fields whose value changes: `pupil update --needs` adds
    /// the need it gives and rewrites neither the provision episode nor the pupil, and an update
    /// to the values already held makes no change.
    @Test func anUpdateWritesOnlyTheFieldsThatChange() throws {
        let store = try Self.store()
        let id = try store.addPupil(Self.newPupil(), author: "SENCO").description
        try store.updatePupil(id, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
        let before = try store.history(of: id).count

        let receipt = try store.updatePupil(id, PupilUpdate(senNeeds: "SPLD,SLCN"), author: "SENCO")
        #expect(receipt.changed)
        let history = try store.history(of: id)
        #expect(history.count == before + 1)
        let latest = try #require(history.max { ($0.hlc ?? .zero) < ($1.hlc ?? .zero) })
        #expect(latest.writes.map(\.table) == [SENNeedRecord.name])
        #expect(latest.writes.flatMap(\.fields).map(\.field).sorted() == ["need", "rank", "start_date"])
        #expect(try store.pupil(id).senStatus == "K")
        #expect(try store.pupil(id).senNeeds == ["SPLD", "SLCN"])

        let again = try store.updatePupil(id, PupilUpdate(yearGroup: 4, senNeeds: "SPLD,SLCN"), author: "SENCO")
        #expect(!again.changed)
        #expect(try store.history(of: id).count == before + 1)
        #expect(try store.versionVector() == VersionVector([Self.school.id: UInt64(before + 1)]))
    }
}

/// A wall clock a test can set anywhere, including backwards.
final class SettableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var ms: UInt64
    init(_ ms: UInt64) { self.ms = ms }
    func now() -> UInt64 { lock.withLock { ms } }
    func set(_ value: UInt64) { lock.withLock { ms = value } }
}

struct LocalClockTests {
    @Test func localWritesStillWorkAfterTheWallClockIsSetBackMoreThanTheGuard() throws {
        let start: UInt64 = 1_767_603_600_000
        let clock = SettableClock(start)
        let store = try Store.inMemory(
            identity: makeSite("Oak", .maintainedSchool), clockGuardSeconds: 3600, now: clock.now)
        let pupil = try store.addPupil(
            NewPupil(upn: syntheticUPN(1), forename: "A", surname: "B", dateOfBirth: "2016-01-01"), author: "SENCO")
        clock.set(start + 3 * 86_400_000)  // three days ahead: the HLC follows
        try store.addNote(pupil: pupil.description, text: "written while the clock was ahead", author: "SENCO")
        clock.set(start)  // set back by more than the one-hour guard
        try store.addNote(pupil: pupil.description, text: "written after it was corrected", author: "SENCO")
        let notes = try store.notes(of: pupil.description)
        #expect(notes.count == 2)
        #expect(try store.versionVector()[store.identity.id] == 3)
    }
}

/// A site compares its clock with the newest stamps it has received before it writes: a clock
/// that ran fast is found before it stamps a change that every other site would refuse.
struct FastClockTests {
    static func pupil(_ n: Int) -> NewPupil {
        NewPupil(upn: syntheticUPN(n), forename: "A", surname: "B", dateOfBirth: "2016-01-01")
    }

    /// An LA whose clock reads `baseMilliseconds` (and a second more at each read), a school whose
    /// clock reads `schoolClock`, and a way to make a bundle from the LA to the school.
    static func area(
        schoolClock: SettableClock, in dir: URL
    ) throws -> (laClock: TestClock, school: Store, make: () throws -> URL) {
        let laClock = TestClock()
        let la = try Store.inMemory(identity: makeSite("Northshire LA", .la), now: laClock.now)
        let school = try Store.inMemory(
            identity: makeSite("Oakfield", .maintainedSchool), la: la.publicIdentity, now: schoolClock.now)
        try la.addToDirectory(school.publicIdentity)
        let make = {
            let url = dir.appendingPathComponent("la-\(UUID()).bundle")
            try la.makeBundle(to: [school.identity.id], at: url)
            return url
        }
        return (laClock, school, make)
    }

    @Test func aClockThreeDaysFastRefusesToWriteUntilItIsPutRight() throws {
        try withTemporaryDirectory { dir in
            let clock = SettableClock(baseMilliseconds + 3 * 86_400_000)
            let (_, school, make) = try Self.area(schoolClock: clock, in: dir)
            // With nothing received, nothing says the clock is wrong.
            #expect(try school.status().clockDoubt == nil)
            try school.apply(bundleAt: try make())
            let before = try school.digest()
            let refused = #expect(throws: StoreError.self) { try school.addPupil(Self.pupil(1), author: "SENCO") }
            #expect(refused?.code == .clockAhead)
            let message = refused?.message ?? ""
            #expect(message.contains("Northshire LA") && message.contains("3 day(s)"), "\(message)")
            #expect(refused?.hint?.contains("sensync clock confirm") == true)
            #expect(try school.digest() == before)
            #expect(try school.versionVector()[school.identity.id] == 0)
            // A batch is refused the same way, and an import as a whole (not a problem per pupil).
            #expect(throws: StoreError.self) {
                try school.batch { try school.addPupil(Self.pupil(2), author: "SENCO") }
            }
            let export = dir.appendingPathComponent("export.jsonl")
            try """
            {"format": "sensync-import", "version": 1}
            {"kind": "pupil", "upn": "\(syntheticUPN(3))", "forename": "A", "surname": "B", "dateOfBirth": "2016-01-01"}
            """.write(to: export, atomically: true, encoding: .utf8)
            let imported = #expect(throws: StoreError.self) {
                try school.importRecords([ImportFile(path: export.path)], options: ImportOptions(author: "MIS"))
            }
            #expect(imported?.code == .clockAhead)
            let doubt = try #require(try school.status().clockDoubt)
            #expect(doubt.sender == "Northshire LA")
            #expect((4_319...4_321).contains(doubt.minutesAhead), "\(doubt)")
            // Put right: it reads earlier than when it applied the bundle, so it was set back.
            clock.set(baseMilliseconds + 10 * 60_000)
            #expect(try school.status().clockDoubt == nil)
            let pupil = try school.addPupil(Self.pupil(1), author: "SENCO")
            // And it stays right as real time passes the fast clock's old reading.
            clock.set(baseMilliseconds + 4 * 86_400_000)
            #expect(try school.status().clockDoubt == nil)
            try school.addNote(pupil: pupil.description, text: "four days on", author: "SENCO")
            #expect(try school.versionVector()[school.identity.id] == 2)
        }
    }

    @Test func aBundleThatTookLongToArriveIsConfirmedOnceAndANewerOneIsCheckedAgain() throws {
        try withTemporaryDirectory { dir in
            // The school's clock is right; the LA's bundle sat three days on a memory stick.
            let clock = SettableClock(baseMilliseconds + 3 * 86_400_000)
            let (laClock, school, make) = try Self.area(schoolClock: clock, in: dir)
            try school.apply(bundleAt: try make())
            #expect(throws: StoreError.self) { try school.addPupil(Self.pupil(1), author: "SENCO") }
            let cleared = try #require(try school.confirmClock())
            #expect(cleared.sender == "Northshire LA")
            #expect(try school.status().clockDoubt == nil)
            #expect(try school.confirmClock() == nil)
            try school.addPupil(Self.pupil(1), author: "SENCO")
            // A newer bundle that was also slow to arrive is new evidence: checked again.
            laClock.advance(seconds: 3_600)
            try school.apply(bundleAt: try make())
            #expect(throws: StoreError.self) { try school.addPupil(Self.pupil(2), author: "SENCO") }
            // A bundle made within the guard of this clock clears it; one made before it and
            // applied after it is not newer evidence.
            let older = try make()
            laClock.advance(seconds: 3 * 86_400 - 2 * 3_600)
            try school.apply(bundleAt: try make())
            #expect(try school.status().clockDoubt == nil)
            try school.apply(bundleAt: older)
            #expect(try school.status().clockDoubt == nil)
            try school.addPupil(Self.pupil(2), author: "SENCO")
            #expect(try school.versionVector()[school.identity.id] == 2)
        }
    }

    /// A site's identity file is checked as `init` checks the site: a name of a kilobyte of
    /// combining marks (which counted as five characters) was listed, and the directory's own
    /// reader then refused the directory, leaving the LA without one; a name holding a line break
    /// printed a fake line. Refused now, and the directory stays as it was.
    @Test func anIdentityFileWithANameNoStoreCanHaveIsRefused() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let school = try Store.inMemory(identity: SiteIdentity(id: .v7(), name: "Brook", kind: .maintainedSchool))
        let before = try #require(try area.la.directory())
        for name in [
            "Brook" + String(repeating: "\u{301}", count: 600), "Brook\nerror: fake", " Brook", "Brook\u{1B}[2J", "",
            String(repeating: "x", count: 2000),
        ] {
            var forged = school.publicIdentity
            forged.site.name = name
            StoreWriteTests.expectStoreError(.invalidInput) { _ = try area.la.addToDirectory(forged) }
        }
        #expect(try area.la.directory()?.version == before.version)
        try area.la.addToDirectory(school.publicIdentity)
        #expect(try area.la.directory()?.activeEntry(school.identity.id)?.site.name == "Brook")
        // The same bound on any recorded text: 100 characters are at most 800 bytes.
        let store = try StoreWriteTests.store()
        StoreWriteTests.expectStoreError(.invalidInput) {
            _ = try store.addPupil(
                NewPupil(
                    upn: syntheticUPN(9), forename: "Zebe" + String(repeating: "\u{301}", count: 50_000), surname: "S",
                    dateOfBirth: "2016-01-01"), author: "SENCO")
        }
    }

    /// Two active sites of one name could not be told apart where sites are named (bundles,
    /// reports, `--to`): a second site of a name already listed (in any case) is refused, and the
    /// directory stays as it was. A site replacing one (a rejoin) keeps its name; so may a site
    /// added after the one of that name was removed.
    @Test func aSecondSiteWithAListedNameIsRefused() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let oak = try area.add("Oak Primary", .maintainedSchool)
        let before = try #require(try area.la.directory())
        for name in ["Oak Primary", "oak primary", "OAK PRIMARY"] {
            let other = try Store.inMemory(identity: SiteIdentity(id: .v7(), name: name, kind: .academy))
            let error = #expect(throws: StoreError.self) { _ = try area.la.addToDirectory(other.publicIdentity) }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains("Oak Primary") == true, "\(error?.message ?? "")")
        }
        #expect(try area.la.directory()?.version == before.version)
        let rejoined = try Store.inMemory(
            identity: SiteIdentity(id: .v7(), name: "Oak Primary", kind: .maintainedSchool))
        try area.la.replaceInDirectory(oak.identity.id, with: rejoined.publicIdentity, author: "LA officer")
        #expect(try area.la.directory()?.activeEntry(rejoined.identity.id)?.site.name == "Oak Primary")
        try area.la.removeFromDirectory(rejoined.identity.id)
        let reopened = try Store.inMemory(identity: SiteIdentity(id: .v7(), name: "Oak Primary", kind: .academy))
        try area.la.addToDirectory(reopened.publicIdentity)
    }

    /// A URN names one establishment (census, SEN2 and rolls are by URN): a second active site
    /// with a listed URN is refused. A site replacing that one (a rejoin) keeps it.
    @Test func aSecondSiteWithAListedURNIsRefused() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let oak = try area.add("Oak Primary", .maintainedSchool, urn: "100001")
        let before = try #require(try area.la.directory())
        let copycat = try Store.inMemory(
            identity: SiteIdentity(id: .v7(), name: "Copycat Primary", kind: .maintainedSchool, urn: "100001"))
        let error = #expect(throws: StoreError.self) { _ = try area.la.addToDirectory(copycat.publicIdentity) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("Oak Primary") == true, "\(error?.message ?? "")")
        #expect(try area.la.directory()?.version == before.version)
        let rejoined = try Store.inMemory(
            identity: SiteIdentity(id: .v7(), name: "Oak Primary", kind: .maintainedSchool, urn: "100001"))
        try area.la.replaceInDirectory(oak.identity.id, with: rejoined.publicIdentity, author: "LA officer")
        #expect(try area.la.directory()?.activeEntry(rejoined.identity.id)?.site.urn == "100001")
    }

    /// A record of any kind is found by its id or a unique prefix of it; a prefix that several
    /// records share, in one table or several, lists every one of them with its kind.
    @Test func aRecordOfAnyKindIsFoundByItsIDOrAUniquePrefix() throws {
        let store = try StoreWriteTests.store()
        let pupil = try store.addPupil(StoreWriteTests.newPupil(), author: "SENCO")
        let note = try store.addNote(pupil: pupil.description, text: "Reads with a ruler.", author: "SENCO")
        let found = try store.findRecord(note.description)
        #expect(found.key == RecordKey(table: "note", scope: pupil, id: note))
        #expect(found.state["text"] == .text("Reads with a ruler."))
        // A pupil, their enrolment and the note, made seconds apart on the test clock: their ids
        // share at least the first eight characters (the time they were made, to about a minute).
        let enrolment = try #require(try store.records(Enrolment.self, of: pupil.description).first?.id)
        let ids = [pupil, enrolment, note].map(\.description)
        let common = ids.dropFirst().reduce(ids[0]) { shared, id in
            String(zip(shared, id).prefix { $0 == $1 }.map(\.0))
        }
        let shared = String(common.prefix(8))
        try #require(shared.count == 8, "The three ids were made too far apart to share a prefix: \(ids)")
        do {
            _ = try store.findRecord(shared)
            Issue.record("A prefix three records share was taken as one of them.")
        } catch let error as StoreError {
            #expect(error.code == .ambiguous)
            #expect(error.candidates.count == 3)
            for kind in ["pupil", "enrolment", "note"] {
                #expect(error.candidates.contains { $0.contains("  \(kind)  ") }, "\(kind)")
            }
        }
        StoreWriteTests.expectStoreError(.notFound) { _ = try store.findRecord("ffffffff") }
        StoreWriteTests.expectStoreError(.invalidInput) { _ = try store.findRecord("not-an-id") }
    }

    /// Names, note text and authors refuse control characters, text-direction overrides, line and
    /// paragraph separators (a line break is free text's only) and invisible zero-width spaces
    /// (two names that look alike and differ); site names are trimmed and of a name's length.
    @Test func controlCharactersAreRefusedWhereTextIsRecorded() throws {
        let store = try StoreWriteTests.store()
        let bads = [
            "A\u{0}B", "A\u{1B}[2JB", "A\rB", "A\u{85}B", "A\u{202E}B", "A\nB", "A\u{2028}B", "A\u{2029}B",
            "A\u{200B}B", "A\u{2060}B", "A\u{FEFF}B",
        ]
        for bad in bads {
            #expect(throws: StoreError.self, "\(bad.debugDescription)") {
                try store.addPupil(
                    NewPupil(upn: syntheticUPN(9), forename: bad, surname: "S", dateOfBirth: "2016-01-01"),
                    author: "SENCO")
            }
            #expect(throws: StoreError.self) {
                try store.addPupil(
                    NewPupil(upn: syntheticUPN(9), forename: "F", surname: "S", dateOfBirth: "2016-01-01"),
                    author: "SEN\(bad)CO")
            }
        }
        // A name of characters that show nothing looks blank: empty (each was recorded).
        for blank in [
            "\u{3164}", "\u{2800}", "\u{115F}\u{1160}", "\u{FFA0}", "\u{180E}", "\u{034F}", "\u{00AD}",
            "\u{200D}\u{FE0F}", "\u{E0041}",
        ] {
            let error = #expect(throws: StoreError.self, "\(blank.debugDescription)") {
                try store.addPupil(
                    NewPupil(upn: syntheticUPN(9), forename: blank, surname: "S", dateOfBirth: "2016-01-01"),
                    author: "SENCO")
            }
            #expect(error?.message == "The forename is empty.", "\(blank.debugDescription)")
        }
        // Characters that show nothing beside those that do are the text's own (a soft hyphen).
        _ = try store.addPupil(
            NewPupil(upn: syntheticUPN(10), forename: "Anne\u{00AD}Marie", surname: "S", dateOfBirth: "2016-01-01"),
            author: "SENCO")
        let id = try store.addPupil(StoreWriteTests.newPupil(), author: "SENCO").description
        // Free text keeps its line breaks and tabs, and refuses the rest.
        try store.addNote(pupil: id, text: "First line\n\tindented", author: "SENCO")
        // A Windows line break (CR LF), or a lone CR, pasted in is the line break it is.
        try store.addNote(pupil: id, text: "Pasted\r\nfrom Windows\rand a Mac", author: "SENCO")
        #expect(try store.notes(of: id).map(\.text).contains("Pasted\nfrom Windows\nand a Mac"))
        // So is a line or paragraph separator (a web page's or a JSON string's).
        try store.addNote(pupil: id, text: "Pasted\u{2028}from the web\u{2029}page", author: "SENCO")
        #expect(try store.notes(of: id).map(\.text).contains("Pasted\nfrom the web\npage"))
        // Joiners that some scripts and emoji need stay.
        try store.addNote(pupil: id, text: "Joined \u{200C}\u{200D} text", author: "SENCO")
        #expect(throws: StoreError.self) { try store.addNote(pupil: id, text: "A\u{7}B", author: "SENCO") }
        #expect(throws: StoreError.self) {
            try store.addPupil(StoreWriteTests.newPupil(), author: String(repeating: "x", count: 101))
        }
        try withTemporaryDirectory { dir in
            let padded = try Store.create(
                at: dir.appendingPathComponent("p.sensync").path,
                identity: SiteIdentity(id: fixedID(7), name: "  Padded School  ", kind: .la, laCode: "999"))
            #expect(padded.identity.name == "Padded School")
            #expect(throws: StoreError.self) {
                _ = try Store.create(
                    at: dir.appendingPathComponent("q.sensync").path,
                    identity: SiteIdentity(id: fixedID(8), name: "Bad\u{1B}Name", kind: .la, laCode: "999"))
            }
        }
    }

}
