import Foundation
import GRDB
import Testing

@testable import SENSync

/// Bundles between stores: acknowledgement, re-application, refusals that name what to do.
struct BundleExchangeTests {
    static let schoolSite = SiteIdentity(id: fixedID(0x11), name: "Oakfield", kind: .academy, urn: "100001")
    static let laSite = SiteIdentity(id: fixedID(0x22), name: "Area LA", kind: .la, laCode: "801")
    static let trustSite = SiteIdentity(id: fixedID(0x33), name: "Trust", kind: .trust)

    /// A school with one pupil and `extra` further changes about them.
    static func school(clock: TestClock, extra: Int = 2) throws -> (Store, RecordID) {
        let store = try Store.inMemory(identity: schoolSite, now: clock.now)
        let pupil = try store.addPupil(NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Test", dateOfBirth: "2016-04-01"), author: "SENCO")
        for i in 0..<extra { try store.updatePupil(pupil.description, PupilUpdate(yearGroup: i % 7), author: "SENCO") }
        return (store, pupil)
    }

    static func importCount(_ store: Store) throws -> Int { try store.status().imports }

    @Test func reapplyingABundleChangesNothing() throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let first = try la.apply(bundleAt: url)
            #expect(first.result == .applied)
            #expect(first.applied == 3)
            let digest = try la.digest()
            let imports = try Self.importCount(la)
            let again = try la.apply(bundleAt: url)
            #expect(again.result == .alreadyApplied)
            #expect(again.applied == 0 && again.duplicates == 0)
            #expect(again.previousImportAt != nil)
            #expect(try la.digest() == digest)
            #expect(try Self.importCount(la) == imports)
            // The same changes in a new bundle (the school has no acknowledgement yet): all duplicates.
            let remade = dir.appendingPathComponent("s2.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: remade)
            let report = try la.apply(bundleAt: remade)
            #expect(report.result == .applied)
            #expect(report.applied == 0 && report.duplicates == 3)
            #expect(try la.digest() == digest)
        }
    }

    @Test func bundlesHoldExactlyWhatThePeerHasNotAcknowledged() throws {
        let clock = TestClock()
        let (school, pupil) = try Self.school(clock: clock)
        let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
        try withTemporaryDirectory { dir in
            let first = try school.makeBundle(to: [Self.laSite.id], at: dir.appendingPathComponent("1.bundle"))
            #expect(first.header.changeCount == 3)
            #expect(first.header.versionVector == VersionVector([Self.schoolSite.id: 3]))
            try la.apply(bundleAt: first.url)
            // The LA's reply acknowledges the school's three changes (and carries none of its own).
            let reply = try la.makeBundle(to: [Self.schoolSite.id], at: dir.appendingPathComponent("2.bundle"))
            #expect(reply.header.versionVector == VersionVector([Self.schoolSite.id: 3]))
            try school.apply(bundleAt: reply.url)
            #expect(try school.acknowledged(by: Self.laSite.id) == VersionVector([Self.schoolSite.id: 3]))
            try school.updatePupil(pupil.description, PupilUpdate(forename: "Ada-May"), author: "SENCO")
            let delta = try school.makeBundle(to: [Self.laSite.id], at: dir.appendingPathComponent("3.bundle"))
            #expect(delta.header.changeCount == 1)
            #expect(delta.header.origins.map(\.firstSeq) == [4])
            #expect(delta.header.origins.map(\.lastSeq) == [4])
            let report = try la.apply(bundleAt: delta.url)
            #expect(report.applied == 1 && report.duplicates == 0)
            #expect(try la.digest() == school.digest())
            #expect(try school.status().peers.first { $0.site.id == Self.laSite.id }?.lacks == 1)
        }
    }

