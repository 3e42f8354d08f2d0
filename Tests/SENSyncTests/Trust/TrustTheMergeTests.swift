import Foundation
import GRDB
import Testing

@testable import SENSync

/// The defects found by review and by randomized schedules through the CLI, each reproduced:
/// one site's key writing or hiding another site's changes; entitlement that depended on the
/// receiver's directory and on arrival order; an academy's own transfer leaving its pupil behind;
/// crafted files crashing the reader; a bundle re-signed by another site; erasures that conflicted
/// for ever; and a refused bundle that changed the store.
struct TrustTheMergeTests {
    static let pupilA = NewPupil(upn: syntheticUPN(7001), forename: "Alba", surname: "Forge", dateOfBirth: "2016-02-02")
    static let pupilB = NewPupil(upn: syntheticUPN(7002), forename: "Bryn", surname: "Forge", dateOfBirth: "2016-03-03")

    /// An area with two maintained schools, A and B, each with a pupil the LA holds.
    static func twoSchools(_ dir: URL, fileBased: Bool = false) throws -> (ScopeArea, RecordID, RecordID) {
        let area = try ScopeArea(folder: dir, fileBased: fileBased)
        try area.add("A", .maintainedSchool)
        try area.add("B", .maintainedSchool)
        try area.distributeDirectory()
        let a = try area["A"].addPupil(pupilA, author: "SENCO A")
        let b = try area["B"].addPupil(pupilB, author: "SENCO B")
        try area.send("A", "LA")
        try area.send("B", "LA")
        try area.send("LA", "A")
        try area.send("LA", "B")
        return (area, a, b)
    }

    /// What a refusal must leave alone: state, what is held, and the site table.
    struct Untouched: Equatable {
        var digest: Digest32
        var versionVector: VersionVector
        var sites: [String]
        var held: Set<Dot>

        init(_ store: Store) throws {
            digest = try store.digest()
            versionVector = try store.versionVector()
            sites = try store.siteRows()
            held = Set(try store.storedChanges().map(\.dot))
        }
    }

    /// An erasure of `pupil` written as a change of `site`, number `seq`, with `deps`.
    static func erasure(site: SiteID, seq: UInt64, pupil: RecordID, deps: VersionVector) throws -> EncodedChange {
        try Change(
            site: site, seq: seq, hlc: HLC(milliseconds: baseMilliseconds + 3_600_000, counter: 0), author: "forger",
            scope: pupil, deps: deps, directoryVersion: 0,
            ops: [
                RecordOp(
                    table: RecordSchema.erasure.name, id: fixedID(0xE5),
                    writes: [FieldWrite("reason", .text("forged")), FieldWrite("erased_on", .text("2026-01-05"))])
            ]
        ).encoded()
    }

    // MARK: 1. Nobody writes or hides changes in another site's name

