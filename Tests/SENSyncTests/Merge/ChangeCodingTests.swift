import Testing

@testable import SENSync

struct ChangeCodingTests {
    static let siteA = fixedID(0x0A)
    static let siteB = fixedID(0x0B)
    static let siteC = fixedID(0x0C)
    static let pupil = fixedID(0x50, tail: 1)

    static func sampleChange(author: String = "SENCO") -> Change {
        Change(
            site: siteB, seq: 7, hlc: hlc(90, 3), author: author, scope: pupil,
            deps: VersionVector([siteC: 2, siteA: 300, siteB: 6]), directoryVersion: 4,
            ops: [
                RecordOp(
                    table: "pupil", id: pupil,
                    writes: [
                        FieldWrite("forename", .text("Zoë")), FieldWrite("surname", .text("O’Brien-Łukasz 测试 📚")),
                        FieldWrite("year_group", .integer(-2)), FieldWrite("sen_needs", .null),
                    ]),
                RecordOp(
                    table: "provision_item", id: fixedID(0x60, tail: 2),
                    writes: [
                        FieldWrite("cost_pence", .integer(Int64.min)), FieldWrite("frequency", .text("")),
                        FieldWrite("description", .text("e\u{301} combining, tab\t, newline\n")),
                    ]),
                // A table and a field a later release added: kept by number.
                RecordOp(table: "#99", id: fixedID(0x61), writes: [FieldWrite("#3", .integer(Int64.max))]),
                RecordOp(
                    table: "enrolment", id: fixedID(0x63),
                    writes: [FieldWrite("school_id", .text(siteA.description)), FieldWrite("#40", .text("later"))]),
                RecordOp(
                    table: "note", id: fixedID(0x62),
                    writes: [FieldWrite("text", .text(String(repeating: "long ", count: 400)))]),
            ])
    }

    @Test func roundTripsThroughHeaderAndContent() throws {
        let change = Self.sampleChange(author: "Mx Ünïcode ✓")
        let encoded = try change.encoded()
        #expect(try encoded.decoded() == change)
        #expect(try encoded.decodedHeader() == change.header)
        #expect(change.header.schools == [Self.siteA])
        #expect(try change.encoded() == encoded)
    }

    @Test(arguments: [Int64.min, -1_000_000_000_000, -65, -64, -1, 0, 1, 63, 64, 1_000_000, Int64.max])
    func integersRoundTrip(_ n: Int64) throws {
        var change = Self.sampleChange()
        change.ops = [RecordOp(table: "pupil", id: Self.pupil, writes: [FieldWrite("year_group", .integer(n))])]
        #expect(try change.encoded().decoded() == change)
    }

    @Test func tablesAndFieldsTravelByNumber() throws {
        var change = Self.sampleChange()
        change.ops = [RecordOp(table: "pupil", id: Self.pupil, writes: [FieldWrite("forename", .text("A"))])]
        let content = try change.encodedContent()
        // author, op count, table 1 (pupil), id, one write, field 2 (forename), text "A".
        let author = Array("SENCO".utf8)
        #expect(content == [UInt8(author.count)] + author + [1, 1] + Self.pupil.bytes + [1, 2, 2, 1, 0x41])
        var unknown = change
        unknown.ops[0].table = "no_such_table"
        #expect(throws: ChangeEncodingError.self) { try unknown.encoded() }
    }

    /// The cheap test a bundle's first pass makes for erasures agrees with decoding, whatever
    /// comes before the table (long text, a later release's table, every value kind).
    @Test func contentWritesSeesEveryTableWithoutDecoding() throws {
        let encoded = try Self.sampleChange().encoded()
        for table in ["pupil", "provision_item", "#99", "enrolment", "note"] {
            #expect(encoded.contentWrites(table: table), "\(table)")
        }
        #expect(!encoded.contentWrites(table: RecordSchema.erasure.name))
        #expect(!encoded.contentWrites(table: "support_plan"))
        var erasing = Self.sampleChange()
        erasing.ops.append(RecordOp(table: RecordSchema.erasure.name, id: fixedID(0x64), writes: []))
        let erasure = try erasing.encoded()
        #expect(erasure.contentWrites(table: RecordSchema.erasure.name))
        #expect(try erasure.decoded().erasesItsPupil)
        // Without content (redacted), or content cut short before the table: no.
        #expect(!erasure.redacted().contentWrites(table: RecordSchema.erasure.name))
        let cut = EncodedChange(
            site: erasure.site, seq: erasure.seq, header: erasure.header, content: Array(erasure.content!.dropLast(18)))
        #expect(!cut.contentWrites(table: RecordSchema.erasure.name))
    }

