import Foundation
import GRDB
import Testing

@testable import SENSync

/// Acceptance: a bundle addressed to school A cannot be applied at school B; one byte changed
/// anywhere in a bundle is refused; a bundle from a site outside the directory is refused; in each
/// case the store is unchanged but for the refusal's row in its import log, and the message says
/// what happened.
struct ScopeRefusalTests {
    static let forename = "Marigold"
    static let surname = "Pennywhistle-Adeyemi"
    static let upn = syntheticUPN(4412)
    static let noteText = "Refusal-test note: anxious at transitions (marker PX3RD)"
    static var personal: [String] { [forename, surname, upn, noteText] }

    /// What must not change when a bundle is refused: everything but the import log.
    struct Snapshot: Equatable {
        var digest: Digest32
        var versionVector: VersionVector
        var directoryVersion: UInt64?
        var pupils: Set<RecordID>
        var tables: [String: [[DatabaseValue]]]

        init(_ store: Store) throws {
            digest = try store.digest()
            versionVector = try store.versionVector()
            directoryVersion = try store.directory()?.version
            pupils = Set(try store.pupils().map(\.id))
            tables = try store.tableDump(excluding: ["import_log"])
        }
    }

    /// Applies `url` at `store`, expecting a refusal with `code`; checks the store is unchanged but
    /// for one refusal row in its import log, and that neither the message nor the row holds
    /// personal data. Returns the error.
    @discardableResult
    static func expectRefusal(
        _ url: URL, at store: Store, _ code: BundleError.Code, saying phrase: String? = nil,
        saysNothingApplied: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> BundleError? {
        let before = try Snapshot(store)
        let logged = try store.importLogRows().count
        var refusal: BundleError?
        do {
            let report = try store.apply(bundleAt: url)
            Issue.record(
                "applied (\(report.result.rawValue), \(report.applied) changes) instead of being refused",
                sourceLocation: sourceLocation)
        } catch let error as BundleError {
            refusal = error
            #expect(error.code == code, "\(error.code.rawValue): \(error.message)", sourceLocation: sourceLocation)
            if let phrase {
                #expect(error.message.contains(phrase), "\(error.message)", sourceLocation: sourceLocation)
            }
            if saysNothingApplied {
                #expect(
                    "\(error.message) \(error.hint)".contains("Nothing was applied"), sourceLocation: sourceLocation)
            }
            expectNoPersonalData(in: error, sourceLocation: sourceLocation)
        }
        #expect(try Snapshot(store) == before, "the store changed", sourceLocation: sourceLocation)
        let rows = try store.importLogRows().dropFirst(logged)
        #expect(rows.map { $0.text("result") } == ["refused: \(code.rawValue)"], sourceLocation: sourceLocation)
        for row in rows {
            for needle in personal {
                #expect(!"\(row)".contains(needle), "the import log names \(needle)", sourceLocation: sourceLocation)
            }
        }
        return refusal
    }

    static func expectNoPersonalData(in error: BundleError, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = "\(error.message) \(error.hint) \(error.description)"
        for needle in personal {
            #expect(!text.contains(needle), "the message names \(needle)", sourceLocation: sourceLocation)
        }
    }

    /// An LA and two maintained schools that have heard from the LA; school A has a pupil with
    /// personal data the LA holds.
    static func makeArea(_ dir: URL, fileBased: Bool = false) throws -> (area: ScopeArea, pupil: RecordID) {
        let area = try ScopeArea(folder: dir, fileBased: fileBased)
        try area.add("A", .maintainedSchool)
        try area.add("B", .maintainedSchool)
        try area.distributeDirectory()
        let pupil = try area["A"].addPupil(
            NewPupil(upn: upn, forename: forename, surname: surname, dateOfBirth: "2016-02-29"), author: "SENCO A")
        try area.send("A", "LA")
        try area.send("LA", "A")
        return (area, pupil)
    }

    // MARK: One byte changed anywhere

    /// The regions of a bundle file, from its own length fields.
    struct Regions {
        var headerEnd: Int
        var digestEnd: Int
        var signatureLengthEnd: Int
        var signatureEnd: Int
        var fileLength: Int

