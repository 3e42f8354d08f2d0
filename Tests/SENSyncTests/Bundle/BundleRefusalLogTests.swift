import Foundation
import GRDB
import Testing

@testable import SENSync

/// Acceptance: every refusal is recorded in the import log with its reason — a damaged or
/// truncated file, a file that is not a bundle, an unknown sender, a wrong recipient, a bad
/// signature and a section that does not open included — without personal data; a refused bundle
/// changes nothing but its row in the import log; and what people read names sites, not ids.
struct BundleRefusalLogTests {
    static let forename = "Philippa"
    static let surname = "Quillfeather-Osei"
    static let upn = syntheticUPN(6101)
    static let noteText = "Refusal-log note: prefers a quiet room (marker RL7Q)"
    static var personal: [String] { [forename, surname, upn, noteText] }

    /// An LA and two schools that have heard from it (so each holds the directory naming the
    /// other); Oakfield's pupil is held at the LA, and `bundle` (Oakfield to the LA, not applied)
    /// carries a note about them.
    struct Setup {
        var area: TestArea
        var oakfield: Store
        var brook: Store
        var bundle: URL
        var bytes: [UInt8]
        var header: BundleHeader
        var scratch: URL

        init(_ dir: URL) throws {
            area = try TestArea(folder: dir)
            oakfield = try area.add("Oakfield Primary", .maintainedSchool)
            brook = try area.add("Brook Lane School", .maintainedSchool)
            try area.send("LA", "Oakfield Primary")
            try area.send("LA", "Brook Lane School")
            let pupil = try oakfield.addPupil(
                NewPupil(
                    upn: BundleRefusalLogTests.upn, forename: BundleRefusalLogTests.forename,
                    surname: BundleRefusalLogTests.surname, dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try area.send("Oakfield Primary", "LA")
            try oakfield.addNote(pupil: pupil.description, text: BundleRefusalLogTests.noteText, author: "SENCO")
            bundle = try area.make("Oakfield Primary", "LA")
            bytes = [UInt8](try Data(contentsOf: bundle))
            header = try Store.inspectBundle(at: bundle)
            scratch = dir.appendingPathComponent("refused.bundle")
        }

        /// Writes `bytes` to the scratch file and returns its URL.
        func write(_ bytes: [UInt8]) throws -> URL {
            try Data(bytes).write(to: scratch)
            return scratch
        }
    }

    /// What the refusal row must say.
    struct Expected {
        var code: BundleError.Code
        /// The bundle id, when the header could be read.
        var bundleID: UUID128?
        /// The sender the header names (claimed, not necessarily authenticated).
        var senderID: SiteID?
        /// The sender's name as this store's directory gives it.
        var senderName: String?
        /// A phrase of the recorded reason.
        var saying: String
    }

    /// Applies `url` at `store`, expecting a refusal; checks that exactly one import-log row was
    /// added with the code, reason, file digest and sender, that every other table is unchanged,
    /// and that neither the row nor the error holds personal data. Returns the row.
    @discardableResult
    static func expectLoggedRefusal(
        _ url: URL, at store: Store, _ expected: Expected, notContaining extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ImportLogRow? {
        let tables = try store.tableDump(excluding: ["import_log"])
        let rows = try store.importLogRows()
        let fileDigest = Digest32.sha256(try Data(contentsOf: url))
        let error = #expect(throws: BundleError.self, sourceLocation: sourceLocation) {
            try store.apply(bundleAt: url)
        }
        #expect(
            error?.code == expected.code, "\(error?.code.rawValue ?? "-"): \(error?.message ?? "")",
            sourceLocation: sourceLocation)
        #expect(
            try store.tableDump(excluding: ["import_log"]) == tables, "a table other than import_log changed",
            sourceLocation: sourceLocation)
        let after = try store.importLogRows()
        #expect(
            after.count == rows.count + 1, "\(after.count - rows.count) rows were added to the import log",
            sourceLocation: sourceLocation)
        guard after.count == rows.count + 1, let row = after.last else { return nil }
        #expect(row.text("result") == "refused: \(expected.code.rawValue)", sourceLocation: sourceLocation)
        let detail = row.text("detail") ?? ""
        #expect(detail.contains(expected.saying), "detail: \(detail)", sourceLocation: sourceLocation)
        #expect(
            row.blob("file_sha256") == Data(fileDigest.bytes), "not the file's SHA-256",
            sourceLocation: sourceLocation)
        #expect(
            row.text("bundle_id") == expected.bundleID?.description, "bundle id \(row["bundle_id"])",
            sourceLocation: sourceLocation)
        #expect(row.text("sender_id") == expected.senderID?.description, sourceLocation: sourceLocation)
        #expect(row.text("sender_name") == expected.senderName, sourceLocation: sourceLocation)
        for column in ["applied", "duplicates", "rejected", "conflicts_opened", "conflicts_closed"] {
            #expect(Int.fromDatabaseValue(row[column]) == 0, "\(column)", sourceLocation: sourceLocation)
        }
        let text = "\(row) \(error?.description ?? "")"
        for needle in personal + extra {
            #expect(!text.contains(needle), "the refusal records \(needle): \(text)", sourceLocation: sourceLocation)
        }
        // The library's readers take the row as it is.
        let entry = try #require(try store.importLog(limit: 1).first, sourceLocation: sourceLocation)
        #expect(entry.result == "refused: \(expected.code.rawValue)", sourceLocation: sourceLocation)
        #expect(entry.detail == row.text("detail"), sourceLocation: sourceLocation)
        // `sensync log` shows the file's SHA-256, as the README says, to match it with the file.
        #expect(entry.fileSHA256 == fileDigest.hex, sourceLocation: sourceLocation)
        _ = try store.status()
        _ = try store.syncHealth()
        return row
    }

    // MARK: Damaged files

    @Test func aDamagedPayloadIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            var bytes = s.bytes
            let layout = try BundleFile.readLayout(at: s.bundle)
            bytes[Int(layout.payloadOffset) + 5] ^= 0x01
            try Self.expectLoggedRefusal(
                try s.write(bytes), at: s.area.la,
                Expected(
                    code: .damaged, bundleID: s.header.bundleID, senderID: s.oakfield.identity.id,
                    senderName: "Oakfield Primary", saying: "payload checksum"))
            // The file as sent still applies.
            #expect(try s.area.la.apply(bundleAt: s.bundle).applied == 1)
        }
    }

    @Test func aTruncatedFileIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            // Cut in the payload: the header still reads, so the row names the bundle and sender.
            try Self.expectLoggedRefusal(
                try s.write(Array(s.bytes.dropLast(7))), at: s.area.la,
                Expected(
                    code: .damaged, bundleID: s.header.bundleID, senderID: s.oakfield.identity.id,
                    senderName: "Oakfield Primary", saying: "ends early"))
            // Cut in the header: nothing but the file's digest is known.
            try Self.expectLoggedRefusal(
                try s.write(Array(s.bytes.prefix(40))), at: s.area.la,
                Expected(code: .damaged, saying: "header is incomplete"))
        }
    }

    @Test func aFileThatIsNotABundleIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            var rng = SplitMix64(seed: 0x5E45_4EF0)
            var bytes = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes[0] = 0x00
            try Self.expectLoggedRefusal(
                try s.write(bytes), at: s.area.la, Expected(code: .notABundle, saying: "not a SENSync bundle"))
        }
    }

    @Test func applyingTheSameDamagedFileTwiceLogsTwoRefusals() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let url = try s.write(Array(s.bytes.dropLast(1)))
            let expected = Expected(
                code: .damaged, bundleID: s.header.bundleID, senderID: s.oakfield.identity.id,
                senderName: "Oakfield Primary", saying: "ends early")
            let first = try Self.expectLoggedRefusal(url, at: s.area.la, expected)
            let second = try Self.expectLoggedRefusal(url, at: s.area.la, expected)
            #expect(first?.integer("id") != nil && first?.integer("id") != second?.integer("id"))
            #expect(first?.blob("file_sha256") == second?.blob("file_sha256"))
        }
    }

    // MARK: Who sent it, and to whom

    @Test func anUnknownSenderIsLoggedByItsClaimedIDWithoutItsClaimedName() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let unlisted = try Store.inMemory(
                identity: makeSite("Claimed Name School", .maintainedSchool), la: s.area.la.publicIdentity,
                now: s.area.clock.now)
            try unlisted.addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2016-04-01"),
                author: "SENCO")
            let url = dir.appendingPathComponent("unlisted.bundle")
            let summary = try unlisted.makeBundle(to: [s.area.la.identity.id], at: url)
            try Self.expectLoggedRefusal(
                url, at: s.area.la,
                Expected(
                    code: .unknownSender, bundleID: summary.header.bundleID, senderID: unlisted.identity.id,
                    saying: "not in this site's area directory"),
                notContaining: ["Claimed Name School"])
            #expect(try s.area.la.knownSites().contains { $0.site == unlisted.identity.id } == false)
        }
    }

    @Test func aBundleForAnotherSiteIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            try Self.expectLoggedRefusal(
                s.bundle, at: s.brook,
                Expected(
                    code: .notAddressedToThisSite, bundleID: s.header.bundleID, senderID: s.oakfield.identity.id,
                    senderName: "Oakfield Primary", saying: "addressed to other sites"))
        }
    }

    @Test func aBadSignatureIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            try rewriteBundleHeader(of: s.bundle, to: s.scratch, signer: SiteKeys.generate())
            try Self.expectLoggedRefusal(
                s.scratch, at: s.area.la,
                Expected(
                    code: .badSignature, bundleID: s.header.bundleID, senderID: s.oakfield.identity.id,
                    senderName: "Oakfield Primary", saying: "signature does not match"))
        }
    }

    @Test func aSectionThatDoesNotOpenIsLogged() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            // Brook signs Oakfield's sealed bundle as its own: the section opens only as sealed by
            // Oakfield.
            try rewriteBundleHeader(of: s.bundle, to: s.scratch, signer: try s.brook.keys()) {
                $0.sender = s.brook.identity
            }
            try Self.expectLoggedRefusal(
                s.scratch, at: s.area.la,
                Expected(
                    code: .cannotDecrypt, bundleID: s.header.bundleID, senderID: s.brook.identity.id,
                    senderName: "Brook Lane School", saying: "sealed by the site it names as sender"))
        }
    }

    // MARK: A store that cannot be written

    @Test func aStoreThatCannotBeWrittenStillReportsTheRefusal() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let la = s.area.la
            let url = try s.write(Array(s.bytes.dropLast(3)))
            let rows = try la.importLogRows().count
            try la.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = ON") }
            let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: url) }
            #expect(error?.code == .damaged)
            try la.writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA query_only = OFF") }
            #expect(try la.importLogRows().count == rows)
        }
    }

    // MARK: Sync health

    @Test func refusalsFromAKnownSiteCountInItsSyncHealth() throws {
        try withTemporaryDirectory { dir in
            let s = try Setup(dir)
            let la = s.area.la
            var bytes = s.bytes
            bytes[bytes.count - 9] ^= 0x40
            #expect(throws: BundleError.self) { try la.apply(bundleAt: try s.write(bytes)) }
            // A file from nobody in particular: logged, counted against no site.
            #expect(throws: BundleError.self) { try la.apply(bundleAt: try s.write(Array(repeating: 0, count: 64))) }
            let health = try #require(try la.syncHealth().first { $0.site.id == s.oakfield.identity.id })
            #expect(health.refusedSinceLastApplied == 1)
            #expect(health.lastRefusal?.contains("payload checksum") == true)
            #expect(health.verdictText.hasPrefix("needs attention"))
            #expect(try la.syncHealth().allSatisfy { $0.refusedSinceLastApplied <= 1 })
            let log = try la.importLog(limit: 2)
            #expect(log.map(\.result) == ["refused: not-a-bundle", "refused: damaged"])
            #expect(log.first?.sender == nil)
            #expect(log.last?.sender == "Oakfield Primary")
            #expect(try la.status().lastImport?.result == "refused: not-a-bundle")
            // Applied again, intact: the count starts over.
            try la.apply(bundleAt: s.bundle)
            let again = try #require(try la.syncHealth().first { $0.site.id == s.oakfield.identity.id })
            #expect(again.refusedSinceLastApplied == 0)
        }
    }

    // MARK: Sites by name

    /// A refusal for a change stamped too far ahead names the site that made it, in the error
    /// and in the import log; its id appears in neither.
    @Test func aRefusalNamesTheSiteOfTheChange() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let ahead = TestClock(start: baseMilliseconds + 30 * 3_600_000)
            let school = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Oakfield Primary", kind: .maintainedSchool),
                la: area.la.publicIdentity, now: ahead.now)
            try area.la.addToDirectory(school.publicIdentity)
            try school.addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2016-04-01"),
                author: "SENCO")
            let url = dir.appendingPathComponent("ahead.bundle")
            try school.makeBundle(to: [area.la.identity.id], at: url)
            let id = school.identity.id
            let error = #expect(throws: BundleError.self) { try Store.verifyBundle(at: url, against: area.la) }
            #expect(
                error?.message.contains("Change 1 of Oakfield Primary is stamped") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains(id.short) == false)
            let row = try Self.expectLoggedRefusal(
                url, at: area.la,
                Expected(
                    code: .clockAhead, bundleID: try Store.inspectBundle(at: url).bundleID, senderID: id,
                    senderName: "Oakfield Primary", saying: "Change 1 of Oakfield Primary is stamped"))
            // The sender's id is in its own column; the reason names it.
            let detail = try #require(row?.text("detail"))
            #expect(!detail.contains(id.short), "\(detail)")
        }
    }

    /// A change kept but not merged is reported by its site's name, in the import log and in the
    /// report's description of it.
    @Test func aRejectedChangeIsReportedByItsSitesName() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Home", .maintainedSchool)
            try area.distributeDirectory()
            let target = try area["Home"].addPupil(
                NewPupil(upn: Self.upn, forename: Self.forename, surname: Self.surname, dateOfBirth: "2016-01-01"),
                author: "SENCO Home")
            try area.send("Home", "LA")
            let rogue = try ScopeEntitlementTests.rogueSchool(
                "Rogue Academy", .maintainedSchool, in: area, writingAbout: target)
            let bundle = dir.appendingPathComponent("bundles/rogue-to-la.bundle")
            try rogue.makeBundle(to: [area.la.identity.id], at: bundle)
            let report = try area.la.apply(bundleAt: bundle)
            #expect(report.rejected.count == 1)
            let detail = try #require(try area.la.importLog(limit: 1).first?.detail)
            #expect(detail.hasPrefix("change 1 of Rogue Academy:"), "\(detail)")
            #expect(!detail.contains(rogue.identity.id.short), "\(detail)")
        }
    }
}