    @Test func contentLeavesOutSiteAndSequence() throws {
        var moved = Self.sampleChange()
        moved.site = Self.siteC
        moved.seq = 99
        let a = try moved.encoded()
        let b = try Self.sampleChange().encoded()
        #expect(a.header == b.header && a.content == b.content)
        #expect(a.leaf != b.leaf)
        let decoded = try EncodedChange(site: Self.siteA, seq: 1, header: b.header, content: b.content!).decoded()
        #expect(decoded.site == Self.siteA && decoded.seq == 1)
    }

    @Test func rejectsTrailingBytes() throws {
        let encoded = try Self.sampleChange().encoded()
        var content = encoded
        content.content! += [1, 2, 3]
        content.contentHash = .sha256(content.content!)
        do {
            _ = try content.decoded()
            Issue.record("trailing bytes were accepted")
        } catch {
            #expect(error.reason.contains("3 unexpected bytes"))
        }
        #expect(throws: DecodingFailure.self) { try ChangeHeader.decode(encoded.header + [0]) }
    }

    @Test(arguments: [UInt8(0), 1, 3, 255])
    func rejectsUnknownHeaderVersion(_ version: UInt8) throws {
        var header = try Self.sampleChange().encoded().header
        header[0] = version
        do {
            _ = try ChangeHeader.decode(header)
            Issue.record("header version \(version) was accepted")
        } catch {
            #expect(error.reason.contains("version \(version)"))
        }
    }

