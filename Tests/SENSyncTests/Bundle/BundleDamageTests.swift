import Foundation
import GRDB
import Testing

@testable import SENSync

/// Truncated and altered bundle files are refused before anything is applied, and leave the
/// receiving store unchanged but for one row per refusal in its import log: every other table,
/// its digest and its version vector stay as they were.
struct BundleDamageTests {
    /// A school's bundle to an LA whose store is a file that already holds some of the school's
    /// changes, so a damaged bundle meets a non-empty store. `body` gets the LA, the intact bundle
    /// bytes, and a scratch path to write altered copies to.
    static func withDamageSetUp(_ body: (Store, [UInt8], URL) throws -> Void) throws {
        try withTemporaryDirectory { dir in
            let area = try TestArea(folder: dir, inMemory: false)
            let school = try area.add("School", .maintainedSchool)
            try area.send("LA", "School")
            let pupil = try school.addPupil(
                NewPupil(upn: syntheticUPN(7), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
                author: "SENCO")
            try area.send("School", "LA")
            try school.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            try school.addNote(pupil: pupil.description, text: "Short note", author: "SENCO")
            let url = try area.make("School", "LA")
            try body(area.la, [UInt8](try Data(contentsOf: url)), dir.appendingPathComponent("damaged.bundle"))
        }
    }

    /// What must not change when a damaged bundle is refused: everything but the import log.
    struct Fingerprint: Equatable {
        var tables: [String: [[DatabaseValue]]]
        var digest: Digest32
        var versionVector: VersionVector

        init(_ store: Store) throws {
            tables = try store.tableDump(excluding: ["import_log"])
            digest = try store.digest()
            versionVector = try store.versionVector()
        }
    }

    /// The results of the import-log rows after the first `count`, oldest first.
    static func refusals(at store: Store, after count: Int) throws -> [String] {
        try store.importLogRows().dropFirst(count).map { $0.text("result") ?? "" }
    }

    /// Where the parts of a bundle file are, for saying which part a flip hit.
    struct Regions {
        var headerEnd: Int
        var signature: Range<Int>
        var payloads: Range<Int>

        init(_ bytes: [UInt8]) {
            let headerLength = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            headerEnd = 20 + headerLength
            signature = (headerEnd + 34)..<(headerEnd + 34 + 64)
            payloads = signature.upperBound..<bytes.count
        }

        /// The refusal a flip at `offset` must give.
        func expected(_ offset: Int) -> [BundleError.Code] {
            switch offset {
            case 0..<8: [.notABundle]  // the magic's first bytes: not a bundle at all
            case 8..<12: [.damaged]  // its CR LF / EOF / LF: a text-mode copy
            // The format major is read before any checksum: a version within reach of this one
            // is a newer release's, one far beyond it a damaged field.
            case 12..<14: [.unsupportedVersion, .damaged]
            case signature: [.badSignature]
            default: [.damaged]  // minor, lengths, header, header checksum, payloads
            }
        }
    }

    @Test func checkpointingAnUnchangedStoreKeepsItsBytes() throws {
        // The control for the tests below: reading and checkpointing do not move the file.
        try Self.withDamageSetUp { la, _, _ in
            let before = try Fingerprint(la)
            let file = try la.checkpointedFileBytes()
            _ = try la.conflicts()
            _ = try la.status()
            #expect(try Fingerprint(la) == before)
            #expect(try la.checkpointedFileBytes() == file)
        }
    }

    /// One flipped bit in the format version (format 3 read as 259) is damage, refused as such:
    /// it said to install a release that reads format 259. The next format is still a newer
    /// release's.
    @Test func aVersionFarBeyondThisOneIsDamageNotANewerRelease() throws {
        try Self.withDamageSetUp { la, bytes, damaged in
            var flipped = bytes
            flipped[12] ^= 1
            try Data(flipped).write(to: damaged)
            let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
            #expect(error?.code == .damaged)
            var next = bytes
            next[13] = UInt8(BundleHeader.formatMajor + 1)
            try Data(next).write(to: damaged)
            let newer = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
            #expect(newer?.code == .unsupportedVersion)
        }
    }

    @Test func everyTruncationIsRefused() throws {
        try Self.withDamageSetUp { la, bytes, damaged in
            let before = try Fingerprint(la)
            let logged = try la.importLogRows().count
            var codes: [BundleError.Code: Int] = [:]
            for length in 0..<bytes.count {
                try Data(bytes.prefix(length)).write(to: damaged)
                do {
                    try la.apply(bundleAt: damaged)
                    Issue.record("a bundle cut to \(length) of \(bytes.count) bytes was applied")
                } catch let error as BundleError {
                    codes[error.code, default: 0] += 1
                    #expect([.damaged, .notABundle].contains(error.code), "length \(length): \(error.code)")
                }
                #expect(throws: BundleError.self, "inspect, length \(length)") { try Store.inspectBundle(at: damaged) }
                #expect(throws: BundleError.self, "verify, length \(length)") { try Store.verifyBundle(at: damaged) }
                #expect(throws: BundleError.self, "verify with the store, length \(length)") {
                    try Store.verifyBundle(at: damaged, against: la)
                }
            }
            #expect(try Fingerprint(la) == before)
            // Each attempt is recorded, with its own code.
            let refusals = try Self.refusals(at: la, after: logged)
            #expect(refusals.count == bytes.count)
            #expect(Set(refusals) == ["refused: damaged", "refused: not-a-bundle"])
            #expect(codes[.damaged, default: 0] > 0 && codes[.notABundle, default: 0] > 0)
            print(
                "[truncations] \(bytes.count) lengths, refusals by code: \(codes.sorted { $0.key.rawValue < $1.key.rawValue })"
            )
            // The intact bundle still applies afterwards.
            try Data(bytes).write(to: damaged)
            #expect(try la.apply(bundleAt: damaged).applied == 2)
        }
    }