    /// The brief's example: the school's second bundle to the LA, applied at a rebuilt LA store
    /// that never received the first, names the school's site and the missing range.
    @Test func missingPrerequisitesNameTheSiteAndRange() throws {
        let clock = TestClock()
        let (school, pupil) = try Self.school(clock: clock, extra: 3)
        let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
        try withTemporaryDirectory { dir in
            let first = dir.appendingPathComponent("1.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: first)
            try la.apply(bundleAt: first)
            let ack = dir.appendingPathComponent("ack.bundle")
            try la.makeBundle(to: [Self.schoolSite.id], at: ack)
            try school.apply(bundleAt: ack)
            try school.addNote(pupil: pupil.description, text: "Follow-up", author: "SENCO")
            let second = dir.appendingPathComponent("2.bundle")
            let summary = try school.makeBundle(to: [Self.laSite.id], at: second)
            #expect(summary.header.origins.first?.firstSeq == 5)

            let rebuilt = try Store.inMemory(identity: Self.laSite, now: clock.now)
            let digest = try rebuilt.digest()
            do {
                try rebuilt.apply(bundleAt: second)
                Issue.record("a bundle with missing prerequisites was applied")
            } catch let error as BundleError {
                #expect(error.code == .missingPrerequisites)
                #expect(error.missing == MissingRange(site: Self.schoolSite.id, from: 1, through: 4, isScopeHistory: false))
                #expect(error.message.contains("changes 1–4 of site \(Self.schoolSite.id)"))
                #expect(error.message.hasPrefix("Nothing was applied."))
                #expect(!error.hint.isEmpty)
            }
            #expect(try rebuilt.digest() == digest)
            #expect(try rebuilt.versionVector().isEmpty)
            // The refusal is recorded (and names no personal data); verifying says the same.
            #expect(try rebuilt.importLog().first?.result == "refused: missing-prerequisites")
            #expect(throws: BundleError.self) { try Store.verifyBundle(at: second, against: rebuilt) }
            // Given the first bundle, the second applies.
            try rebuilt.apply(bundleAt: first)
            #expect(try rebuilt.apply(bundleAt: second).applied == 1)
            #expect(try rebuilt.digest() == school.digest())
        }
    }

    @Test func aBundleForAnotherSiteIsRefused() throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        let trust = try Store.inMemory(identity: Self.trustSite, now: clock.now)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("to-la.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let digest = try trust.digest()
            do {
                try trust.apply(bundleAt: url)
                Issue.record("a bundle for another site was applied")
            } catch let error as BundleError {
                #expect(error.code == .notAddressedToThisSite)
            }
            #expect(try trust.digest() == digest)
            #expect(try Self.importCount(trust) == 0)
            #expect(throws: BundleError.self) { try Store.verifyBundle(at: url, against: trust) }
            // Nor does the sender apply its own bundle.
            do {
                try school.apply(bundleAt: url)
                Issue.record("a store applied its own bundle")
            } catch let error as BundleError {
                #expect(error.code == .notAddressedToThisSite)
            }
            // A bundle for both sites applies at either.
            let both = dir.appendingPathComponent("to-both.bundle")
            try school.makeBundle(to: [Self.laSite.id, Self.trustSite.id], at: both)
            #expect(try trust.apply(bundleAt: both).applied == 3)
        }
    }

