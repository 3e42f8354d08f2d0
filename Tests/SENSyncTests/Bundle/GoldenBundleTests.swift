import Foundation
import Testing

@testable import SENSync

/// Pins bundle format 3.2 with a committed file: `Fixtures/golden-v3.2.bundle` and its manifest
/// `Fixtures/golden-v3.2.json` (header fields, and for each recipient what applying it must give:
/// counts, version vector, open conflicts, pupils and state digest).
///
/// The fixture is an LA's bundle to a trust and a maintained school, made by
/// ``GoldenFixture/make(in:)`` from synthetic data with fixed site and record ids, a test clock,
/// and fixed test-only keys for every site (they are part of the generator, below). Each recipient
/// has its own sealed section and sees only its own pupil: its changes, each proved against the
/// checkpoint its origin signed, and the LA's holdings of it. The test rebuilds each recipient's store from the same identity and keys, pinned
/// to the same LA, applies the committed file and checks what it means. A build that can no
/// longer read the file, or that merges it into a different state, fails here.
///
/// The bytes cannot be reproduced: the bundle id, its ephemeral HPKE keys and content keys are
/// random, so a regenerated file differs everywhere in its sealed parts. The tests compare meaning
/// (header fields, counts, digests), never a regenerated file's bytes. To regenerate on purpose (a
/// new format version gets a new file; never rewrite a released one):
///
///     SENSYNC_REGENERATE_FIXTURES=1 swift test --scratch-path .build-port --filter GoldenBundleTests
///
/// then rebuild (resources are copied at build time), run the suite again without the variable,
/// and review the manifest's diff: only `bundleID`, `createdAt`, the payload lengths and checksums
/// and the file's size and checksum may change.
struct GoldenBundleTests {
    /// The fixture of the format this build writes.
    static let name = "golden-v3.2"
    /// The fixture of format 3.1 (holdings by generation; the changes carried tell nothing of
    /// them), still read.
    static let formatMinor1 = "golden-v3.1"
    /// The fixture of format 3.0 (every holdings entry, no bases), still read.
    static let formatMinor0 = "golden-v3"
    static let sourceFolder = repositoryRoot.appendingPathComponent("Tests/SENSyncTests/Fixtures")

    /// The committed fixture: from the source tree when regenerating (after regenerating it,
    /// once), else from the test bundle.
    static func fixture(_ name: String, _ ext: String) throws -> URL {
        if regenerateFixtures {
            try regeneration.get()
            return sourceFolder.appendingPathComponent("\(name).\(ext)")
        }
        return try #require(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"))
    }

    static func manifest(_ name: String = Self.name) throws -> GoldenManifest {
        let url =
            name == Self.name
            ? try fixture(name, "json")
            : try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(GoldenManifest.self, from: Data(contentsOf: url))
    }

    /// Writes the fixture and its manifest into the source tree; runs once, before any test of
    /// this suite reads them, and only with `SENSYNC_REGENERATE_FIXTURES=1`.
    static let regeneration: Result<Void, any Error> = Result {
        try withTemporaryDirectory { dir in
            let made = try GoldenFixture.make(in: dir)
            let bundle = sourceFolder.appendingPathComponent("\(Self.name).bundle")
            if FileManager.default.fileExists(atPath: bundle.path) { try FileManager.default.removeItem(at: bundle) }
            try FileManager.default.copyItem(at: made.url, to: bundle)
            let manifest = try GoldenManifest(bundle: bundle, recipients: made.recipients)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (encoder.encode(manifest) + Data("\n".utf8)).write(
                to: sourceFolder.appendingPathComponent("\(Self.name).json"))
            print("regenerated \(bundle.path) and \(Self.name).json")
        }
    }

    @Test func regenerateWhenAsked() throws {
        guard regenerateFixtures else { return }
        try Self.regeneration.get()
    }

    /// The committed file is the one the manifest describes (it was not edited on its own).
    @Test func fileIsTheCommittedOne() throws {
        let data = try Data(contentsOf: try Self.fixture(Self.name, "bundle"))
        let manifest = try Self.manifest()
        #expect(data.count == manifest.fileSize)
        #expect(Digest32.sha256(data) == manifest.fileSHA256)
    }

