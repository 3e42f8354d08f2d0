import Foundation
import Testing

@testable import SENSync

/// Truncated and altered bundle files are refused before anything is applied, and leave the
/// receiving store byte-for-byte unchanged.
struct BundleDamageTests {
    /// A school bundle to an LA whose store is a file that already holds some of the school's
    /// changes, so a damaged bundle meets a non-empty store. `body` gets the LA, the intact bundle
    /// bytes, and a scratch path to write altered copies to.
    static func withDamageSetUp(_ body: (Store, [UInt8], URL) throws -> Void) throws {
        try withTemporaryDirectory { dir in
            let clock = TestClock()
            let school = try Store.inMemory(identity: BundleExchangeTests.schoolSite, now: clock.now)
            let la = try Store.create(at: dir.appendingPathComponent("la.sensync").path, identity: BundleExchangeTests.laSite, now: clock.now)
            let pupil = try school.addPupil(NewPupil(upn: syntheticUPN(7), forename: "Ada", surname: "Test", dateOfBirth: "2016-04-01"), author: "SENCO")
            let first = dir.appendingPathComponent("first.bundle")
            try school.makeBundle(to: [la.identity.id], at: first)
            try la.apply(bundleAt: first)
            try school.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
            try school.addNote(pupil: pupil.description, text: "Short note", author: "SENCO")
            let url = dir.appendingPathComponent("second.bundle")
            try school.makeBundle(to: [la.identity.id], at: url)
            try body(la, [UInt8](try Data(contentsOf: url)), dir.appendingPathComponent("damaged.bundle"))
        }
    }

    /// What must not change when a damaged bundle is refused.
    struct Fingerprint: Equatable {
        var file: Data
        var digest: Digest32
        var versionVector: VersionVector
        var imports: Int

        init(_ store: Store) throws {
            file = try store.checkpointedFileBytes()
            digest = try store.digest()
            versionVector = try store.versionVector()
            imports = try store.status().imports
        }
    }

    @Test func checkpointingAnUnchangedStoreKeepsItsBytes() throws {
        // The control for the tests below: reading and checkpointing do not move the file.
        try Self.withDamageSetUp { la, _, _ in
            let before = try Fingerprint(la)
            _ = try la.conflicts()
            #expect(try Fingerprint(la) == before)
        }
    }