    /// A school's key makes a bundle carrying a change "from" another school that erases that
    /// school's pupil. Before: applied at the LA, the genuine change with that number was then
    /// silently refused, and `audit verify` stayed clean. Now: refused, nothing changes, and the
    /// genuine change applies.
    @Test func aChangeForgedInAnotherSitesNameIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _, pupilB) = try Self.twoSchools(dir)
            let attacker = try area["A"].keys()
            let victim = area.id("B")
            let forged = try Self.erasure(site: victim, seq: 2, pupil: pupilB, deps: VersionVector([victim: 1]))

            // Signed with the attacker's own key, in the victim's name.
            var forge = BundleForge(sender: area["A"].identity, keys: attacker)
            forge.entries = [
                .checkpoint(
                    try Checkpoint.make(site: victim, first: 2, leaves: [forged.leaf], previous: .zero, keys: attacker),
                    isComplete: true),
                .change(forged, checkpoint: 0, path: nil),
            ]
            let url = dir.appendingPathComponent("forged.bundle")
            try forge.write(to: area.la.publicIdentity, at: url)
            let before = try Untouched(area.la)
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: url) }
            #expect(error?.code == .badSignature)
            // The site is named as the LA's directory names it.
            #expect(error?.message.contains("said to be made by B that") == true, "\(error?.message ?? "")")
            #expect(try Untouched(area.la) == before)
            #expect(try area.la.importLog(limit: 1).first?.result == "refused: bad-signature")

            // The victim's genuine checkpoint, with the forged content in place of its change.
            try area["B"].addNote(pupil: pupilB.description, text: "B: genuine", author: "SENCO B")
            _ = try area.make("B", "LA")  // B signs its change 2
            let genuine = try #require(try area["B"].heldCheckpoints(of: victim).last)
            var swapped = BundleForge(sender: area["A"].identity, keys: attacker)
            swapped.entries = [.checkpoint(genuine, isComplete: true), .change(forged, checkpoint: 0, path: nil)]
            let swappedURL = dir.appendingPathComponent("swapped.bundle")
            try swapped.write(to: area.la.publicIdentity, at: swappedURL)
            let swapError = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: swappedURL) }
            #expect(swapError?.code == .badSignature)
            #expect(try Untouched(area.la) == before)

            // The genuine change applies; the pupil is not erased; the audit is clean.
            #expect(try area.send("B", "LA").applied == 1)
            #expect(try area.la.pupil(pupilB.description).forename == "Bryn")
            #expect(try area.la.erasedPupils().isEmpty)
            #expect(try area.la.auditVerify().isClean)
        }
    }

    /// The attacker's own key signs a change of its own about another school's pupil: it is
    /// authentic, so it is kept, but rejected as never entitled and reported, at every store.
    @Test func aSitesOwnChangeAboutAnotherSchoolsPupilIsRejectedAndReported() throws {
        try withTemporaryDirectory { dir in
            let (area, _, pupilB) = try Self.twoSchools(dir)
            let attacker = try area["A"].keys()
            let own = area.id("A")
            let next = try area["A"].versionVector()[own] + 1
            let change = try Self.erasure(site: own, seq: next, pupil: pupilB, deps: VersionVector())
            var forge = BundleForge(sender: area["A"].identity, keys: attacker)
            forge.entries = [
                .checkpoint(
                    try Checkpoint.make(
                        site: own, first: next, leaves: [change.leaf],
                        previous: try area["A"].heldCheckpoints(of: own).last?.digest ?? .zero, keys: attacker),
                    isComplete: true),
                .change(change, checkpoint: 0, path: nil),
            ]
            let url = dir.appendingPathComponent("own.bundle")
            try forge.write(to: area.la.publicIdentity, at: url)
            let report = try area.la.apply(bundleAt: url)
            #expect(report.rejected.map(\.dot) == [Dot(site: own, seq: next)])
            #expect(report.rejected.first?.reason.contains("never entitled") == true)
            #expect(try area.la.erasedPupils().isEmpty)
            #expect(try area.la.pupil(pupilB.description).forename == "Bryn")
        }
    }

    /// A relay cannot hide another site's change by passing it on without its content, nor
    /// touch the receiver's own history: the LA ignores a copy without content of a change about
    /// a pupil that is not erased, and takes the content when it comes; a school given a forged or
    /// content-less copy of its own change keeps its own.
    @Test func aChangeCannotBeHiddenOrTheReceiversOwnHistoryMoved() throws {
        try withTemporaryDirectory { dir in
            let (area, _, pupilB) = try Self.twoSchools(dir)
            let attacker = try area["A"].keys()
            let victim = area.id("B")
            try area["B"].addNote(pupil: pupilB.description, text: "B: hidden?", author: "SENCO B")
            _ = try area.make("B", "LA")
            let genuine = try #require(try area["B"].heldCheckpoints(of: victim).last)
            let change = try #require(try area["B"].heldChanges(of: victim, in: genuine.first...genuine.last).first)
            let hidden = change.redacted()

            var forge = BundleForge(sender: area["A"].identity, keys: attacker)
            forge.entries = [.checkpoint(genuine, isComplete: true), .change(hidden, checkpoint: 0, path: nil)]
            let url = dir.appendingPathComponent("hidden.bundle")
            try forge.write(to: area.la.publicIdentity, at: url)
            let vv = try area.la.versionVector()
            let report = try area.la.apply(bundleAt: url)
            #expect(report.applied == 0 && report.heldWithoutContent == 0)
            #expect(try area.la.versionVector() == vv)
            // The genuine content still comes, and applies.
            #expect(try area.send("B", "LA").applied == 1)
            #expect(try area.la.notes(of: pupilB.description).contains { $0.text == "B: hidden?" })

            // The same two tricks against B's own history, at B.
            let own = try Untouched(area["B"])
            var toB = BundleForge(sender: area["A"].identity, keys: attacker)
            toB.entries = [.checkpoint(genuine, isComplete: true), .change(hidden, checkpoint: 0, path: nil)]
            let toBURL = dir.appendingPathComponent("own-hidden.bundle")
            try toB.write(to: area["B"].publicIdentity, at: toBURL)
            _ = try area["B"].apply(bundleAt: toBURL)
            let forged = try Self.erasure(
                site: victim, seq: genuine.last + 1, pupil: pupilB, deps: VersionVector([victim: genuine.last]))
            var forgedOwn = BundleForge(sender: area["A"].identity, keys: attacker)
            forgedOwn.entries = [
                .checkpoint(
                    try Checkpoint.make(
                        site: victim, first: genuine.last + 1, leaves: [forged.leaf], previous: genuine.digest,
                        keys: attacker), isComplete: true),
                .change(forged, checkpoint: 0, path: nil),
            ]
            let forgedURL = dir.appendingPathComponent("own-forged.bundle")
            try forgedOwn.write(to: area["B"].publicIdentity, at: forgedURL)
            #expect(throws: BundleError.self) { try area["B"].apply(bundleAt: forgedURL) }
            var after = try Untouched(area["B"])
            after.sites = own.sites  // the first bundle registered its sender as a peer
            #expect(after == own)
            #expect(try area["B"].versionVector()[victim] == genuine.last)
        }
    }

    // MARK: 2. Entitlement is a function of the changes

    /// A trust edits its academy's pupil and the academy merges it; then the LA moves the academy
    /// to another trust, and only then receives the edit. Before: rejected at the LA as "never
    /// entitled", so the LA and the academy differed for good. Now: judged at the directory
    /// version the trust held, accepted everywhere.
    @Test func aTrustsEditStaysValidAfterItsAcademyMovesTrust() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("T1", .trust)
            try area.add("T2", .trust)
            try area.add("Academy", .academy, trust: "T1")
            try area.distributeDirectory()
            let pupil = try area["Academy"].addPupil(Self.pupilA, author: "SENCO")
            try area.relay("Academy", "T1", "LA")
            try area.send("T1", "Academy")
            try area["T1"].addNote(pupil: pupil.description, text: "Trust: EP visit booked", author: "Trust SEN lead")
            try area.send("T1", "Academy")
            #expect(try area["Academy"].notes(of: pupil.description).count == 1)

            try area.la.addToDirectory(area["Academy"].publicIdentity, trust: area.id("T2"))
            let report = try area.send("T1", "LA")
            #expect(report.rejected.isEmpty, "\(report.rejected)")
            #expect(report.applied == 1)
            #expect(try area.la.notes(of: pupil.description).count == 1)
            // Everyone settles: the academy's new trust holds the pupil, the old one lets go.
            try area.distributeDirectory()
            try area.gossip(rounds: 3)
            let laRows = try area.la.recordRowsByPupil()[pupil]
            #expect(try area["Academy"].recordRowsByPupil()[pupil] == laRows)
            #expect(try area["T2"].recordRowsByPupil()[pupil] == laRows)
            #expect(try area["T1"].pupilsWithRecords().contains(pupil) == false)
        }
    }

    /// Two copies of the LA apply the same two bundles in opposite orders: a school's pupil, and
    /// another school's erasure of that pupil made without ever having had it. Before: erased in
    /// one order (no enrolment seen yet), kept in the other, so the digests differed. Now the
    /// erasure is judged by the enrolments in its own causal past: rejected in both orders.
    @Test func anErasureIsJudgedTheSameInEitherOrder() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir, fileBased: true)
            try area.add("Home", .maintainedSchool)
            try area.distributeDirectory()
            let laCopy = try Self.copyOfStore(
                area.la, to: dir.appendingPathComponent("la-copy.sensync"), clock: area.clock)
            let pupil = try area["Home"].addPupil(Self.pupilA, author: "SENCO")
            // A school that never had the pupil erases it (made before it pinned the LA, so its
            // own store checked nothing), then joins the area.
            let rogue = try Store.inMemory(
                identity: SiteIdentity(id: .v7(milliseconds: baseMilliseconds), name: "Rogue", kind: .maintainedSchool),
                now: area.clock.now)
            try rogue.write(
                author: "intruder", scope: pupil,
                ops: [
                    RecordOp(
                        table: RecordSchema.erasure.name, id: fixedID(0xE5),
                        writes: [FieldWrite("reason", .text("not ours"))])
                ])
            try rogue.pinLA(area.la.publicIdentity)
            try area.la.addToDirectory(rogue.publicIdentity)
            let enrolment = try area.make("Home", "LA")
            let erasure = dir.appendingPathComponent("bundles/rogue.bundle")
            try rogue.makeBundle(to: [area.la.identity.id], at: erasure)
            // The copy needs the newer directory (it lists the rogue school) before the erasure.
            try laCopy.addToDirectory(rogue.publicIdentity)

            var reports: [ImportReport] = []
            reports.append(try area.la.apply(bundleAt: enrolment))
            reports.append(try area.la.apply(bundleAt: erasure))
            reports.append(try laCopy.apply(bundleAt: erasure))
            reports.append(try laCopy.apply(bundleAt: enrolment))
            #expect(try area.la.digest() == laCopy.digest())
            #expect(try area.la.erasedPupils().isEmpty && laCopy.erasedPupils().isEmpty)
            #expect(try area.la.pupil(pupil.description).forename == "Alba")
            #expect(reports[1].rejected.contains { $0.reason.contains("never entitled") })
            #expect(reports[2].rejected.contains { $0.reason.contains("never entitled") })
        }
    }

    /// A copy of a file store (store and key file) at `url`, opened.
    static func copyOfStore(_ store: Store, to url: URL, clock: TestClock) throws -> Store {
        let path = try #require(store.path)
        try store.checkpoint()
        try FileManager.default.copyItem(atPath: path, toPath: url.path)
        try FileManager.default.copyItem(atPath: KeyFile.path(forStore: path), toPath: KeyFile.path(forStore: url.path))
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o600], ofItemAtPath: KeyFile.path(forStore: url.path))
        return try Store.open(at: url.path, now: clock.now)
    }

    // MARK: 3. An academy's own transfer, relayed through its trust

    /// The academy transfers a pupil to a maintained school and syncs with its trust first; once
    /// the trust has it, the academy's next bundle to the LA carries nothing new, and the LA, not
    /// yet aware of the move, sends the history back. Before: the academy and its trust then held
    /// the pupil as enrolled at the academy for good. Now everything settles where it belongs.
    @Test func anAcademysTransferRelayedThroughItsTrustSettles() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.add("School", .maintainedSchool)
            try area.distributeDirectory()
            let academy = area["Academy"]
            let pupil = try academy.addPupil(Self.pupilA, author: "SENCO")
            try academy.addNote(pupil: pupil.description, text: "Academy: reading support", author: "SENCO")
            try area.relay("Academy", "Trust", "LA")
            try area.relay("LA", "Trust", "Academy")

            try academy.transferPupil(pupil.description, to: area.id("School"), on: ScopeArea.today, author: "SENCO")
            try area.send("Academy", "Trust")
            try area.send("Trust", "Academy")  // the trust holds it all: the academy passes the pupil on
            #expect(try academy.pupilsWithRecords().contains(pupil) == false)
            try area.send("Academy", "LA")  // directly, as an academy may
            try area.send("LA", "Academy")  // the LA, not yet aware, sends the history back
            try area.send("LA", "Trust")
            try area.gossip(rounds: 4)

            let school = area.id("School")
            #expect(try area.la.currentSchoolsByPupil()[pupil] == [school])
            #expect(try area["School"].currentSchoolsByPupil()[pupil] == [school])
            #expect(try area["School"].recordRowsByPupil()[pupil] == area.la.recordRowsByPupil()[pupil])
            #expect(try academy.pupilsWithRecords().contains(pupil) == false)
            #expect(try area["Trust"].pupilsWithRecords().contains(pupil) == false)
            #expect(try academy.changeBodiesByPupil()[pupil] == nil)
            #expect(try area["Trust"].changeBodiesByPupil()[pupil] == nil)
        }
    }

    // MARK: 4. Crafted files cannot crash the reader

    /// Every length, count and offset a header holds, at its extremes, in a file signed by its
    /// sender: each is refused as damaged or unreadable (exit 5 or 9), never a crash, and a store
    /// given it changes nothing.
    @Test func headerFieldsAtTheirExtremesAreRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _, _) = try Self.twoSchools(dir)
            try area["A"].addNote(pupil: try area["A"].pupils()[0].id.description, text: "x", author: "S")
            let url = try area.make("A", "LA")
            let keys = try area["A"].keys()
            let layout = try BundleFile.readLayout(at: url)
            let bytes = [UInt8](try Data(contentsOf: url))
            let payload = Array(bytes[Int(layout.payloadOffset)...])
            let extremes: [UInt64] = [0, 1, UInt64(Int64.max), UInt64.max - 1, UInt64.max, 1 << 50, (1 << 50) + 1]
            var crafted: [(String, BundleHeader)] = []
            for value in extremes {
                for field in ["payloadLength", "plainLength", "checkpoints", "changes", "redacted", "holdings"] {
                    var header = layout.header
                    switch field {
                    case "payloadLength": header.sections[0].payloadLength = value
                    case "plainLength": header.sections[0].plainLength = value
                    case "checkpoints": header.sections[0].checkpointCount = value
                    case "changes": header.sections[0].changeCount = value
                    case "redacted": header.sections[0].redactedCount = value
                    default: header.sections[0].holdingsCount = value
                    }
                    if header != layout.header { crafted.append(("\(field)=\(value)", header)) }
                }
                // A vector is the sender's claim; beyond what a store can hold it is refused.
                if value > BinaryReader.maxSequence {
                    var vv = layout.header
                    vv.versionVector = VersionVector([fixedID(1): value])
                    crafted.append(("vector=\(value)", vv))
                    var directory = layout.header
                    directory.directoryVersion = value
                    crafted.append(("directoryVersion=\(value)", directory))
                }
            }
            let before = try Untouched(area.la)
            for (name, header) in crafted {
                let file = dir.appendingPathComponent("crafted-\(name).bundle")
                try BundleForge.writeFile(header: header, payload: payload, keys: keys, to: file)
                Self.expectRefusedOrHarmless(file, at: area.la, name)
            }
            // The preamble's header length and the signature length at their extremes.
            let headerLengths: [[UInt8]] = [[0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0x7F, 0xFF, 0xFF, 0xFF]]
            for (offset, values) in [(16, headerLengths)] {
                for value in values {
                    var copy = bytes
                    copy.replaceSubrange(offset..<(offset + 4), with: value)
                    let file = dir.appendingPathComponent("preamble-\(value).bundle")
                    try Data(copy).write(to: file)
                    Self.expectRefusedOrHarmless(file, at: area.la, "headerLen \(value)")
                }
            }
            let sigOffset = 20 + layout.header.encoded().count + 32
            for value in [[0, 0], [0xFF, 0xFF], [0, 65]] as [[UInt8]] {
                var copy = bytes
                copy.replaceSubrange(sigOffset..<(sigOffset + 2), with: value)
                let file = dir.appendingPathComponent("sig-\(value).bundle")
                try Data(copy).write(to: file)
                Self.expectRefusedOrHarmless(file, at: area.la, "sigLen \(value)")
            }
            #expect(try Untouched(area.la) == before)
            // The intact bundle still applies.
            #expect(try area.la.apply(bundleAt: url).applied == 1)
            // Counts and lengths in the header bytes themselves, past what their type allows.
            let headerBytes = layout.header.encoded()
            for (name, patch) in Self.varintPatches(of: headerBytes) {
                let file = dir.appendingPathComponent("patched-\(name).bundle")
                try BundleForge.writeFile(
                    header: layout.header, payload: payload, keys: keys, to: file, headerBytes: patch)
                Self.expectRefusedOrHarmless(file, at: area.la, name, mayApply: true)
            }
        }
    }

    /// Payload entries at their extremes, in bundles properly signed and sealed: refused as
    /// damaged (or as forged), never a crash, nothing changed.
    @Test func payloadEntriesAtTheirExtremesAreRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, _, pupilB) = try Self.twoSchools(dir)
            let keys = try area["A"].keys()
            let site = area.id("A")
            let change = try Self.erasure(site: site, seq: 5, pupil: pupilB, deps: VersionVector())
            let checkpoint = try Checkpoint.make(
                site: site, first: 5, leaves: [change.leaf], previous: .zero, keys: keys)
            var cases: [(String, [UInt8])] = []
            func payload(_ build: (inout BinaryWriter) -> Void) -> [UInt8] {
                var w = BinaryWriter()
                w.write(BundleFile.payloadVersion)
                build(&w)
                return w.bytes
            }
            func withCheckpoint(_ w: inout BinaryWriter, complete: Bool) {
                var coding = PayloadCodingState()
                coding.writeCheckpoint(checkpoint, isComplete: complete, into: &w)
            }
            func writeSeq(_ seq: UInt64, _ w: inout BinaryWriter) {
                var coding = PayloadCodingState()
                coding.writeSeq(seq, of: site, into: &w)
            }
            /// The change's header and content as a payload codes them (the first change of its payload).
            let body: [UInt8] = try {
                var w = BinaryWriter()
                var coding = PayloadCodingState()
                coding.writeHeaderAndContent(change, header: try change.decodedHeader(), into: &w)
                return w.bytes
            }()
            /// The header alone, followed by a content form of 0 and no length yet.
            let headerOnly: [UInt8] = try {
                var w = BinaryWriter()
                var coding = PayloadCodingState()
                let empty = EncodedChange(site: change.site, seq: change.seq, header: change.header, content: [])
                coding.writeHeaderAndContent(empty, header: try change.decodedHeader(), into: &w)
                return Array(w.bytes.dropLast())
            }()
            for seq in [0, 4, 6, UInt64.max] {
                cases.append(
                    (
                        "seq \(seq)",
                        payload { w in
                            withCheckpoint(&w, complete: true)
                            w.writeVarint(1)
                            w.writeVarint(0)
                            writeSeq(seq, &w)
                            w.write(contentsOf: body)
                        }
                    ))
            }
            for index in [1, Int.max] {
                cases.append(
                    (
                        "checkpoint index \(index)",
                        payload { w in
                            withCheckpoint(&w, complete: true)
                            w.writeVarint(1)
                            w.writeVarint(UInt64(index))
                            writeSeq(5, &w)
                            w.write(contentsOf: body)
                        }
                    ))
            }
            for pathLength in [1, 64, 65, 1 << 40] {
                cases.append(
                    (
                        "path length \(pathLength)",
                        payload { w in
                            withCheckpoint(&w, complete: false)
                            w.writeVarint(1)
                            w.writeVarint(0)
                            writeSeq(5, &w)
                            w.writeVarint(UInt64(pathLength))
                            w.write(contentsOf: [UInt8](repeating: 7, count: 32))
                            w.write(contentsOf: body)
                        }
                    ))
            }
            for (first, count) in [(UInt64.max, UInt64(1)), (UInt64.max - 1, 2), (1, 0), (1, UInt64.max)] {
                cases.append(
                    (
                        "checkpoint \(first)+\(count)",
                        payload { w in
                            w.writeVarint(0)
                            w.write(contentsOf: site.bytes)
                            w.writeVarint(first)
                            w.writeVarint(count)
                            w.write(contentsOf: [UInt8](repeating: 0, count: 128))
                            w.write(UInt8(1))
                        }
                    ))
            }
            for length in [UInt64(1) << 40, UInt64.max] {
                cases.append(
                    (
                        "entry length \(length)",
                        payload { w in
                            withCheckpoint(&w, complete: true)
                            w.writeVarint(1)
                            w.writeVarint(0)
                            writeSeq(5, &w)
                            w.write(contentsOf: headerOnly)
                            w.writeVarint(length)
                        }
                    ))
            }
            cases.append(("unknown kind", payload { w in w.writeVarint(9) }))
            cases.append(
                (
                    "holdings count",
                    payload { w in
                        w.writeVarint(2)
                        w.writeVarint(0)
                        w.write(contentsOf: pupilB.bytes)
                        w.writeVarint(UInt64.max)
                    }
                ))
            // References to a site or pupil the payload has not given yet.
            for reference in [UInt64(1), 2, UInt64.max] {
                cases.append(
                    (
                        "pupil reference \(reference)",
                        payload { w in
                            w.writeVarint(2)
                            w.writeVarint(reference)
                            w.writeVarint(0)
                            w.write(UInt8(0))
                        }
                    ))
                cases.append(
                    (
                        "site reference \(reference)",
                        payload { w in
                            w.writeVarint(2)
                            w.writeVarint(0)
                            w.write(contentsOf: pupilB.bytes)
                            w.writeVarint(1)
                            w.writeVarint(reference)
                            w.writeVarint(3)
                            w.write(UInt8(0))
                        }
                    ))
            }
            let before = try Untouched(area.la)
            for (name, plain) in cases {
                var forge = BundleForge(sender: area["A"].identity, keys: keys)
                forge.counts = (1, 1, 0, 1)
                let url = dir.appendingPathComponent("payload-\(cases.firstIndex { $0.0 == name }!).bundle")
                try forge.write(to: area.la.publicIdentity, at: url, plain: plain)
                let error = #expect(throws: BundleError.self, "\(name)") { try area.la.apply(bundleAt: url) }
                #expect([.damaged, .badSignature].contains(error?.code), "\(name): \(error?.message ?? "")")
            }
            #expect(try Untouched(area.la).digest == before.digest)
            #expect(try Untouched(area.la).held == before.held)
        }
    }

    /// `bundle inspect`, `verify` and `apply` on a crafted file: refused with a code — or, for a
    /// byte patch that happens to leave a readable header (`mayApply`), applied like the original.
    static func expectRefusedOrHarmless(_ url: URL, at store: Store, _ name: String, mayApply: Bool = false) {
        do {
            _ = try Store.inspectBundle(at: url)
            _ = try Store.verifyBundle(at: url)
            _ = try store.apply(bundleAt: url)
            if !mayApply { Issue.record("\(name): a crafted bundle applied") }
        } catch let error as BundleError {
            #expect(
                [.damaged, .unsupportedVersion, .badSignature, .notABundle, .cannotDecrypt].contains(error.code),
                "\(name): \(error.code) \(error.message)")
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    /// Copies of `header` with one varint replaced by its largest values: every count a decoder
    /// reads, pushed past what it allows. Offsets are found by re-encoding with a marker.
    static func varintPatches(of header: [UInt8]) -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = []
        let huge: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        let tooLong: [UInt8] = [UInt8](repeating: 0xFF, count: 11)
        // Every byte position, replaced by a maximal varint (the bytes after it shift): covers
        // each count the header holds, wherever it is.
        for offset in stride(from: 2, to: header.count, by: max(1, header.count / 97)) {
            var copy = header
            copy.replaceSubrange(offset..<(offset + 1), with: huge)
            result.append(("varint@\(offset)", copy))
            var long = header
            long.replaceSubrange(offset..<(offset + 1), with: tooLong)
            result.append(("long@\(offset)", long))
        }
        return result
    }

    // MARK: 5. The sender is bound into the seal

    /// A site re-signs another site's sealed bundle as its own. Before: the LA applied it and
    /// logged the wrong sender. Now the content key opens only as sealed by the named sender.
    @Test func aBundleReSignedByAnotherSiteIsRefused() throws {
        try withTemporaryDirectory { dir in
            let (area, pupilA, _) = try Self.twoSchools(dir)
            try area["A"].addNote(pupil: pupilA.description, text: "A: genuine", author: "SENCO A")
            let genuine = try area.make("A", "LA")
            let resigned = dir.appendingPathComponent("resigned.bundle")
            try rewriteBundleHeader(of: genuine, to: resigned, signer: try area["B"].keys()) {
                $0.sender = area["B"].identity
            }
            let before = try Untouched(area.la)
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: resigned) }
            #expect(error?.code == .cannotDecrypt)
            #expect(error?.message.contains("sealed by the site it names as sender") == true)
            #expect(try Untouched(area.la) == before)
            // Nor can the section be moved to another bundle id.
            let moved = dir.appendingPathComponent("moved.bundle")
            try rewriteBundleHeader(of: genuine, to: moved, signer: try area["A"].keys()) {
                $0.bundleID = UUID128.v7(milliseconds: baseMilliseconds)
            }
            #expect(throws: BundleError.self) { try area.la.apply(bundleAt: moved) }
            #expect(try area.la.apply(bundleAt: genuine).applied == 1)
        }
    }

    // MARK: 6. Conflicts that can close

    /// Two sites erase the same pupil (a retention run at both). Before: every erasure field was
    /// an open conflict, equal values included, and resolving them was refused. Now each erasure
    /// is its own record, and nothing conflicts.
    @Test func twoErasuresOfOnePupilDoNotConflict() throws {
        try withTemporaryDirectory { dir in
            let (area, pupilA, _) = try Self.twoSchools(dir)
            try area.la.erasePupil(pupilA.description, reason: "retention", author: "LA")
            try area["A"].erasePupil(pupilA.description, reason: "retention", author: "SENCO A")
            try area.send("A", "LA")
            try area.send("LA", "A")
            for store in [area.la, area["A"]] {
                #expect(try store.conflicts().isEmpty)
                #expect(try store.recordRowsByPupil()[pupilA]?.filter { $0.table == "erasure" }.count == 2)
                #expect(try store.pupilsWithRecords().contains(pupilA) == false)
            }
            #expect(try area.la.recordRowsByPupil()[pupilA] == area["A"].recordRowsByPupil()[pupilA])
        }
    }

    /// Two sites write the same value to one field without seeing each other: both writes are
    /// kept (so the state is the same in any order) but there is nothing to review.
    @Test func equalValuesWrittenConcurrentlyAreNotAConflict() throws {
        try withTemporaryDirectory { dir in
            let (area, pupilA, _) = try Self.twoSchools(dir)
            try area.la.updatePupil(pupilA.description, PupilUpdate(yearGroup: 5), author: "LA")
            try area["A"].updatePupil(pupilA.description, PupilUpdate(yearGroup: 5), author: "SENCO A")
            try area.send("A", "LA")
            try area.send("LA", "A")
            #expect(try area.la.conflicts().isEmpty && area["A"].conflicts().isEmpty)
            let atLA = try area.la.findRecord(pupilA.description).state
            #expect(atLA == (try area["A"].findRecord(pupilA.description).state))
            #expect(atLA.fields["year_group"]?.heads.count == 2)
            // A different value concurrently still is one.
            try area.la.updatePupil(pupilA.description, PupilUpdate(yearGroup: 6), author: "LA")
            try area["A"].updatePupil(pupilA.description, PupilUpdate(yearGroup: 7), author: "SENCO A")
            try area.send("A", "LA")
            #expect(try area.la.conflicts().count == 1)
        }
    }

    // MARK: 7. A refusal changes nothing but the import log

    /// A bundle refused after its sender is known (here by the clock guard) is recorded in the
    /// import log and changes nothing else. Before: the sender was registered as a peer.
    @Test func aRefusedBundleChangesNothingButTheImportLog() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            let ahead = TestClock(start: baseMilliseconds + 30 * 3_600_000)
            let school = try Store.inMemory(
                identity: SiteIdentity(id: .v7(), name: "Ahead", kind: .maintainedSchool),
                la: area.la.publicIdentity, now: ahead.now)
            try area.la.addToDirectory(school.publicIdentity)
            try school.addPupil(Self.pupilA, author: "SENCO")
            let url = dir.appendingPathComponent("ahead.bundle")
            try school.makeBundle(to: [area.la.identity.id], at: url)
            let before = try Untouched(area.la)
            let imports = try area.la.importLogCount()
            let error = #expect(throws: BundleError.self) { try area.la.apply(bundleAt: url) }
            #expect(error?.code == .clockAhead)
            #expect(try Untouched(area.la) == before)
            #expect(try area.la.isPeer(school.identity.id) == false)
            #expect(try area.la.importLogCount() == imports + 1)
            #expect(try area.la.importLog(limit: 1).first?.sender == "Ahead")
        }
    }
}
