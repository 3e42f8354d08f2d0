import Foundation
import Testing

@testable import SENSync

/// Pins bundle format 1 with a committed file: `Fixtures/golden-v1.bundle` and its manifest
/// `Fixtures/golden-v1.json` (header fields, file checksum, and the state digest a fresh store
/// reaches by applying it).
///
/// The fixture is made once, by ``GoldenFixture/make(in:)`` from synthetic data with fixed site and
/// record ids and a test clock, and committed. A build that can no longer read it, or that merges
/// it into a different state, fails here. To regenerate it on purpose (a new format version gets
/// a new file; never rewrite a released one):
///
///     SENSYNC_REGENERATE_FIXTURES=1 swift test --scratch-path .build-libtests --filter GoldenBundleTests
///
/// then rebuild (resources are copied at build time) and review the diff. The bundle id and
/// creation time come from the system, so a regenerated file differs in its header; the content
/// and the expected digest do not.
struct GoldenBundleTests {
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

    static func manifest() throws -> GoldenManifest {
        try JSONDecoder().decode(GoldenManifest.self, from: Data(contentsOf: try fixture("golden-v1", "json")))
    }

    /// Writes the fixture and its manifest into the source tree; runs once, before any test of
    /// this suite reads them, and only with `SENSYNC_REGENERATE_FIXTURES=1`.
    static let regeneration: Result<Void, any Error> = Result {
        try withTemporaryDirectory { dir in
            let made = try GoldenFixture.make(in: dir)
            let bundle = sourceFolder.appendingPathComponent("golden-v1.bundle")
            if FileManager.default.fileExists(atPath: bundle.path) { try FileManager.default.removeItem(at: bundle) }
            try FileManager.default.copyItem(at: made.url, to: bundle)
            let manifest = try GoldenManifest(bundle: bundle, expectedDigest: made.digest, openConflicts: made.openConflicts, pupils: made.pupils)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (encoder.encode(manifest) + Data("\n".utf8)).write(to: sourceFolder.appendingPathComponent("golden-v1.json"))
            print("regenerated \(bundle.path) and golden-v1.json")
        }
    }

    @Test func regenerateWhenAsked() throws {
        guard regenerateFixtures else { return }
        try Self.regeneration.get()
    }

    @Test func fileIsTheCommittedOne() throws {
        let url = try Self.fixture("golden-v1", "bundle")
        let manifest = try Self.manifest()
        let data = try Data(contentsOf: url)
        #expect(data.count == manifest.fileSize)
        #expect(Digest32.sha256(data) == manifest.fileSHA256)
    }

    @Test func headerMatchesTheManifest() throws {
        let header = try Store.inspectBundle(at: try Self.fixture("golden-v1", "bundle"))
        let manifest = try Self.manifest()
        #expect(GoldenManifest.HeaderFields(header) == manifest.header)
        #expect(header.formatMajor == 1 && header.formatMinor == 0 && header.schemaVersion == 1)
        #expect(header.sender.id == GoldenFixture.school.id)
        #expect(header.recipients == [GoldenFixture.trust.id])
        #expect(Set(header.origins.map(\.site)) == [GoldenFixture.school.id, GoldenFixture.la.id])
        #expect(header.origins.allSatisfy { $0.firstSeq == 1 && $0.previousHash == .zero })
        let verified = try Store.verifyBundle(at: try Self.fixture("golden-v1", "bundle"))
        #expect(verified.newChanges == Int(manifest.header.changeCount))
    }

    @Test func applyingItGivesTheExpectedState() throws {
        let manifest = try Self.manifest()
        let store = try Store.inMemory(identity: GoldenFixture.trust, now: TestClock().now)
        let report = try store.apply(bundleAt: try Self.fixture("golden-v1", "bundle"))
        #expect(report.result == .applied)
        #expect(report.applied == Int(manifest.header.changeCount))
        #expect(report.rejected.isEmpty)
        #expect(try store.digest() == manifest.expectedDigest)
        #expect(try store.conflicts().count == manifest.expectedOpenConflicts)
        #expect(try store.pupils(includeDeleted: true).count == manifest.expectedPupils)
        #expect(try store.versionVector() == VersionVector(try manifest.header.versionVectorEntries()))
        // The same changes in a memory replica give the same state.
        var replica = MemoryReplica(site: GoldenFixture.trust.id)
        try replica.apply(try changes(inBundleAt: try Self.fixture("golden-v1", "bundle")), now: baseMilliseconds + 86_400_000)
        #expect(replica.digest() == manifest.expectedDigest)
    }