    @Test func headerMatchesTheManifest() throws {
        let url = try Self.fixture(Self.name, "bundle")
        let header = try Store.inspectBundle(at: url)
        let manifest = try Self.manifest()
        #expect(try GoldenManifest.HeaderFields(header) == manifest.header)
        #expect(header.formatMajor == 3 && header.formatMinor == 2 && header.holdingsFromChanges)
        // A first bundle to each recipient: its holdings are whole (base 0), generation 1.
        #expect(header.sections.allSatisfy { $0.holdingsBasis == HoldingsBasis(base: 0, generation: 1, confirmed: 0) })
        #expect(header.schemaVersion == RecordSchema.version)
        #expect(header.sender == GoldenFixture.la)
        #expect(header.recipients == [GoldenFixture.trust.id, GoldenFixture.school.id])
        #expect(manifest.recipients.map(\.site) == [GoldenFixture.trust, GoldenFixture.school])
        // Each section carries only its recipient's pupil's changes, with the origin checkpoints
        // that prove them, and none without content.
        for section in header.sections {
            #expect(section.changeCount > 0 && section.checkpointCount > 0 && section.redactedCount == 0)
            #expect(section.changeCount < header.versionVector.total)
            #expect(section.origins.values.reduce(0, +) == section.changeCount)
        }
        // The directory it carries is the LA's, signed with the LA's fixed key.
        let directory = try AreaDirectory.decode(
            header.directory, verifiedBy: try GoldenFixture.publicIdentity(GoldenFixture.la).keys,
            la: GoldenFixture.la.id)
        #expect(directory.version == header.directoryVersion)
        #expect(
            Set(directory.entries.map(\.site)) == [
                GoldenFixture.la, GoldenFixture.trust, GoldenFixture.academy, GoldenFixture.school,
            ])
        #expect(directory.entry(GoldenFixture.academy.id)?.trust == GoldenFixture.trust.id)
        let verified = try Store.verifyBundle(at: url)
        #expect(verified.newChanges == Int(header.changeCount))
    }

    /// The fixture of this format, and those of formats 3.1 and 3.0 (still read: a 3.1 bundle's
    /// holdings are its entries only, a 3.0 bundle's every pupil).
    @Test(arguments: [Self.name, Self.formatMinor1, Self.formatMinor0], [GoldenFixture.trust, GoldenFixture.school])
    func applyingItGivesTheExpectedState(_ name: String, _ site: SiteIdentity) throws {
        let url =
            name == Self.name
            ? try Self.fixture(name, "bundle")
            : try #require(Bundle.module.url(forResource: name, withExtension: "bundle", subdirectory: "Fixtures"))
        if name == Self.formatMinor0 { #expect(try Store.inspectBundle(at: url).formatMinor == 0) }
        if name == Self.formatMinor1 {
            #expect(try Store.inspectBundle(at: url).formatMinor == 1)
            #expect(try !Store.inspectBundle(at: url).holdingsFromChanges)
        }
        let expected = try #require(try Self.manifest(name).recipients.first { $0.site == site })
        let store = try GoldenFixture.recipientStore(site)
        let section = try #require(try Store.inspectBundle(at: url).sections.first { $0.recipient == site.id })
        let carried = try storedChanges(inBundleAt: url, openedBy: store)
        let report = try store.apply(bundleAt: url)
        #expect(report.result == .applied)
        #expect(report.directoryUpdatedTo == expected.directoryVersion)
        #expect(report.applied == expected.applied && report.applied == Int(section.changeCount))
        #expect(report.skipped == expected.skipped && report.skipped == 0)
        #expect(report.duplicates == 0 && report.rejected.isEmpty && report.refused.isEmpty)
        #expect(try store.digest() == expected.digest)
        #expect(try store.conflicts().count == expected.openConflicts)
        #expect(try store.pupils(includeDeleted: true).map(\.id).sorted() == expected.pupils)
        #expect(try store.versionVector() == VersionVector(try expected.versionVectorEntries()))
        // The same changes in a memory replica give the same state.
        let replica = try MemoryReplica.replaying(carried, as: site.id)
        #expect(replica.digest() == expected.digest)
        #expect(try store.conflictLines == replica.conflictLines)
        // Applying it again changes nothing.
        #expect(try store.apply(bundleAt: url).result == .alreadyApplied)
    }

    /// The previous format's fixture (`golden-v2.bundle`, as the release before payload coding
    /// wrote it) is refused before anything is read, as made by an older SENSync, and changes
    /// nothing: the sender is told to update.
    @Test func aFormat2BundleIsRefusedAsMadeByAnOlderSENSync() throws {
        let url = try #require(
            Bundle.module.url(forResource: "golden-v2", withExtension: "bundle", subdirectory: "Fixtures"))
        let store = try GoldenFixture.recipientStore(GoldenFixture.trust)
        let before = try store.digest()
        let error = #expect(throws: BundleError.self) { try store.apply(bundleAt: url) }
        #expect(
            error?.message.contains("made by an older SENSync (bundle format 2)") == true, "\(error?.message ?? "")")
        #expect(try store.digest() == before)
        #expect(try store.versionVector().isEmpty)
    }

    /// The generator still makes the committed content: the fixture can be regenerated without
    /// changing what it pins (only its bundle id, time and sealed bytes).
    @Test func generatorReproducesTheCommittedState() throws {
        let manifest = try Self.manifest()
        try withTemporaryDirectory { dir in
            let made = try GoldenFixture.make(in: dir)
            #expect(made.recipients == manifest.recipients)
            // What a regenerated header must keep: everything but its id, time and sealed bytes.
            func meaning(_ fields: GoldenManifest.HeaderFields) -> GoldenManifest.HeaderFields {
                var f = fields
                f.bundleID = ""
                f.createdAt = 0
                for i in f.sections.indices {
                    f.sections[i].payloadLength = 0
                    f.sections[i].payloadSHA256 = .zero
                }
                return f
            }
            let fields = try GoldenManifest.HeaderFields(try Store.inspectBundle(at: made.url))
            #expect(meaning(fields) == meaning(manifest.header))
        }
    }
}