        init(_ bytes: Data) {
            let b = [UInt8](bytes)
            let headerLength = Int(b[16]) << 24 | Int(b[17]) << 16 | Int(b[18]) << 8 | Int(b[19])
            headerEnd = 20 + headerLength
            digestEnd = headerEnd + 32
            signatureLengthEnd = digestEnd + 2
            signatureEnd = signatureLengthEnd + (Int(b[digestEnd]) << 8 | Int(b[digestEnd + 1]))
            fileLength = b.count
        }

        /// The code a reader must refuse a flip at `position` with.
        func expectedCode(at position: Int) -> BundleError.Code {
            switch position {
            case 0..<8: .notABundle  // not even the start of a bundle
            case 8..<12: .damaged  // the text-mode-transfer bytes
            case 12: .damaged  // the major's high byte: a version no release will have
            case 13: .unsupportedVersion  // the low byte: another release's major version
            case 14..<signatureLengthEnd: .damaged  // minor, lengths, header, digest: the header checksum
            case signatureLengthEnd..<signatureEnd: .badSignature
            default: .damaged  // the sealed payload: its checksum
            }
        }
    }

    @Test func everySingleByteChangeIsRefusedAndChangesNothing() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.makeArea(dir)
            try area["A"].addNote(pupil: pupil.description, text: Self.noteText, author: "SENCO A")
            let url = try area.make("A", "LA")
            let original = try Data(contentsOf: url)
            let regions = Regions(original)
            #expect(regions.signatureEnd - regions.signatureLengthEnd == 64)
            #expect(regions.fileLength > regions.signatureEnd, "the bundle has a payload")
            print("[scope refusals] flipping each of \(original.count) bytes (header \(regions.headerEnd - 20) bytes)")
            let la = area.la
            let before = try Snapshot(la)
            let imports = try la.importLogCount()
            let tampered = dir.appendingPathComponent("tampered.bundle")
            var wrongCodes: [String] = []
            var accepted: [Int] = []
            for position in 0..<original.count {
                var bytes = original
                bytes[position] ^= 0x01
                try bytes.write(to: tampered)
                do {
                    _ = try la.apply(bundleAt: tampered)
                    accepted.append(position)
                } catch let error as BundleError {
                    if error.code != regions.expectedCode(at: position) {
                        wrongCodes.append("\(position): \(error.code.rawValue) (\(error.message))")
                    }
                    Self.expectNoPersonalData(in: error)
                } catch {
                    Issue.record("byte \(position): not a BundleError: \(error)")
                }
                #expect(try la.importLogCount() == imports + position + 1, "byte \(position) was not logged")
                #expect(try la.versionVector() == before.versionVector, "byte \(position) moved a chain")
                if position % 16 == 0 {
                    #expect(try la.digest() == before.digest, "byte \(position) changed the records")
                }
            }
            #expect(accepted.isEmpty, "bytes whose change was accepted: \(accepted)")
            #expect(
                wrongCodes.isEmpty,
                "\(wrongCodes.count) positions refused with an unexpected code: \(wrongCodes.prefix(10))")
            #expect(try Snapshot(la) == before)
            // The file as sent still applies.
            let report = try la.apply(bundleAt: url)
            #expect(report.applied == 1)
            #expect(try la.notes(of: pupil.description).map(\.text) == [Self.noteText])
        }
    }

    /// A file store changed by tampered bundles only in its import log: one row for each, holding
    /// no personal data; every other table as it was.
    @Test func aFileStoreIsUnchangedButForItsImportLogByTamperedBundles() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.makeArea(dir, fileBased: true)
            try area["A"].addNote(pupil: pupil.description, text: Self.noteText, author: "SENCO A")
            let url = try area.make("A", "LA")
            let original = try Data(contentsOf: url)
            let regions = Regions(original)
            let la = area.la
            let before = try la.tableDump(excluding: ["import_log"])
            let logged = try la.importLogRows().count
            // Every byte of the preamble and the signature's neighbourhood, then a stride through
            // the header and payload, and the last bytes.
            var positions = Set(0..<24)
            positions.formUnion(regions.headerEnd - 2..<regions.signatureLengthEnd + 2)
            positions.formUnion(stride(from: 24, to: original.count, by: 29))
            positions.formUnion(original.count - 8..<original.count)
            let tampered = dir.appendingPathComponent("bundles/tampered.bundle")
            for position in positions.sorted() {
                var bytes = original
                bytes[position] ^= 0x01
                try bytes.write(to: tampered)
                #expect(throws: BundleError.self, "byte \(position)") { try la.apply(bundleAt: tampered) }
                #expect(
                    try la.tableDump(excluding: ["import_log"]) == before, "byte \(position) changed a table")
            }
            let rows = try la.importLogRows().dropFirst(logged)
            #expect(rows.count == positions.count)
            #expect(rows.allSatisfy { $0.text("result")?.hasPrefix("refused: ") == true })
            for row in rows {
                for needle in Self.personal { #expect(!"\(row)".contains(needle), "the import log names \(needle)") }
            }
            try la.apply(bundleAt: url)
            #expect(try la.tableDump(excluding: ["import_log"]) != before)
        }
    }

    // MARK: Addressed elsewhere

    @Test func aBundleAddressedToOneSchoolCannotBeAppliedAtAnother() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.makeArea(dir)
            try area.la.addNote(pupil: pupil.description, text: Self.noteText, author: "LA officer")
            let forA = try area.make("LA", "A")
            let wrong = try Self.expectRefusal(
                forA, at: area["B"], .notAddressedToThisSite, saying: "addressed to other sites")
            // Whom it is for, and where to apply it (it sent the admin to the sender, who did
            // nothing wrong).
            #expect(wrong?.hint.contains("It is for A: apply it at that site's store") == true, "\(wrong?.hint ?? "")")
            // A school's bundle to the LA, taken to the other school.
            let forLA = try area.make("A", "LA")
            try Self.expectRefusal(forLA, at: area["B"], .notAddressedToThisSite, saying: "addressed to other sites")
            // A site's own bundle, applied at home.
            try Self.expectRefusal(
                forLA, at: area["A"], .notAddressedToThisSite, saying: "made by this site", saysNothingApplied: false)
            // The right recipients apply them.
            #expect(try area["A"].apply(bundleAt: forA).applied == 1)
            #expect(try area.la.apply(bundleAt: forLA).result == .applied)
            #expect(try area["B"].pupils().isEmpty)
        }
    }

    // MARK: Senders outside the directory

    @Test func aBundleFromAnotherLAsAreaIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.makeArea(dir.appendingPathComponent("ours"))
            let other = try ScopeArea(folder: dir.appendingPathComponent("theirs"), seed: 0x07E4)
            try other.add("X", .maintainedSchool)
            try other.distributeDirectory()
            try other["X"].addPupil(
                NewPupil(upn: syntheticUPN(4413), forename: "Other", surname: "Area", dateOfBirth: "2016-01-01"),
                author: "SENCO X")
            try other.send("X", "LA")
            // A school of the other area, and the other LA (which is not the LA these sites pinned).
            let fromX = try other.make("X", "LA")
            #expect(try Store.inspectBundle(at: fromX).directory.isEmpty)
            let fromOtherLA = try other.make("LA", "X")
            #expect(try Store.inspectBundle(at: fromOtherLA).directory.isEmpty)
            for name in ["LA", "A"] {
                try Self.expectRefusal(
                    fromX, at: area[name], .unknownSender, saying: "not in this site's area directory")
                // Which site it claims to be, by id (never by the name it gives, which nothing
                // vouches for), and where to see more.
                let refusal = try Self.expectRefusal(fromX, at: area[name], .unknownSender)
                #expect(
                    refusal?.hint.contains("It gives site id \(other["X"].identity.id); `sensync bundle inspect`")
                        == true,
                    "\(refusal?.hint ?? "")")
                try Self.expectRefusal(
                    fromOtherLA, at: area[name], .unknownSender, saying: "not in this site's area directory")
            }
        }
    }

    @Test func aSiteRemovedFromTheDirectoryIsRefusedButItsPastChangesStillCount() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.makeArea(dir)
            let b = area["B"]
            let bPupil = try b.addPupil(
                NewPupil(upn: syntheticUPN(4414), forename: "Closing", surname: "School", dateOfBirth: "2016-03-01"),
                author: "SENCO B")
            try b.addNote(pupil: bPupil.description, text: "B: history that must survive", author: "SENCO B")
            try area.send("B", "LA")
            let late = try area.make("B", "LA")
            let toA = try area.make("B", "A")
            try area.la.removeFromDirectory(area.id("B"))

            try Self.expectRefusal(late, at: area.la, .unknownSender, saying: "removed")
            // Nothing is sealed to a removed site.
            #expect(throws: StoreError.self) {
                try area.la.makeBundle(to: [area.id("B")], at: dir.appendingPathComponent("to-b.bundle"))
            }
            // School A hears of the removal from the LA, then refuses B too.
            let news = try area.send("LA", "A")
            #expect(news.directoryUpdatedTo != nil)
            try Self.expectRefusal(toA, at: area["A"], .unknownSender, saying: "removed")
            // B's changes from before, relayed by the LA with a pupil who moves to A, still apply.
            try area.la.transferPupil(bPupil.description, to: area.id("A"), on: ScopeArea.today, author: "LA officer")
            let moved = try area.send("LA", "A")
            #expect(moved.rejected.isEmpty, "\(moved.rejected)")
            #expect(try area["A"].notes(of: bPupil.description).map(\.text) == ["B: history that must survive"])
            #expect(try Set(area["A"].pupils().map(\.id)) == [pupil, bPupil])
        }
    }

    /// `directory pin` refuses an LA whose code is not the site's own, as `init --la-identity`
    /// does: pinned, that LA refused to list the site ("gives another LA's code") and the pin
    /// could not be changed, so the store was stuck.
    @Test func anLAWhoseCodeIsNotTheSitesIsNotPinned() throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir)
            let other = try Store.inMemory(
                identity: SiteIdentity(
                    id: .v7(), name: "Elm School", kind: .maintainedSchool, urn: "100222", laCode: "888"),
                now: area.clock.now)
            let error = #expect(throws: StoreError.self) { try other.pinLA(area.la.publicIdentity) }
            #expect(error?.code == .invalidInput)
            #expect(error?.message.contains("LA code 888") == true, "\(error?.message ?? "")")
            #expect(try other.pinnedLA() == nil)
            let same = try Store.inMemory(
                identity: SiteIdentity(
                    id: .v7(), name: "Oak School", kind: .maintainedSchool, urn: "100223", laCode: "999"),
                now: area.clock.now)
            try same.pinLA(area.la.publicIdentity)
            #expect(try same.pinnedLA() == area.la.publicIdentity)
        }
    }

    @Test func aDirectoryNotSignedByThePinnedLAIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.makeArea(dir)
            let a = area["A"]
            let pinned = try #require(try a.directory())
            // An impostor claims the LA's site id with keys of its own and signs a newer directory.
            let impostor = try Store.inMemory(
                identity: SiteIdentity(id: area.la.identity.id, name: "LA", kind: .la, laCode: "999"),
                now: area.clock.now)
            // Each new version lists one more site (adding one already listed changes nothing).
            try impostor.addToDirectory(a.publicIdentity)
            var filler = 0
            while try impostor.directory()!.version <= pinned.version {
                filler += 1
                let site = try Store.inMemory(
                    identity: SiteIdentity(
                        id: .v7(milliseconds: area.clock.now()), name: "Filler \(filler)", kind: .academy),
                    now: area.clock.now)
                try impostor.addToDirectory(site.publicIdentity)
            }
            let forged = dir.appendingPathComponent("bundles/forged.bundle")
            try impostor.makeBundle(to: [a.identity.id], at: forged)
            #expect(try !Store.inspectBundle(at: forged).directory.isEmpty)
            try Self.expectRefusal(
                forged, at: a, .badSignature, saying: "directory in this bundle is not signed by your LA")
            #expect(try a.directory() == pinned)
            // Without a newer directory the impostor's own signature is what fails.
            let quiet = try Store.inMemory(
                identity: SiteIdentity(id: area.la.identity.id, name: "LA", kind: .la, laCode: "999"),
                now: area.clock.now)
            try quiet.addToDirectory(a.publicIdentity)
            #expect(try quiet.directory()!.version <= pinned.version)
            let unsigned = dir.appendingPathComponent("bundles/unsigned.bundle")
            try quiet.makeBundle(to: [a.identity.id], at: unsigned)
            try Self.expectRefusal(unsigned, at: a, .badSignature, saying: "signature does not match")
            // The genuine LA is still accepted.
            #expect(try area.send("LA", "A").result == .applied)
        }
    }
}