    /// The generator still makes the committed content: the fixture can be regenerated without
    /// changing what it pins (only its header's bundle id and time).
    @Test func generatorReproducesTheCommittedState() throws {
        let manifest = try Self.manifest()
        try withTemporaryDirectory { dir in
            let made = try GoldenFixture.make(in: dir)
            #expect(made.digest == manifest.expectedDigest)
            let header = try Store.inspectBundle(at: made.url)
            var fields = GoldenManifest.HeaderFields(header)
            fields.bundleID = manifest.header.bundleID
            fields.createdAt = manifest.header.createdAt
            #expect(fields == manifest.header)
        }
    }
}

/// The golden fixture's content: an academy and its LA, with a pupil, notes, a plan, provision,
/// an unknown table and field, concurrent edits, a deletion against an edit and a null write; the
/// academy then sends everything to its trust.
enum GoldenFixture {
    static let school = SiteIdentity(id: fixedID(0x0A, tail: 0xA0), name: "Golden Academy", kind: .academy, urn: "100001", laCode: "801")
    static let la = SiteIdentity(id: fixedID(0x0B, tail: 0xB0), name: "Golden LA", kind: .la, laCode: "801")
    static let trust = SiteIdentity(id: fixedID(0x0C, tail: 0xC0), name: "Golden Trust", kind: .trust)

    struct Made {
        var url: URL
        var digest: Digest32
        var openConflicts: Int
        var pupils: Int
    }

    static func make(in folder: URL) throws -> Made {
        let clock = TestClock()
        var rng = SplitMix64(seed: 0x5E45_601D)
        func id() -> RecordID { .v7(milliseconds: baseMilliseconds, using: &rng) }
        let school = try Store.inMemory(identity: Self.school, now: clock.now)
        let la = try Store.inMemory(identity: Self.la, now: clock.now)
        let pupil = id()
        let plan = id()
        func write(_ store: Store, _ ops: [RecordOp]) throws { try store.write(author: "Golden author", scope: pupil, ops: ops) }
        try write(school, [
            RecordOp(
                table: "pupil", id: pupil,
                writes: [
                    FieldWrite("upn", .text("H801200001001")), FieldWrite("forename", .text("Zoë")),
                    FieldWrite("surname", .text("Example-测试")), FieldWrite("date_of_birth", .text("2016-04-01")),
                    FieldWrite("year_group", .integer(-1)), FieldWrite("sen_status", .text("K")),
                    FieldWrite("sen_needs", .text("SPLD,SLCN")), FieldWrite("deleted", .integer(0)),
                ]),
            RecordOp(table: "enrolment", id: id(), writes: [FieldWrite("school_id", .text(Self.school.id.description)), FieldWrite("entry_date", .text("2025-09-03")), FieldWrite("deleted", .integer(0))]),
        ])
        try write(school, [
            RecordOp(
                table: "note", id: id(),
                writes: [FieldWrite("text", .text("Finds phonics hard 📚\nline two")), FieldWrite("area", .text("cognition-learning")), FieldWrite("amends_note_id", .null)])
        ])
        try write(school, [
            RecordOp(
                table: "support_plan", id: plan,
                writes: [
                    FieldWrite("title", .text("Literacy")), FieldWrite("status", .text("active")), FieldWrite("start_date", .text("2026-01-05")),
                    FieldWrite("review_date", .text("2026-03-02")), FieldWrite("responsible_org", .text("Golden Academy")),
                    FieldWrite("responsible_person", .text("SENCO")), FieldWrite("deleted", .integer(0)),
                ])
        ])
        try write(school, [
            RecordOp(
                table: "provision_item", id: id(),
                writes: [
                    FieldWrite("plan_id", .text(plan.description)), FieldWrite("description", .text("Small-group phonics")),
                    FieldWrite("cost_pence", .integer(45_000)), FieldWrite("x_funding_code", .text("F1")), FieldWrite("deleted", .integer(0)),
                ]),
            RecordOp(table: "x_future_table", id: id(), writes: [FieldWrite("flag", .integer(-3)), FieldWrite("label", .text("kept as is"))]),
        ])
        try exchange(school, la, in: folder, "1")
        // Concurrent: both change the year group; the LA deletes the plan while the school edits it.
        try write(la, [RecordOp(table: "pupil", id: pupil, writes: [FieldWrite("year_group", .integer(0))])])
        try write(school, [RecordOp(table: "pupil", id: pupil, writes: [FieldWrite("year_group", .integer(1))])])
        try write(la, [RecordOp(table: "support_plan", id: plan, writes: [FieldWrite("deleted", .integer(1))])])
        try write(school, [RecordOp(table: "support_plan", id: plan, writes: [FieldWrite("title", .text("Literacy and numeracy")), FieldWrite("responsible_person", .null)])])
        try exchange(la, school, in: folder, "2")
        let url = folder.appendingPathComponent("golden-v1.bundle")
        try school.makeBundle(to: [Self.trust.id], at: url)
        return Made(url: url, digest: try school.digest(), openConflicts: try school.conflicts().count, pupils: try school.pupils(includeDeleted: true).count)
    }