/// The golden fixture's content. An area: the LA, a trust with one academy, a maintained school,
/// each with fixed test-only keys. The academy records a pupil (notes, a plan, provision, an
/// unknown table and field); the LA and the academy then edit concurrently, and the LA deletes the
/// plan while the academy edits it, with a null write. The LA records a pupil at the maintained
/// school and one with no school. The LA then sends one bundle to the trust and the school.
enum GoldenFixture {
    static let academy = SiteIdentity(
        id: fixedID(0x0A, tail: 0xA0), name: "Golden Academy", kind: .academy, urn: "100001", laCode: "801")
    static let la = SiteIdentity(id: fixedID(0x0B, tail: 0xB0), name: "Golden LA", kind: .la, laCode: "801")
    static let trust = SiteIdentity(id: fixedID(0x0C, tail: 0xC0), name: "Golden Trust", kind: .trust)
    static let school = SiteIdentity(
        id: fixedID(0x0D, tail: 0xD0), name: "Golden School", kind: .maintainedSchool, urn: "100002", laCode: "801")

    /// Fixed keys for each site, derived from a byte of its id. TEST ONLY: anyone can read them
    /// here, so they protect nothing; they exist so the fixture can be made and opened again.
    static func keys(_ site: SiteIdentity) throws -> SiteKeys {
        let lead = site.id.bytes[0]
        return try SiteKeys(
            signingRaw: (0..<32).map { UInt8(truncatingIfNeeded: Int(lead) &* 31 &+ $0 &* 7 &+ 1) },
            agreementRaw: (0..<32).map { UInt8(truncatingIfNeeded: Int(lead) &* 17 &+ $0 &* 13 &+ 5) })
    }

    static func publicIdentity(_ site: SiteIdentity) throws -> PublicIdentity {
        PublicIdentity(site: site, keys: try keys(site).publicKeys)
    }

    /// A new, empty store for a recipient of the fixture: its identity and fixed keys, pinned to
    /// the fixture's LA.
    static func recipientStore(_ site: SiteIdentity) throws -> Store {
        try Store.inMemory(identity: site, la: try publicIdentity(la), keys: try keys(site), now: TestClock().now)
    }

    struct Made {
        var url: URL
        var recipients: [GoldenManifest.Recipient]
    }

