import Foundation
import Testing

@testable import SENSync

/// Payload coding (format 3): what a sender codes against the payload's tables, a reader rebuilds
/// exactly — every change's canonical header bytes, so the leaf its origin signed — whatever the
/// order, and however the bytes arrive.
struct PayloadCodingTests {
    /// Random changes and holdings (sites, pupils, sequence numbers and HLCs in any order,
    /// dependencies on the change's own site before and after it, schools, redacted contents)
    /// read back as written.
    @Test(arguments: [UInt64(0xC0D1_0001), 0xC0D1_0002, 0xC0D1_0003])
    func changesAndHoldingsReadBackAsWritten(seed: UInt64) throws {
        print("payload coding seed \(String(seed, radix: 16))")
        var rng = SplitMix64(seed: seed)
        let sites = (0..<5).map { fixedID(UInt8(0x10 + $0), tail: UInt8($0)) }
        let pupils = (0..<12).map { _ in RecordID.v7(milliseconds: baseMilliseconds, using: &rng) }
        enum Entry: Equatable {
            case change(EncodedChange)
            case holdings(RecordID, VersionVector, passedOn: Bool)
        }
        var written: [Entry] = []
        var w = BinaryWriter()
        var writer = PayloadCodingState()
        for _ in 0..<400 {
            if rng.chance(20) {
                var held = VersionVector()
                for site in sites where rng.chance(40) { held[site] = UInt64(rng.int(1...5000)) }
                let pupil = rng.pick(pupils)!
                let passedOn = rng.chance(10)
                writer.writeHoldings(pupil: pupil, held, passedOn: passedOn, into: &w)
                written.append(.holdings(pupil, held, passedOn: passedOn))
                continue
            }
            let site = rng.pick(sites)!
            let seq = rng.chance(5) ? BinaryReader.maxSequence : UInt64(rng.int(1...100_000))
            var deps = VersionVector()
            for other in sites where rng.chance(30) {
                deps[other] =
                    other == site && rng.chance(80) ? max(1, seq &- UInt64(rng.int(0...40))) : UInt64(rng.int(1...9000))
            }
            let schools = sites.filter { _ in rng.chance(10) }.sorted()
            let header = ChangeHeader(
                hlc: HLC(rawValue: rng.chance(5) ? UInt64.max >> UInt64(rng.int(0...3)) : rng.next() >> 20),
                scope: rng.pick(pupils)!, directoryVersion: UInt64(rng.int(0...30)), deps: deps, schools: schools)
            let content = (0..<rng.int(0...80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var change = EncodedChange(site: site, seq: seq, header: header.encoded(), content: content)
            if rng.chance(15) { change = change.redacted() }
            #expect(writer.writeChange(change, header: header, checkpoint: 0, path: nil, into: &w))
            written.append(.change(change))
        }

        var r = BinaryReader(w.bytes)
        var reader = PayloadCodingState()
        var read: [Entry] = []
        while !r.isAtEnd {
            switch PayloadEntry.Kind(rawValue: try r.readVarint()) {
            case .change:
                #expect(try r.readVarint() == 0)
                // A payload takes the change's site from its checkpoint; here, from what was written.
                guard case .change(let expected) = written[read.count] else {
                    Issue.record("a change where holdings were written")
                    return
                }
                let seq = try reader.readSeq(of: expected.site, from: &r)
                read.append(.change(try reader.readChangeAndHeader(site: expected.site, seq: seq, from: &r).change))
            case .holdings:
                let pupil = try reader.readPupil(from: &r)
                let held = try reader.readVector(from: &r)
                read.append(.holdings(pupil, held, passedOn: try r.readUInt8() == 1))
            default:
                Issue.record("unexpected entry kind")
                return
            }
        }
        #expect(read.count == written.count)
        for (a, b) in zip(read, written) { #expect(a == b) }
    }

    /// A stored header that is not in canonical form could not be rebuilt by any reader, so it is
    /// not written (it would spoil the whole bundle at its recipient).
    @Test func aHeaderNotInCanonicalFormIsNotWritten() throws {
        let header = ChangeHeader(
            hlc: hlc(5), scope: fixedID(0x20), directoryVersion: 1, deps: VersionVector([fixedID(0x10): 3]),
            schools: [])
        var bytes = header.encoded()
        bytes += [0]  // a trailing byte: decodes nowhere, and is not what a reader would rebuild
        let change = EncodedChange(site: fixedID(0x10), seq: 4, header: bytes, content: [1, 2, 3])
        var w = BinaryWriter()
        var coding = PayloadCodingState()
        #expect(!coding.writeChange(change, header: header, checkpoint: 0, path: nil, into: &w))
        #expect(w.bytes.isEmpty)
    }

    /// The golden fixture's payload read a byte at a time gives the same entries as read whole:
    /// an entry cut short by the end of what has arrived leaves the tables as they were.
    @Test func aPayloadFedAByteAtATimeReadsAsAWhole() throws {
        let url = try #require(
            Bundle.module.url(forResource: GoldenBundleTests.name, withExtension: "bundle", subdirectory: "Fixtures"))
        let store = try GoldenFixture.recipientStore(GoldenFixture.trust)
        let plain = try store.plainPayload(ofBundleAt: url)
        let section = try #require(
            try Store.inspectBundle(at: url).sections.first { $0.recipient == GoldenFixture.trust.id })
        var keys: [SiteID: PublicKeys] = [:]
        for site in [GoldenFixture.la, GoldenFixture.trust, GoldenFixture.academy, GoldenFixture.school] {
            keys[site.id] = try GoldenFixture.publicIdentity(site).keys
        }
        func entries(chunk: Int) throws -> [String] {
            var parser = PayloadParser(section: section, originKeys: keys)
            var seen: [String] = []
            var offset = 0
            while offset < plain.count {
                let end = min(plain.count, offset + chunk)
                try parser.feed(Array(plain[offset..<end])) { entry in seen.append(String(describing: entry)) }
                offset = end
            }
            try parser.finish()
            return seen
        }
        let whole = try entries(chunk: plain.count)
        #expect(whole.count == Int(section.checkpointCount + section.changeCount + section.holdingsCount))
        #expect(try entries(chunk: 1) == whole)
        #expect(try entries(chunk: 7) == whole)
    }
}