    private static func exchange(_ from: Store, _ to: Store, in folder: URL, _ name: String) throws {
        let url = folder.appendingPathComponent("exchange-\(name).bundle")
        try from.makeBundle(to: [to.identity.id], at: url)
        try to.apply(bundleAt: url)
    }
}

/// `Fixtures/golden-v1.json`.
struct GoldenManifest: Codable, Equatable {
    /// The header as JSON-friendly values.
    struct HeaderFields: Codable, Equatable {
        var formatMajor: UInt16
        var formatMinor: UInt16
        var schemaVersion: UInt16
        var bundleID: String
        var createdAt: UInt64
        var sender: SiteIdentity
        var recipients: [SiteID]
        var payloadEncoding: UInt8
        var payloadLength: UInt64
        var plainLength: UInt64
        var payloadSHA256: Digest32
        var changeCount: UInt64
        var tableCounts: [String: UInt64]
        var origins: [OriginRange]
        /// Site id → sequence number.
        var versionVector: [String: UInt64]
        var extensions: [String: String]

        init(_ h: BundleHeader) {
            formatMajor = h.formatMajor
            formatMinor = h.formatMinor
            schemaVersion = h.schemaVersion
            bundleID = h.bundleID.description
            createdAt = h.createdAt
            sender = h.sender
            recipients = h.recipients
            payloadEncoding = h.payloadEncoding.rawValue
            payloadLength = h.payloadLength
            plainLength = h.plainLength
            payloadSHA256 = h.payloadSHA256
            changeCount = h.changeCount
            tableCounts = h.tableCounts
            origins = h.origins
            versionVector = Dictionary(uniqueKeysWithValues: h.versionVector.entries.map { ($0.site.description, $0.seq) })
            extensions = Dictionary(uniqueKeysWithValues: h.extensions.map { (String($0.key), $0.value.hexString) })
        }

        func versionVectorEntries() throws -> [SiteID: UInt64] {
            Dictionary(uniqueKeysWithValues: try versionVector.map { (try #require(SiteID($0.key)), $0.value) })
        }
    }

    var note = "Pinned by Tests/SENSyncTests/Bundle/GoldenBundleTests.swift; regenerate only with SENSYNC_REGENERATE_FIXTURES=1."
    var header: HeaderFields
    var fileSize: Int
    var fileSHA256: Digest32
    /// The state digest of a fresh store (site `header.recipients[0]`) after applying the bundle.
    var expectedDigest: Digest32
    var expectedOpenConflicts: Int
    var expectedPupils: Int

    init(bundle url: URL, expectedDigest: Digest32, openConflicts: Int, pupils: Int) throws {
        let data = try Data(contentsOf: url)
        header = HeaderFields(try Store.inspectBundle(at: url))
        fileSize = data.count
        fileSHA256 = Digest32.sha256(data)
        self.expectedDigest = expectedDigest
        expectedOpenConflicts = openConflicts
        expectedPupils = pupils
    }
}