    static func make(in folder: URL) throws -> Made {
        let clock = TestClock()
        var rng = SplitMix64(seed: 0x5E45_601D)
        func id() -> RecordID { .v7(milliseconds: baseMilliseconds, using: &rng) }
        let la = try Store.inMemory(identity: Self.la, keys: try keys(Self.la), now: clock.now)
        let academy = try Store.inMemory(
            identity: Self.academy, la: la.publicIdentity, keys: try keys(Self.academy), now: clock.now)
        try la.addToDirectory(try publicIdentity(trust))
        try la.addToDirectory(academy.publicIdentity, trust: trust.id)
        try la.addToDirectory(try publicIdentity(school))
        try exchange(la, academy, in: folder, "1")

        let pupil = id()
        let plan = id()
        func write(_ store: Store, _ scope: RecordID, _ ops: [RecordOp]) throws {
            try store.write(author: "Golden author", scope: scope, ops: ops)
        }
        try write(
            academy, pupil,
            [
                RecordOp(
                    table: "pupil", id: pupil,
                    writes: [
                        FieldWrite("upn", .text("H801200001001")), FieldWrite("forename", .text("Zoë")),
                        FieldWrite("surname", .text("Example-测试")), FieldWrite("date_of_birth", .text("2016-04-01")),
                        FieldWrite("year_group", .integer(-1)), FieldWrite("sen_status", .text("K")),
                        FieldWrite("sen_needs", .text("SPLD,SLCN")), FieldWrite("deleted", .integer(0)),
                    ]),
                RecordOp(
                    table: "enrolment", id: id(),
                    writes: [
                        FieldWrite("school_id", .text(Self.academy.id.description)),
                        FieldWrite("entry_date", .text("2025-09-03")), FieldWrite("deleted", .integer(0)),
                    ]),
            ])
        try write(
            academy, pupil,
            [
                RecordOp(
                    table: "note", id: id(),
                    writes: [
                        FieldWrite("text", .text("Finds phonics hard 📚\nline two")),
                        FieldWrite("area", .text("cognition-learning")), FieldWrite("amends_note_id", .null),
                    ])
            ])
        try write(
            academy, pupil,
            [
                RecordOp(
                    table: "support_plan", id: plan,
                    writes: [
                        FieldWrite("title", .text("Literacy")), FieldWrite("status", .text("active")),
                        FieldWrite("start_date", .text("2026-01-05")),
                        FieldWrite("review_date", .text("2026-03-02")),
                        FieldWrite("responsible_org", .text("Golden Academy")),
                        FieldWrite("responsible_person", .text("SENCO")), FieldWrite("deleted", .integer(0)),
                    ])
            ])
        try write(
            academy, pupil,
            [
                RecordOp(
                    table: "provision_item", id: id(),
                    writes: [
                        FieldWrite("plan_id", .text(plan.description)),
                        FieldWrite("description", .text("Small-group phonics")),
                        FieldWrite("cost_pence", .integer(45_000)), FieldWrite("#40", .text("F1")),
                        FieldWrite("deleted", .integer(0)),
                    ]),
                RecordOp(
                    table: "#99", id: id(),
                    writes: [FieldWrite("#1", .integer(-3)), FieldWrite("#2", .text("kept as is"))]),
            ])
        try exchange(academy, la, in: folder, "2")

        // The LA's own pupils: one at the maintained school, one at no school.
        let schoolPupil = id()
        try write(
            la, schoolPupil,
            [
                RecordOp(
                    table: "pupil", id: schoolPupil,
                    writes: [
                        FieldWrite("upn", .text("A801200001002")), FieldWrite("forename", .text("Bo")),
                        FieldWrite("surname", .text("Example")),
                        FieldWrite("date_of_birth", .text("2017-02-28")), FieldWrite("sen_status", .text("E")),
                    ]),
                RecordOp(
                    table: "enrolment", id: id(),
                    writes: [
                        FieldWrite("school_id", .text(Self.school.id.description)),
                        FieldWrite("entry_date", .text("2025-09-03")),
                    ]),
            ])
        let unplaced = id()
        try write(
            la, unplaced,
            [
                RecordOp(
                    table: "pupil", id: unplaced,
                    writes: [
                        FieldWrite("upn", .text("B801200001003")), FieldWrite("forename", .text("Cy")),
                        FieldWrite("date_of_birth", .text("2015-12-01")),
                    ])
            ])
        // Concurrent: both change the year group; the LA deletes the plan while the academy edits it.
        try write(la, pupil, [RecordOp(table: "pupil", id: pupil, writes: [FieldWrite("year_group", .integer(0))])])
        try write(
            academy, pupil, [RecordOp(table: "pupil", id: pupil, writes: [FieldWrite("year_group", .integer(1))])])
        try write(la, pupil, [RecordOp(table: "support_plan", id: plan, writes: [FieldWrite("deleted", .integer(1))])])
        try write(
            academy, pupil,
            [
                RecordOp(
                    table: "support_plan", id: plan,
                    writes: [
                        FieldWrite("title", .text("Literacy and numeracy")), FieldWrite("responsible_person", .null),
                    ])
            ])
        try write(
            la, schoolPupil,
            [
                RecordOp(
                    table: "note", id: id(),
                    writes: [
                        FieldWrite("text", .text("Referred to speech and language therapy")),
                        FieldWrite("area", .text("communication-interaction")),
                    ])
            ])
        try exchange(academy, la, in: folder, "3")

        let url = folder.appendingPathComponent("\(GoldenBundleTests.name).bundle")
        try la.makeBundle(to: [trust.id, school.id], at: url)
        var recipients: [GoldenManifest.Recipient] = []
        for site in [trust, school] {
            let store = try recipientStore(site)
            let report = try store.apply(bundleAt: url)
            recipients.append(
                GoldenManifest.Recipient(
                    site: site, directoryVersion: report.directoryUpdatedTo, applied: report.applied,
                    skipped: report.skipped,
                    digest: try store.digest(), openConflicts: try store.conflicts().count,
                    pupils: try store.pupils(includeDeleted: true).map(\.id).sorted(),
                    versionVector: Dictionary(
                        uniqueKeysWithValues: try store.versionVector().entries.map { ($0.site.description, $0.seq) })))
        }
        return Made(url: url, recipients: recipients)
    }