    @Test func everyTruncationIsRejected() throws {
        let encoded = try Self.sampleChange().encoded()
        for length in 0..<encoded.header.count {
            #expect(throws: DecodingFailure.self, "header length \(length)") {
                try ChangeHeader.decode(Array(encoded.header.prefix(length)))
            }
        }
        let content = try #require(encoded.content)
        for length in 0..<content.count {
            #expect(throws: DecodingFailure.self, "content length \(length)") {
                try EncodedChange(
                    site: Self.siteB, seq: 7, header: encoded.header, content: Array(content.prefix(length))
                )
                .decoded()
            }
        }
    }

    /// The offset of the first dependency entry: version, HLC, scope, directory version, count.
    private static let depsOffset = 1 + 8 + 16 + 1 + 1

    @Test func rejectsUnsortedDependencies() throws {
        var header = try Self.sampleChange().encoded().header
        let start = Self.depsOffset
        // Entries are 16 bytes of site then a varint; siteA's seq (300) takes two bytes.
        let a = Array(header[start..<(start + 18)])
        let b = Array(header[(start + 18)..<(start + 35)])
        #expect(a[0] == 0x0A && b[0] == 0x0B)
        header.replaceSubrange(start..<(start + 35), with: b + a)
        do {
            _ = try ChangeHeader.decode(header)
            Issue.record("unsorted dependencies were accepted")
        } catch {
            #expect(error.reason.contains("canonical order"))
        }
    }

    @Test func rejectsRepeatedDependencyAndSequenceZero() throws {
        var change = Self.sampleChange()
        change.deps = VersionVector([Self.siteA: 5, Self.siteC: 6])
        let start = Self.depsOffset
        var repeated = change.header.encoded()
        repeated.replaceSubrange((start + 17)..<(start + 33), with: Self.siteA.bytes)
        #expect(throws: DecodingFailure.self) { try ChangeHeader.decode(repeated) }
        var zero = change.header.encoded()
        zero[start + 16] = 0
        do {
            _ = try ChangeHeader.decode(zero)
            Issue.record("a dependency with sequence 0 was accepted")
        } catch {
            #expect(error.reason.contains("sequence 0"))
        }
    }

    @Test func headerMustMatchContent() throws {
        var change = Self.sampleChange()
        let content = try change.encodedContent()
        change.ops.removeAll { $0.table == "enrolment" }
        // A header that hides the enrolment its content writes.
        let lying = EncodedChange(site: change.site, seq: change.seq, header: change.header.encoded(), content: content)
        do {
            _ = try lying.decoded()
            Issue.record("a header that does not match its content was accepted")
        } catch {
            #expect(error.reason.contains("does not match"))
        }
    }

    @Test func rejectsUnknownValueTagAndInvalidText() throws {
        var change = Self.sampleChange()
        change.ops = [RecordOp(table: "pupil", id: Self.pupil, writes: [FieldWrite("forename", .text("ab"))])]
        let encoded = try change.encoded()
        let content = try #require(encoded.content)
        // The value is the last four bytes: tag 2, length 2, "a", "b".
        #expect(Array(content.suffix(4)) == [2, 2, 0x61, 0x62])
        var badTag = content
        badTag[content.count - 4] = 3
        #expect(throws: DecodingFailure.self) {
            try EncodedChange(site: Self.siteB, seq: 7, header: encoded.header, content: badTag).decoded()
        }
        var badUTF8 = content
        badUTF8[content.count - 1] = 0xFF
        #expect(throws: DecodingFailure.self) {
            try EncodedChange(site: Self.siteB, seq: 7, header: encoded.header, content: badUTF8).decoded()
        }
    }

    // MARK: Leaves, redaction and storage

    @Test func leafIsTheDocumentedConstruction() throws {
        let change = try Self.sampleChange().encoded()
        var input = Array("SENSync leaf v2\u{0}".utf8) + change.site.bytes
        input += (0..<8).reversed().map { UInt8(truncatingIfNeeded: change.seq >> (8 * UInt64($0))) }
        input += Digest32.sha256(change.header).bytes + Digest32.sha256(try #require(change.content)).bytes
        #expect(change.leaf == Digest32.sha256(input))
    }

    @Test func leafChangesWithEveryInputAndSurvivesRedaction() throws {
        let base = try Self.sampleChange().encoded()
        var otherSite = base
        otherSite.site = Self.siteC
        var otherSeq = base
        otherSeq.seq += 1
        var otherHeader = base
        otherHeader.header[otherHeader.header.count - 1] ^= 0x01
        var otherContent = base
        otherContent.content![otherContent.content!.count - 1] ^= 0x01
        otherContent.contentHash = .sha256(otherContent.content!)
        let leaves = [otherSite.leaf, otherSeq.leaf, otherHeader.leaf, otherContent.leaf]
        #expect(!leaves.contains(base.leaf))
        #expect(Set(leaves).count == leaves.count)
        let redacted = base.redacted()
        #expect(redacted.isRedacted && redacted.content == nil)
        #expect(redacted.leaf == base.leaf)
        #expect(try redacted.decodedHeader() == Self.sampleChange().header)
        #expect(throws: DecodingFailure.self) { try redacted.decoded() }
    }

    @Test func storageFormRoundTrips() throws {
        let full = try Self.sampleChange().encoded()
        for change in [full, full.redacted()] {
            var w = BinaryWriter()
            change.write(into: &w)
            var r = BinaryReader(w.bytes)
            #expect(try EncodedChange.read(site: full.site, seq: full.seq, from: &r) == change)
            #expect(r.isAtEnd)
        }
    }

    // MARK: Merkle trees and checkpoints

    static func leaves(_ n: Int) -> [Digest32] { (0..<n).map { Digest32.sha256([UInt8(truncatingIfNeeded: $0), 7]) } }

    @Test func merkleShapeFollowsRFC6962() {
        let l = Self.leaves(5)
        let left = Merkle.parent(Merkle.parent(l[0], l[1]), Merkle.parent(l[2], l[3]))
        #expect(Merkle.root(l) == Merkle.parent(left, l[4]))
        #expect(Merkle.root([l[0]]) == l[0])
        #expect(Merkle.root(Array(l[0..<3])) == Merkle.parent(Merkle.parent(l[0], l[1]), l[2]))
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 255, 256])
    func everyAuditPathProvesItsLeafAndNoOther(count: Int) {
        let l = Self.leaves(count)
        let root = Merkle.root(l)
        for i in 0..<count {
            let path = Merkle.path(for: i, in: l)
            #expect(path.count == Merkle.pathLength(index: i, count: count))
            #expect(path.count <= 8)
            #expect(Merkle.root(leaf: l[i], index: i, count: count, path: path) == root)
            // The wrong leaf, the wrong place, or a path cut short or lengthened does not prove it.
            #expect(Merkle.root(leaf: Digest32.sha256([1]), index: i, count: count, path: path) != root)
            if count > 1 {
                #expect(Merkle.root(leaf: l[i], index: (i + 1) % count, count: count, path: path) != root)
                #expect(Merkle.root(leaf: l[i], index: i, count: count, path: Array(path.dropLast())) == nil)
            }
            #expect(Merkle.root(leaf: l[i], index: i, count: count, path: path + [root]) == nil)
        }
        #expect(Merkle.root(leaf: l[0], index: count, count: count, path: []) == nil)
    }

    @Test func checkpointsAreSignedByTheirSiteOnly() throws {
        let keys = SiteKeys.generate()
        let other = SiteKeys.generate()
        let l = Self.leaves(10)
        let checkpoint = try Checkpoint.make(site: Self.siteA, first: 5, leaves: l, previous: .zero, keys: keys)
        #expect(checkpoint.first == 5 && checkpoint.last == 14 && checkpoint.count == 10)
        #expect(checkpoint.isSigned(by: keys.publicKeys))
        #expect(!checkpoint.isSigned(by: other.publicKeys))
        #expect(checkpoint.proves(l[3], at: 8, path: Merkle.path(for: 3, in: l)))
        #expect(!checkpoint.proves(l[3], at: 9, path: Merkle.path(for: 3, in: l)))
        #expect(!checkpoint.proves(l[3], at: 4, path: Merkle.path(for: 3, in: l)))
        for mutate in [
            { (c: inout Checkpoint) in c.site = Self.siteB }, { $0.first += 1 }, { $0.last -= 1 },
            { $0.root = .zero }, { $0.previous = Digest32.sha256([9]) },
        ] {
            var altered = checkpoint
            mutate(&altered)
            #expect(!altered.isSigned(by: keys.publicKeys))
        }
        var w = BinaryWriter()
        checkpoint.encode(into: &w)
        var r = BinaryReader(w.bytes)
        #expect(try Checkpoint.decode(from: &r) == checkpoint)
    }

    @Test func checkpointRangesAtTheirExtremesAreRefused() {
        for (first, count) in [(UInt64(0), UInt64(1)), (1, 0), (1, 257), (UInt64.max, 1), (UInt64.max - 3, 5)] {
            var w = BinaryWriter()
            w.write(contentsOf: Self.siteA.bytes)
            w.writeVarint(first)
            w.writeVarint(count)
            w.write(contentsOf: [UInt8](repeating: 0, count: 32 + 32 + 64))
            var r = BinaryReader(w.bytes)
            #expect(throws: DecodingFailure.self, "first \(first), count \(count)") { try Checkpoint.decode(from: &r) }
        }
    }

    @Test func dotsAndCausalPast() {
        let change = Self.sampleChange()
        #expect(change.dot == Dot(site: Self.siteB, seq: 7))
        #expect(change.hasSeen(Dot(site: Self.siteB, seq: 6)))
        #expect(!change.hasSeen(Dot(site: Self.siteB, seq: 7)))
        #expect(!change.hasSeen(Dot(site: Self.siteB, seq: 8)))
        #expect(change.hasSeen(Dot(site: Self.siteA, seq: 300)))
        #expect(!change.hasSeen(Dot(site: Self.siteA, seq: 301)))
        #expect(!change.hasSeen(Dot(site: fixedID(0x0D), seq: 1)))
    }
}
