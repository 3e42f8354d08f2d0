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
            deps: VersionVector([siteC: 2, siteA: 300, siteB: 6]),
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
                RecordOp(table: "future_table", id: fixedID(0x61), writes: [FieldWrite("n", .integer(Int64.max))]),
                RecordOp(
                    table: "note", id: fixedID(0x62),
                    writes: [FieldWrite("text", .text(String(repeating: "long ", count: 400)))]),
            ])
    }

    @Test func roundTripsThroughTheBody() throws {
        let change = Self.sampleChange(author: "Mx Ünïcode ✓")
        let body = change.encodedBody()
        let decoded = try Change.decode(site: change.site, seq: change.seq, body: body)
        #expect(decoded == change)
        #expect(decoded.encodedBody() == body)
        #expect(try EncodedChange(change).decoded() == change)
    }

    @Test(arguments: [Int64.min, -1_000_000_000_000, -65, -64, -1, 0, 1, 63, 64, 1_000_000, Int64.max])
    func integersRoundTrip(_ n: Int64) throws {
        var change = Self.sampleChange()
        change.ops = [RecordOp(table: "pupil", id: Self.pupil, writes: [FieldWrite("year_group", .integer(n))])]
        #expect(try Change.decode(site: change.site, seq: change.seq, body: change.encodedBody()) == change)
    }

    @Test func bodyLeavesOutSiteAndSequence() throws {
        var moved = Self.sampleChange()
        moved.site = Self.siteC
        moved.seq = 99
        #expect(moved.encodedBody() == Self.sampleChange().encodedBody())
        let decoded = try Change.decode(site: Self.siteA, seq: 1, body: moved.encodedBody())
        #expect(decoded.site == Self.siteA && decoded.seq == 1)
    }

    @Test func rejectsTrailingBytes() {
        let body = Self.sampleChange().encodedBody()
        #expect(throws: DecodingFailure.self) { try Change.decode(site: Self.siteB, seq: 7, body: body + [0]) }
        do {
            _ = try Change.decode(site: Self.siteB, seq: 7, body: body + [1, 2, 3])
            Issue.record("trailing bytes were accepted")
        } catch {
            #expect(error.reason.contains("3 unexpected bytes"))
        }
    }

    @Test(arguments: [UInt8(0), 2, 255])
    func rejectsUnknownBodyVersion(_ version: UInt8) {
        var body = Self.sampleChange().encodedBody()
        body[0] = version
        do {
            _ = try Change.decode(site: Self.siteB, seq: 7, body: body)
            Issue.record("body version \(version) was accepted")
        } catch {
            #expect(error.reason.contains("version \(version)"))
        }
    }

    @Test func everyTruncationIsRejected() {
        let body = Self.sampleChange().encodedBody()
        for length in 0..<body.count {
            #expect(throws: DecodingFailure.self, "length \(length)") {
                try Change.decode(site: Self.siteB, seq: 7, body: Array(body.prefix(length)))
            }
        }
    }

    /// The offset of the first dependency entry: version, HLC, author, scope, dependency count.
    private static func depsOffset(author: String) -> Int { 1 + 8 + 1 + author.utf8.count + 16 + 1 }

    @Test func rejectsUnsortedDependencies() {
        let change = Self.sampleChange()
        var body = change.encodedBody()
        let start = Self.depsOffset(author: change.author)
        // Entries are 16 bytes of site then a varint; siteA's seq (300) takes two bytes.
        let a = Array(body[start..<(start + 18)])
        let b = Array(body[(start + 18)..<(start + 35)])
        #expect(a[0] == 0x0A && b[0] == 0x0B)
        body.replaceSubrange(start..<(start + 35), with: b + a)
        do {
            _ = try Change.decode(site: Self.siteB, seq: 7, body: body)
            Issue.record("unsorted dependencies were accepted")
        } catch {
            #expect(error.reason.contains("canonical order"))
        }
    }

    @Test func rejectsRepeatedDependencyAndSequenceZero() {
        var change = Self.sampleChange()
        change.deps = VersionVector([Self.siteA: 5, Self.siteC: 6])
        let start = Self.depsOffset(author: change.author)
        var repeated = change.encodedBody()
        repeated.replaceSubrange((start + 17)..<(start + 33), with: Self.siteA.bytes)
        #expect(throws: DecodingFailure.self) { try Change.decode(site: Self.siteB, seq: 7, body: repeated) }
        var zero = change.encodedBody()
        zero[start + 16] = 0
        do {
            _ = try Change.decode(site: Self.siteB, seq: 7, body: zero)
            Issue.record("a dependency with sequence 0 was accepted")
        } catch {
            #expect(error.reason.contains("sequence 0"))
        }
    }

    @Test func rejectsUnknownValueTagAndInvalidText() {
        var change = Self.sampleChange()
        change.ops = [RecordOp(table: "pupil", id: Self.pupil, writes: [FieldWrite("forename", .text("ab"))])]
        let body = change.encodedBody()
        // The value is the last four bytes: tag 2, length 2, "a", "b".
        #expect(Array(body.suffix(4)) == [2, 2, 0x61, 0x62])
        var badTag = body
        badTag[body.count - 4] = 3
        #expect(throws: DecodingFailure.self) { try Change.decode(site: Self.siteB, seq: 7, body: badTag) }
        var badUTF8 = body
        badUTF8[body.count - 1] = 0xFF
        #expect(throws: DecodingFailure.self) { try Change.decode(site: Self.siteB, seq: 7, body: badUTF8) }
    }

    // MARK: Chain hash

    @Test func chainHashIsTheDocumentedConstruction() {
        let change = EncodedChange(Self.sampleChange())
        let previous = Digest32.sha256(Array("previous".utf8))
        var input = Array("SENSync change v1\u{0}".utf8) + change.site.bytes
        input += (0..<8).reversed().map { UInt8(truncatingIfNeeded: change.seq >> (8 * UInt64($0))) }
        input += previous.bytes + Digest32.sha256(change.body).bytes
        #expect(change.chainHash(previous: previous) == Digest32.sha256(input))
    }

    @Test func chainHashChangesWithEveryInput() {
        let base = EncodedChange(Self.sampleChange())
        let previous = Digest32.sha256(Array("previous".utf8))
        let reference = base.chainHash(previous: previous)
        var otherSite = base
        otherSite.site = Self.siteC
        var otherSeq = base
        otherSeq.seq += 1
        var otherBody = base
        otherBody.body[otherBody.body.count - 1] ^= 0x01
        let hashes = [
            otherSite.chainHash(previous: previous), otherSeq.chainHash(previous: previous),
            otherBody.chainHash(previous: previous), base.chainHash(previous: .zero),
        ]
        #expect(!hashes.contains(reference))
        #expect(Set(hashes).count == hashes.count)
        #expect(base.chainHash(previous: previous) == reference)
    }

    @Test func chainLinksEachChangeToItsPredecessor() {
        let bodies = (1...3).map { i -> EncodedChange in
            var c = Self.sampleChange()
            c.seq = UInt64(i)
            return EncodedChange(c)
        }
        let h1 = bodies[0].chainHash(previous: .zero)
        let h2 = bodies[1].chainHash(previous: h1)
        let h3 = bodies[2].chainHash(previous: h2)
        // Same bodies, same positions, a different first link: every later hash differs.
        let forked = bodies[0].chainHash(previous: Digest32.sha256([1]))
        #expect(bodies[1].chainHash(previous: forked) != h2)
        #expect(bodies[2].chainHash(previous: bodies[1].chainHash(previous: forked)) != h3)
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