    private static func exchange(_ from: Store, _ to: Store, in folder: URL, _ name: String) throws {
        let url = folder.appendingPathComponent("exchange-\(name).bundle")
        try from.makeBundle(to: [to.identity.id], at: url)
        try to.apply(bundleAt: url)
    }
}

/// `Fixtures/golden-v3.json`.
struct GoldenManifest: Codable, Equatable {
    /// The header as JSON-friendly values.
    struct HeaderFields: Codable, Equatable {
        var formatMajor: UInt16
        var formatMinor: UInt16
        var schemaVersion: UInt16
        var bundleID: String
        var createdAt: UInt64
        var sender: SiteIdentity
        var directoryVersion: UInt64
        /// The sites listed in the carried directory, by id.
        var directorySites: [SiteID]
        /// Site id → sequence number.
        var versionVector: [String: UInt64]
        var sections: [SectionFields]
        var extensions: [String: String]
        /// Format 3.2's flag (absent from older manifests).
        var holdingsFromChanges: Bool?

        init(_ h: BundleHeader) throws {
            formatMajor = h.formatMajor
            formatMinor = h.formatMinor
            schemaVersion = h.schemaVersion
            bundleID = h.bundleID.description
            createdAt = h.createdAt
            sender = h.sender
            directoryVersion = h.directoryVersion
            // Checked against the fixture LA's fixed key: the directory must be the one it signed.
            directorySites = try AreaDirectory.decode(
                h.directory, verifiedBy: try GoldenFixture.publicIdentity(GoldenFixture.la).keys, la: h.sender.id
            )
            .entries.map(\.site.id)
            versionVector = Dictionary(
                uniqueKeysWithValues: h.versionVector.entries.map { ($0.site.description, $0.seq) })
            sections = h.sections.map(SectionFields.init)
            extensions = Dictionary(uniqueKeysWithValues: h.extensions.map { (String($0.key), $0.value.hexString) })
            holdingsFromChanges = h.holdingsFromChanges ? true : nil
        }
    }

    struct SectionFields: Codable, Equatable {
        var recipient: SiteID
        var payloadLength: UInt64
        var plainLength: UInt64
        var payloadSHA256: Digest32
        var checkpointCount: UInt64
        var changeCount: UInt64
        var redactedCount: UInt64
        var holdingsCount: UInt64
        var tableCounts: [String: UInt64]
        /// Site id → changes carried.
        var origins: [String: UInt64]

        init(_ s: BundleSection) {
            recipient = s.recipient
            payloadLength = s.payloadLength
            plainLength = s.plainLength
            payloadSHA256 = s.payloadSHA256
            checkpointCount = s.checkpointCount
            changeCount = s.changeCount
            redactedCount = s.redactedCount
            holdingsCount = s.holdingsCount
            tableCounts = s.tableCounts
            origins = Dictionary(uniqueKeysWithValues: s.origins.map { ($0.key.description, $0.value) })
        }
    }

    /// What applying the fixture to a new store for one recipient gives.
    struct Recipient: Codable, Equatable {
        var site: SiteIdentity
        var directoryVersion: UInt64?
        var applied: Int
        var skipped: Int
        /// The state digest afterwards.
        var digest: Digest32
        var openConflicts: Int
        var pupils: [RecordID]
        /// Site id → sequence number.
        var versionVector: [String: UInt64]

        func versionVectorEntries() throws -> [SiteID: UInt64] {
            Dictionary(uniqueKeysWithValues: try versionVector.map { (try #require(SiteID($0.key)), $0.value) })
        }
    }

    var note =
        "Pinned by Tests/SENSyncTests/Bundle/GoldenBundleTests.swift; regenerate only with SENSYNC_REGENERATE_FIXTURES=1."
    var header: HeaderFields
    var fileSize: Int
    var fileSHA256: Digest32
    /// Each recipient's expected result, in section order.
    var recipients: [Recipient]

    init(bundle url: URL, recipients: [Recipient]) throws {
        let data = try Data(contentsOf: url)
        header = try HeaderFields(try Store.inspectBundle(at: url))
        fileSize = data.count
        fileSHA256 = Digest32.sha256(data)
        self.recipients = recipients
    }
}