    @Test func extraBytesAtTheEndAreRefused() throws {
        try Self.withDamageSetUp { la, bytes, damaged in
            let before = try Fingerprint(la)
            let logged = try la.importLogRows().count
            for extra in [[UInt8(0)], [0x0A], Array(repeating: 0xFF, count: 100)] {
                try Data(bytes + extra).write(to: damaged)
                let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
                #expect(error?.code == .damaged)
            }
            #expect(try Fingerprint(la) == before)
            #expect(try Self.refusals(at: la, after: logged) == Array(repeating: "refused: damaged", count: 3))
        }
    }

    /// Single-bit flips are refused: every bit of the first 20 bytes, and 600 seeded positions
    /// spread over the file. The refusal depends on where the flip is: the magic, the major
    /// version and the signature have their own; everything else (lengths, header, checksums,
    /// payloads) is damage. The seed is printed so a failure replays.
    @Test func bitFlipsAreRefused() throws {
        let seed: UInt64 = 0x5E45_F11B
        print("[bit flips] seed \(PropertySettings.hex(seed)), 160 + 600 flips")
        try Self.withDamageSetUp { la, bytes, damaged in
            var rng = SplitMix64(seed: seed)
            let regions = Regions(bytes)
            try Data(bytes).write(to: damaged)
            #expect(try BundleFile.readLayout(at: damaged).payloadOffset == UInt64(regions.payloads.lowerBound))
            var flips: [(offset: Int, bit: Int)] = (0..<20).flatMap { offset in (0..<8).map { (offset, $0) } }
            for _ in 0..<600 { flips.append((rng.below(bytes.count), rng.below(8))) }
            let before = try Fingerprint(la)
            let logged = try la.importLogRows().count
            var codes: [String: Int] = [:]
            for (offset, bit) in flips {
                var altered = bytes
                altered[offset] ^= UInt8(1) << UInt8(bit)
                try Data(altered).write(to: damaged)
                let at = "seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset) of \(bytes.count)"
                do {
                    try la.apply(bundleAt: damaged)
                    Issue.record("\(at) was applied")
                } catch let error as BundleError {
                    codes[error.code.rawValue, default: 0] += 1
                    #expect(
                        [.damaged, .notABundle, .badSignature, .unsupportedVersion].contains(error.code),
                        "\(at): \(error.code.rawValue)")
                    #expect(
                        regions.expected(offset).contains(error.code),
                        "\(at) gave \(error.code.rawValue): \(error.message)")
                    if regions.payloads.contains(offset) {
                        // The payload checksum is checked before anything in the payload is read.
                        #expect(error.message.contains("payload checksum"), "\(at): \(error.message)")
                    }
                } catch {
                    Issue.record("\(at) gave a non-bundle error \(error)")
                }
                let after = try Fingerprint(la)
                #expect(after == before, "\(at) changed the store")
                if after != before { return }
            }
            print("[bit flips] refusals by code: \(codes.sorted { $0.key < $1.key })")
            #expect(try Self.refusals(at: la, after: logged).count == flips.count, "each refusal is logged")
            #expect(Set(codes.keys) == ["damaged", "not-a-bundle", "bad-signature", "unsupported-version"])
        }
    }

    /// A payload of several sealed segments. Flips there used (before bundles were sealed) to
    /// reach the change decoder and the prerequisite checks first: the file was reported as
    /// "made by a newer SENSync" or as missing prerequisites naming sites and ranges that do not
    /// exist, and the latter was recorded in the import log. The payload checksum is checked before
    /// anything in it is opened or read, so every flip is reported — and logged — as damage, with
    /// or without a store.
    @Test func bitFlipsInALargePayloadAreReportedAsDamage() throws {
        let seed: UInt64 = 0x5E45_F11C
        print("[large payload bit flips] seed \(PropertySettings.hex(seed)), 100 flips")
        try withTemporaryDirectory { dir in
            var rng = SplitMix64(seed: seed)
            let area = try TestArea(folder: dir, inMemory: false)
            let school = try area.add("School", .maintainedSchool)
            try area.send("LA", "School")
            var pupils: [RecordID] = []
            for i in 0..<10 {
                pupils.append(
                    try school.addPupil(
                        NewPupil(upn: syntheticUPN(i), forename: "A", surname: "B", dateOfBirth: "2016-01-01"),
                        author: "SENCO"))
            }
            // Text that compresses poorly, so the sealed payload spans several 64 KiB segments.
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .")
            for i in 0..<500 {
                let text = String((0..<400).map { _ in alphabet[rng.below(alphabet.count)] })
                try school.addNote(pupil: pupils[i % 10].description, text: text, author: "SENCO")
            }
            let url = try area.make("School", "LA")
            let section = try #require(try Store.inspectBundle(at: url).sections.first)
            try #require(section.payloadLength > 2 * UInt64(PayloadSealing.Opener.sealedSegment))
            let bytes = [UInt8](try Data(contentsOf: url))
            let start = Int(try BundleFile.readLayout(at: url).payloadOffset)
            let damaged = dir.appendingPathComponent("damaged.bundle")
            let before = try Fingerprint(area.la)
            let logged = try area.la.importLogRows().count
            for _ in 0..<100 {
                var altered = bytes
                let offset = start + rng.below(Int(section.payloadLength))
                let bit = rng.below(8)
                altered[offset] ^= UInt8(1) << UInt8(bit)
                try Data(altered).write(to: damaged)
                let at = "seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset)"
                let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: damaged) }
                #expect(error?.code == .damaged, "\(at): \(error?.message ?? "")")
                #expect(error?.message.contains("payload checksum") == true, "\(at): \(error?.message ?? "")")
                let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: damaged) }
                #expect(verify?.code == .damaged)
            }
            #expect(try Fingerprint(area.la) == before)
            #expect(
                try Self.refusals(at: area.la, after: logged) == Array(repeating: "refused: damaged", count: 100))
            #expect(try area.la.apply(bundleAt: url).applied == 510)
        }
    }

    @Test func aTextModeCopyIsRecognised() throws {
        // A CR LF → LF conversion hits the magic's \r\n first.
        try Self.withDamageSetUp { la, bytes, damaged in
            let before = try Fingerprint(la)
            var altered = bytes
            altered.remove(at: 8)
            try Data(altered).write(to: damaged)
            let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
            #expect(error?.code == .damaged)
            #expect(error?.message.contains("copied as text") == true)
            #expect(try Fingerprint(la) == before)
        }
    }

    @Test func otherFilesAreNotBundles() throws {
        try withTemporaryDirectory { dir in
            for (name, content) in [
                ("empty", Data()), ("text", Data("hello, world\n".utf8)), ("zeros", Data(count: 4096)),
            ] {
                let url = dir.appendingPathComponent(name)
                try content.write(to: url)
                let error = #expect(throws: BundleError.self) { try Store.inspectBundle(at: url) }
                #expect(error?.code == .notABundle, "\(name)")
            }
            let missing = #expect(throws: BundleError.self) {
                try Store.inspectBundle(at: dir.appendingPathComponent("missing"))
            }
            // Not found (exit 3, as for any file not found), not a read error (exit 13).
            #expect(missing?.code == .notFound)
        }
    }
}