    @Test func everyTruncationIsRefused() throws {
        try Self.withDamageSetUp { la, bytes, damaged in
            let before = try Fingerprint(la)
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
            }
            #expect(try Fingerprint(la) == before)
            #expect(codes[.damaged, default: 0] > 0 && codes[.notABundle, default: 0] > 0)
            // The intact bundle still applies afterwards.
            try Data(bytes).write(to: damaged)
            #expect(try la.apply(bundleAt: damaged).applied == 2)
        }
    }

    @Test func extraBytesAtTheEndAreRefused() throws {
        try Self.withDamageSetUp { la, bytes, damaged in
            let before = try Fingerprint(la)
            for extra in [[UInt8(0)], [0x0A], Array(repeating: 0xFF, count: 100)] {
                try Data(bytes + extra).write(to: damaged)
                let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
                #expect(error?.code == .damaged)
            }
            #expect(try Fingerprint(la) == before)
        }
    }

    /// Every single-bit flip is refused, checked at 600 seeded positions spread over the file
    /// (and every bit of the first 20 bytes). The seed is printed so a failure replays.
    @Test func bitFlipsAreRefused() throws {
        let seed: UInt64 = 0x5E45_F11B
        print("[bit flips] seed \(PropertySettings.hex(seed)), 600 flips")
        try Self.withDamageSetUp { la, bytes, damaged in
            var rng = SplitMix64(seed: seed)
            var flips: [(offset: Int, bit: Int)] = (0..<20).flatMap { offset in (0..<8).map { (offset, $0) } }
            for _ in 0..<600 { flips.append((rng.below(bytes.count), rng.below(8))) }
            let before = try Fingerprint(la)
            var codes: [String: Int] = [:]
            for (offset, bit) in flips {
                var altered = bytes
                altered[offset] ^= UInt8(1) << UInt8(bit)
                try Data(altered).write(to: damaged)
                do {
                    try la.apply(bundleAt: damaged)
                    Issue.record("seed \(PropertySettings.hex(seed)): a bundle with bit \(bit) of byte \(offset) flipped was applied")
                } catch let error as BundleError {
                    codes[error.code.rawValue, default: 0] += 1
                    // The format major version (bytes 12–13) is read before any checksum.
                    let allowed: [BundleError.Code] = (12..<14).contains(offset) ? [.unsupportedVersion, .damaged] : [.damaged, .notABundle]
                    #expect(
                        allowed.contains(error.code),
                        "seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset) of \(bytes.count) gave \(error.code.rawValue): \(error.message)")
                } catch {
                    Issue.record("seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset) gave a non-bundle error \(error)")
                }
                let after = try Fingerprint(la)
                #expect(after == before, "seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset) changed the store")
                if after != before { return }
            }
            print("[bit flips] refusals by code: \(codes.sorted { $0.key < $1.key })")
        }
    }

    /// A payload larger than the inflater's 64 KiB output window is handed out in pieces before
    /// zlib's own check at its end. Flips there used to reach the change decoder and the
    /// prerequisite checks first: the file was reported as "made by a newer SENSync" or as
    /// missing prerequisites (naming sites and ranges that do not exist), and the latter was
    /// recorded in the import log. The payload checksum is now checked before any change is read.
    @Test func bitFlipsInALargePayloadAreReportedAsDamage() throws {
        let seed: UInt64 = 0x5E45_F11C
        print("[large payload bit flips] seed \(PropertySettings.hex(seed)), 100 flips")
        try withTemporaryDirectory { dir in
            let clock = TestClock()
            var rng = SplitMix64(seed: seed)
            let school = try Store.inMemory(identity: BundleExchangeTests.schoolSite, now: clock.now)
            let la = try Store.create(at: dir.appendingPathComponent("la.sensync").path, identity: BundleExchangeTests.laSite, now: clock.now)
            var pupils: [RecordID] = []
            for i in 0..<10 {
                pupils.append(try school.addPupil(NewPupil(upn: syntheticUPN(i), forename: "A", surname: "B", dateOfBirth: "2016-01-01"), author: "SENCO"))
            }
            for i in 0..<300 {
                let text = String((0..<200).map { _ in Character(UnicodeScalar(UInt8(97 + rng.below(26)))) })
                try school.updatePupil(pupils[i % 10].description, PupilUpdate(yearGroup: i % 7), author: "SENCO")
                try school.addNote(pupil: pupils[i % 10].description, text: text, author: "SENCO")
            }
            let url = dir.appendingPathComponent("large.bundle")
            let summary = try school.makeBundle(to: [la.identity.id], at: url)
            try #require(summary.header.plainLength > 2 * 64 * 1024)
            let bytes = [UInt8](try Data(contentsOf: url))
            let start = Int(try BundleFile.readLayout(at: url).payloadOffset)
            let damaged = dir.appendingPathComponent("damaged.bundle")
            let before = try Fingerprint(la)
            for _ in 0..<100 {
                var altered = bytes
                let offset = start + rng.below(Int(summary.header.payloadLength) / 2)
                let bit = rng.below(8)
                altered[offset] ^= UInt8(1) << UInt8(bit)
                try Data(altered).write(to: damaged)
                let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
                #expect(error?.code == .damaged, "seed \(PropertySettings.hex(seed)): bit \(bit) of byte \(offset): \(error?.message ?? "")")
                let verify = #expect(throws: BundleError.self) { try Store.verifyBundle(at: damaged) }
                #expect(verify?.code == .damaged)
            }
            #expect(try Fingerprint(la) == before)
            #expect(try la.apply(bundleAt: url).applied == 610)
        }
    }

    @Test func aTextModeCopyIsRecognised() throws {
        // A CR LF → LF conversion hits the magic's \r\n first.
        try Self.withDamageSetUp { la, bytes, damaged in
            var altered = bytes
            altered.remove(at: 8)
            try Data(altered).write(to: damaged)
            let error = #expect(throws: BundleError.self) { try la.apply(bundleAt: damaged) }
            #expect(error?.code == .damaged)
            #expect(error?.message.contains("copied as text") == true)
        }
    }

    @Test func otherFilesAreNotBundles() throws {
        try withTemporaryDirectory { dir in
            for (name, content) in [("empty", Data()), ("text", Data("hello, world\n".utf8)), ("zeros", Data(count: 4096))] {
                let url = dir.appendingPathComponent(name)
                try content.write(to: url)
                let error = #expect(throws: BundleError.self) { try Store.inspectBundle(at: url) }
                #expect(error?.code == .notABundle, "\(name)")
            }
            let missing = #expect(throws: BundleError.self) { try Store.inspectBundle(at: dir.appendingPathComponent("missing")) }
            #expect(missing?.code == .io)
        }
    }
}