    /// A school restored from a backup reuses its site id for a different change: the LA, which
    /// holds the original, refuses the restored school's bundle as a fork.
    @Test func aRestoredBackupThatWritesAgainIsAFork() throws {
        try withTemporaryDirectory { dir in
            let clock = TestClock()
            let path = dir.appendingPathComponent("school.sensync").path
            let school = try Store.create(at: path, identity: Self.schoolSite, now: clock.now)
            let pupil = try school.addPupil(NewPupil(upn: syntheticUPN(1), forename: "Ada", surname: "Test", dateOfBirth: "2016-04-01"), author: "SENCO")
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 3), author: "SENCO")
            try school.checkpoint()
            let backup = dir.appendingPathComponent("backup.sensync").path
            try FileManager.default.copyItem(atPath: path, toPath: backup)

            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 4), author: "SENCO")
            let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
            let original = dir.appendingPathComponent("original.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: original)
            try la.apply(bundleAt: original)
            let digest = try la.digest()

            let restored = try Store.open(at: backup, now: clock.now)
            #expect(restored.identity == Self.schoolSite)
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 5), author: "SENCO")
            let forked = dir.appendingPathComponent("forked.bundle")
            let summary = try restored.makeBundle(to: [Self.laSite.id], at: forked)
            #expect(summary.header.origins.first?.lastSeq == 3)
            do {
                try la.apply(bundleAt: forked)
                Issue.record("a forked history was applied")
            } catch let error as BundleError {
                #expect(error.code == .fork)
                #expect(error.message.contains("\(Self.schoolSite.id)"))
            }
            #expect(try la.digest() == digest)
            #expect(try la.importLog().first?.result == "refused: fork")
            #expect(throws: BundleError.self) { try Store.verifyBundle(at: forked, against: la) }

            // A fork further back is found too: the restored store writes on, the LA also has more.
            try restored.updatePupil(pupil.description, PupilUpdate(yearGroup: 6), author: "SENCO")
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 1), author: "SENCO")
            try school.updatePupil(pupil.description, PupilUpdate(yearGroup: 2), author: "SENCO")
            let later = dir.appendingPathComponent("later.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: later)
            try la.apply(bundleAt: later)
            let forkedAgain = dir.appendingPathComponent("forked-again.bundle")
            try restored.makeBundle(to: [Self.laSite.id], at: forkedAgain)
            let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: forkedAgain) }
            #expect(error?.code == .fork)
            #expect(try la.versionVector() == VersionVector([Self.schoolSite.id: 5]))
        }
    }

    @Test func clockAheadIsRefusedAndRecorded() throws {
        let schoolClock = TestClock(start: baseMilliseconds + 25 * 3_600_000)
        let (school, _) = try Self.school(clock: schoolClock)
        let la = try Store.inMemory(identity: Self.laSite, now: TestClock().now)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("ahead.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            do {
                try la.apply(bundleAt: url)
                Issue.record("a bundle stamped a day ahead was applied")
            } catch let error as BundleError {
                #expect(error.code == .clockAhead)
                #expect(error.message.contains("minutes ahead"))
            }
            #expect(try la.versionVector().isEmpty)
            #expect(try la.importLog().first?.result == "refused: clock-ahead")
            // A store with a wider guard accepts it.
            let lenient = try Store.inMemory(identity: Self.laSite, clockGuardSeconds: 2 * 86_400, now: TestClock().now)
            #expect(try lenient.apply(bundleAt: url).applied == 3)
        }
    }

    @Test func verifyChecksWithoutApplying() throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let alone = try Store.verifyBundle(at: url)
            #expect(!alone.checkedAgainstStore && alone.newChanges == 3)
            let digest = try la.digest()
            let checked = try Store.verifyBundle(at: url, against: la)
            #expect(checked.checkedAgainstStore && checked.newChanges == 3 && checked.duplicates == 0)
            #expect(try la.digest() == digest)
            #expect(try la.versionVector().isEmpty)
            try la.apply(bundleAt: url)
            let after = try Store.verifyBundle(at: url, against: la)
            #expect(after.newChanges == 0 && after.duplicates == 3)
        }
    }

    @Test func headerHoldsNoPersonalData() throws {
        let clock = TestClock()
        let (school, pupil) = try Self.school(clock: clock)
        try school.addNote(pupil: pupil.description, text: "Distinctive note text", author: "SENCO")
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let header = try Store.inspectBundle(at: url)
            #expect(header.sender == Self.schoolSite)
            #expect(header.recipients == [Self.laSite.id])
            #expect(header.tableCounts == ["pupil": 3, "enrolment": 1, "note": 1])
            // Names, UPNs and note text are in the compressed payload only.
            let bytes = try Data(contentsOf: url)
            for secret in ["Ada", "Test", syntheticUPN(1), "Distinctive"] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) is readable in the file")
            }
        }
    }

    // MARK: Versions and extensions

    /// Rewrites a bundle's header (with a correct checksum), keeping its payload.
    static func rewriteHeader(of url: URL, to out: URL, major: UInt16? = nil, _ change: (inout BundleHeader) -> Void) throws {
        let layout = try BundleFile.readLayout(at: url)
        var header = layout.header
        change(&header)
        let bytes = [UInt8](try Data(contentsOf: url))
        let payload = bytes[Int(layout.payloadOffset)...]
        var w = BinaryWriter()
        let headerBytes = header.encoded()
        w.write(contentsOf: BundleFile.magic)
        w.write(major ?? header.formatMajor)
        w.write(header.formatMinor)
        w.write(UInt32(headerBytes.count))
        w.write(contentsOf: headerBytes)
        w.write(contentsOf: Digest32.sha256(w.bytes).bytes)
        w.write(UInt16(0))
        try Data(w.bytes + payload).write(to: out)
    }

    @Test func unknownExtensionsAreKeptAndCriticalOnesRefused() throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let optional = dir.appendingPathComponent("optional.bundle")
            try Self.rewriteHeader(of: url, to: optional) { $0.extensions[2] = [1, 2, 3] }
            #expect(try Store.inspectBundle(at: optional).extensions == [2: [1, 2, 3]])
            let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
            #expect(try la.apply(bundleAt: optional).applied == 3)

            let critical = dir.appendingPathComponent("critical.bundle")
            try Self.rewriteHeader(of: url, to: critical) { $0.extensions[3] = [9] }
            do {
                _ = try Store.inspectBundle(at: critical)
                Issue.record("a critical extension was accepted")
            } catch let error as BundleError {
                #expect(error.code == .unsupportedVersion)
                #expect(error.message.contains("critical extension 3"))
            }
        }
    }

    @Test(arguments: [UInt16(0), 2, 300])
    func otherFormatMajorVersionsAreRefusedNamingTheVersion(_ major: UInt16) throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let other = dir.appendingPathComponent("other.bundle")
            try Self.rewriteHeader(of: url, to: other, major: major) { _ in }
            do {
                _ = try Store.inspectBundle(at: other)
                Issue.record("format \(major) was accepted")
            } catch let error as BundleError {
                #expect(error.code == .unsupportedVersion)
                #expect(error.message.contains("format version \(major)"))
                #expect(error.hint.contains(major > 1 ? "Install a SENSync release that reads bundle format \(major)" : "Ask the sender to update"))
            }
        }
    }

    @Test func newerMinorFormatAndSchemaVersionsAreRead() throws {
        let clock = TestClock()
        let (school, _) = try Self.school(clock: clock)
        try withTemporaryDirectory { dir in
            let url = dir.appendingPathComponent("s.bundle")
            try school.makeBundle(to: [Self.laSite.id], at: url)
            let newer = dir.appendingPathComponent("newer.bundle")
            try Self.rewriteHeader(of: url, to: newer) {
                $0.formatMinor = 7
                $0.schemaVersion = 9
            }
            let header = try Store.inspectBundle(at: newer)
            #expect(header.formatMinor == 7 && header.schemaVersion == 9)
            let la = try Store.inMemory(identity: Self.laSite, now: clock.now)
            #expect(try la.apply(bundleAt: newer).applied == 3)
        }
    }
}
