import Foundation
import GRDB
import Testing

@testable import SENSync

/// Acceptance: in random areas, one site's key is handed to an attacker. Between the honest steps
/// of a ``ScopeSchedule`` (pupils, records, transfers by the LA and by schools, trust changes,
/// erasures, bundles delivered late, twice or never), the attacker — running the compromised
/// site's own store — builds bundles from arbitrary changes and sends them along any route:
///
/// - changes in another site's name (fresh ones signed with its own key, or another site's
///   genuine change with altered content under that site's genuine signature), mixed in with
///   genuine changes;
/// - genuine changes of any site it holds, passed on with their content or without it (to hide
///   them), to sites that may or may not see them;
/// - changes in its own name about pupils it never had;
/// - its ordinary bundles, to sites it has no business sending to.
///
/// Checked: every bundle with a forged item is refused with nothing changed and recorded; the
/// attacker's own changes about pupils it never had are rejected (and reported) wherever they
/// arrive; then, after gossip along the legal routes, every honest store holds exactly what it
/// may see, with the LA's records; no store holds a change unlike the one its site made; no
/// forged change is held anywhere; the LA holds every site's whole history.
///
/// Seeds `0xADD0_0000 + i`; `SENSYNC_PROPERTY_SCHEDULES` sets the count (default 200, run as
/// a quarter of it: 50), `SENSYNC_PROPERTY_SEED` replays one.
struct AdversarialPropertyTests {
    static let property = "adversary: one stolen key harms no honest site"
    static let baseSeed: UInt64 = 0xADD0_0000

    static func seeds(shard: Int) -> [UInt64] {
        if let seed = PropertySettings.replaySeed { return shard == 0 ? [seed] : [] }
        let count = max(1, PropertySettings.scheduleCount / 4)
        let first = baseSeed + PropertySettings.seedOffset
        if shard == 0 {
            print(
                "[\(property)] base seed \(PropertySettings.hex(baseSeed)), \(count) areas (seeds \(PropertySettings.hex(first))…\(PropertySettings.hex(first + UInt64(count) - 1)); SENSYNC_PROPERTY_SCHEDULES=4×areas, SENSYNC_PROPERTY_OFFSET to start further on, SENSYNC_PROPERTY_SEED to replay one)"
            )
        }
        return (0..<UInt64(count)).map { first + $0 }.enumerated().filter {
            $0.offset % PropertySettings.shards == shard
        }
        .map(\.element)
    }

    @Test(arguments: 0..<PropertySettings.shards)
    func oneStolenKeyHarmsNoHonestSite(shard: Int) throws {
        var totals = Adversary.Counts()
        for seed in Self.seeds(shard: shard) {
            var log = ScheduleLog(property: Self.property, seed: seed)
            do {
                try withTemporaryDirectory { dir in
                    let schedule = try ScopeSchedule(folder: dir, seed: seed, property: Self.property)
                    defer { log = schedule.log }
                    let attacker = schedule.rng.pick(schedule.area.names.filter { $0 != "LA" })!
                    let adversary = Adversary(name: attacker, seed: seed ^ 0xBAD_5EED)
                    schedule.attacker = attacker
                    schedule.attack = { try adversary.act(in: $0) }
                    schedule.log.step("the attacker holds \(attacker)'s key")
                    // A first schedule and a gossip, so every store holds others' changes to replay;
                    // then a second schedule, and gossip until quiet.
                    try schedule.run()
                    try schedule.gossipUntilQuiet()
                    try schedule.run()
                    try schedule.gossipUntilQuiet()
                    try schedule.checkEveryStore()
                    try adversary.checkNothingForgedIsHeld(in: schedule)
                    totals.add(adversary.counts)
                }
            } catch {
                log.fail("threw \(error)")
            }
            log.report()
        }
        print("[\(Self.property)] shard \(shard): \(totals)")
    }
}

/// The attacker: the compromised site's store and key, and what it has forged.
final class Adversary {
    struct Counts: CustomStringConvertible {
        var forgedRefused = 0
        var replays = 0
        var replayedRefusedItems = 0
        var ownRejected = 0
        var strayBundles = 0

        mutating func add(_ other: Counts) {
            forgedRefused += other.forgedRefused
            replays += other.replays
            replayedRefusedItems += other.replayedRefusedItems
            ownRejected += other.ownRejected
            strayBundles += other.strayBundles
        }

        var description: String {
            "\(forgedRefused) forged bundles refused, \(replays) replays (\(replayedRefusedItems) items refused), \(ownRejected) own changes rejected, \(strayBundles) stray bundles"
        }
    }

    let name: String
    var rng: SplitMix64
    var forgedLeaves: Set<Digest32> = []
    var counts = Counts()
    private var serial = 0

    init(name: String, seed: UInt64) {
        self.name = name
        rng = SplitMix64(seed: seed)
    }

    func act(in s: ScopeSchedule) throws {
        let victim = rng.pick(s.area.names.filter { $0 != name })!
        switch rng.below(4) {
        case 0: try forge(in: s, to: victim)
        case 1: try replay(in: s, to: victim)
        case 2: try writeAboutAPupilItNeverHad(in: s, to: victim)
        default: try sendStray(in: s, to: victim)
        }
    }

    private func url(_ s: ScopeSchedule, _ what: String) -> URL {
        serial += 1
        return s.area.bundles.appendingPathComponent("attack-\(serial)-\(what).bundle")
    }

    /// Genuine changes the attacker's store holds of other sites, with their checkpoints and
    /// audit paths.
    private func genuine(in s: ScopeSchedule) throws -> [(EncodedChange, Checkpoint, [Digest32])] {
        let store = s.area[name]
        return try store.writer.read { db in
            var tx = try StoreTransaction(db)
            var result: [(EncodedChange, Checkpoint, [Digest32])] = []
            for other in s.area.names where other != name {
                let site = s.area.id(other)
                for checkpoint in try Store.checkpoints(of: site, db: db, sites: tx.sites) {
                    var leaves: [Digest32]? = []
                    for seq in checkpoint.first...checkpoint.last {
                        guard let held = try tx.heldChange(Dot(site: site, seq: seq)) else {
                            leaves = nil
                            break
                        }
                        leaves?.append(held.leaf)
                    }
                    for seq in checkpoint.first...checkpoint.last {
                        guard let change = try tx.heldChange(Dot(site: site, seq: seq)) else { continue }
                        let index = Int(seq - checkpoint.first)
                        let path =
                            try leaves.map { Merkle.path(for: index, in: $0) }
                            ?? Store.storedProof(of: change.dot, db: db, sites: tx.sites)
                        if let path, checkpoint.proves(change.leaf, at: seq, path: path) {
                            result.append((change, checkpoint, path))
                        }
                    }
                }
            }
            return result
        }
    }

    private func forgeBase(_ s: ScopeSchedule) throws -> BundleForge {
        let store = s.area[name]
        var forge = BundleForge(sender: store.identity, keys: try store.keys())
        forge.directoryVersion = try store.directory()?.version ?? 0
        return forge
    }

    /// A bundle carrying a forged change, sometimes among genuine ones: refused, nothing changed.
    private func forge(in s: ScopeSchedule, to victim: String) throws {
        let keys = try s.area[name].keys()
        let genuine = try genuine(in: s)
        var forge = try forgeBase(s)
        // A few genuine changes first, each under its own checkpoint with its path.
        for (change, checkpoint, path) in genuine.shuffled(using: &rng).prefix(rng.int(0...3)) {
            forge.entries.append(.checkpoint(checkpoint, isComplete: false))
            forge.entries.append(.change(change, checkpoint: forge.entries.count / 2, path: path))
        }
        let others = s.area.names.filter { $0 != name }
        let origin = s.area.id(rng.pick(others)!)
        let pupil = rng.pick(s.created) ?? .v7(milliseconds: baseMilliseconds)
        let kind: String
        if let (original, checkpoint, path) = rng.pick(genuine), rng.chance(50) {
            // Another site's genuine change, its content altered, under its genuine checkpoint.
            var altered = original
            if var content = altered.content, !content.isEmpty {
                content[rng.below(content.count)] ^= 0x01
                altered = EncodedChange(site: altered.site, seq: altered.seq, header: altered.header, content: content)
            } else {
                // A bit of its HLC (bytes 1–8, after the version): a payload carries a header as
                // its decoded fields, so the altered header must still decode.
                altered.header[1 + rng.below(8)] ^= 0x01
            }
            forge.entries.append(.checkpoint(checkpoint, isComplete: false))
            forge.entries.append(.change(altered, checkpoint: forge.entries.count / 2, path: path))
            forgedLeaves.insert(altered.leaf)
            kind = "altered \(altered.dot)"
        } else {
            // A fresh change in another site's name, signed with the attacker's own key.
            let seq = UInt64(rng.int(1...6))
            let ops =
                rng.chance(50)
                ? [
                    RecordOp(
                        table: RecordSchema.erasure.name, id: .v7(milliseconds: baseMilliseconds),
                        writes: [FieldWrite("reason", .text("forged"))])
                ]
                : [
                    RecordOp(
                        table: "note", id: .v7(milliseconds: baseMilliseconds),
                        writes: [FieldWrite("text", .text("forged note"))])
                ]
            let change = try Change(
                site: origin, seq: seq, hlc: HLC(milliseconds: baseMilliseconds + 60_000, counter: 1),
                author: "forger", scope: pupil, deps: VersionVector(), directoryVersion: forge.directoryVersion,
                ops: ops
            ).encoded()
            forge.entries.append(
                .checkpoint(
                    try Checkpoint.make(site: origin, first: seq, leaves: [change.leaf], previous: .zero, keys: keys),
                    isComplete: true))
            forge.entries.append(.change(change, checkpoint: forge.entries.count / 2, path: nil))
            forgedLeaves.insert(change.leaf)
            kind = "fresh \(change.dot)"
        }
        // Checkpoints must come first in a payload.
        forge.entries = Self.renumbered(forge.entries)
        let target = s.area[victim]
        let file = url(s, "forged")
        try forge.write(to: target.publicIdentity, at: file)
        let before = try TrustTheMergeTests.Untouched(target)
        let imports = try target.importLogCount()
        do {
            _ = try target.apply(bundleAt: file)
            s.log.fail("\(victim) applied a bundle forged by \(name) (\(kind))")
        } catch let error as BundleError {
            // Refused as forged; or, for an altered header, as unreadable (damaged). Either way
            // recorded, and nothing else changed.
            s.log.check(
                [.badSignature, .damaged].contains(error.code),
                "\(victim) refused \(name)'s forged bundle (\(kind)) as \(error.code), not as forged")
            s.log.check(
                try target.importLogCount() == imports + 1, "\(victim) did not record the forged bundle's refusal")
            counts.forgedRefused += 1
        }
        s.log.check(try TrustTheMergeTests.Untouched(target) == before, "a forged bundle changed \(victim)")
        s.log.step("\(name) forges \(kind) to \(victim): refused")
    }

    /// Entries reordered so checkpoints come first: the change entries' checkpoint numbers are
    /// renumbered to match.
    static func renumbered(_ entries: [BundleForge.Entry]) -> [BundleForge.Entry] {
        // Pairs were appended as (checkpoint, change) with the change naming its pair's index.
        var checkpoints: [BundleForge.Entry] = []
        var changes: [BundleForge.Entry] = []
        for entry in entries {
            switch entry {
            case .checkpoint: checkpoints.append(entry)
            case .change(let change, _, let path):
                changes.append(.change(change, checkpoint: changes.count, path: path))
            case .holdings: changes.append(entry)
            }
        }
        return checkpoints + changes
    }

    /// Genuine changes passed on, with or without their content, to any site.
    private func replay(in s: ScopeSchedule, to victim: String) throws {
        let chosen = try genuine(in: s).shuffled(using: &rng).prefix(rng.int(1...6))
        guard !chosen.isEmpty else { return }
        var forge = try forgeBase(s)
        var pairs: [BundleForge.Entry] = []
        for (change, checkpoint, path) in chosen.sorted(by: { $0.0.dot < $1.0.dot }) {
            pairs.append(.checkpoint(checkpoint, isComplete: false))
            pairs.append(.change(rng.chance(40) ? change.redacted() : change, checkpoint: 0, path: path))
        }
        forge.entries = Self.renumbered(pairs)
        let target = s.area[victim]
        let file = url(s, "replay")
        try forge.write(to: target.publicIdentity, at: file)
        counts.replays += 1
        do {
            let report = try target.apply(bundleAt: file)
            counts.replayedRefusedItems += report.refused.count
            s.log.step(
                "\(name) replays \(chosen.count) genuine change(s) to \(victim): applied \(report.applied), duplicates \(report.duplicates), skipped \(report.skipped), refused \(report.refused.count)"
            )
        } catch let error as BundleError where error.code == .missingPrerequisites {
            s.log.step("\(name) replays \(chosen.count) genuine change(s) to \(victim): refused, missing prerequisites")
        }
    }

    /// A change in the attacker's own name about a pupil it never had (or no longer has): kept but
    /// rejected wherever it goes.
    private func writeAboutAPupilItNeverHad(in s: ScopeSchedule, to victim: String) throws {
        let store = s.area[name]
        let mine = Set(try store.pupils().map(\.id))
        guard let pupil = rng.pick(s.created.filter { !mine.contains($0) }) else { return }
        let dot = try store.writer.write { db -> Dot? in
            var tx = try StoreTransaction(db)
            let change = Change(
                site: store.identity.id, seq: try tx.prefix(of: store.identity.id) + 1,
                hlc: tx.clock.tick(now: store.now()), author: "attacker", scope: pupil,
                deps: VersionVector(), directoryVersion: try tx.directoryVersion(),
                ops: [
                    RecordOp(
                        table: "note", id: .v7(milliseconds: store.now()),
                        writes: [FieldWrite("text", .text("planted by the attacker"))])
                ])
            let applier = ChangeApplier(clockGuardMilliseconds: .max / 2, now: store.now())
            let disposition = try applier.apply(try change.encoded(), to: &tx)
            try tx.flush()
            guard case .rejected = disposition else { return nil }
            return change.dot
        }
        guard let dot else { return }
        s.injected.insert(dot)
        let file = url(s, "own")
        let target = s.area[victim]
        try store.makeBundle(to: [target.identity.id], at: file)
        do {
            let report = try target.apply(bundleAt: file)
            let rejected = report.rejected.contains { $0.dot == dot && $0.reason.contains("never entitled") }
            // Held anywhere, it is held as rejected, never merged.
            let held = try target.storedChanges().first { $0.dot == dot }
            s.log.check(
                held.map { $0.isRejected || $0.change.isRedacted } ?? true, "\(victim) merged \(name)'s planted change")
            if rejected { counts.ownRejected += 1 }
            s.log.step(
                "\(name) plants \(dot) about \(pupil.short) and sends it to \(victim): \(rejected ? "rejected" : "not taken")"
            )
        } catch let error as BundleError where error.code == .missingPrerequisites {
            s.log.step("\(name) plants \(dot) and sends it to \(victim): refused, missing prerequisites")
        }
    }

    /// An ordinary bundle of the attacker's to a site it does not normally send to.
    private func sendStray(in s: ScopeSchedule, to victim: String) throws {
        let file = url(s, "stray")
        let target = s.area[victim]
        try s.area[name].makeBundle(to: [target.identity.id], at: file)
        counts.strayBundles += 1
        do {
            let report = try target.apply(bundleAt: file)
            s.log.step(
                "\(name) sends a stray bundle to \(victim): applied \(report.applied), refused \(report.refused.count)")
        } catch let error as BundleError where error.code == .missingPrerequisites {
            s.log.step("\(name) sends a stray bundle to \(victim): refused, missing prerequisites")
        }
    }

    /// No store holds a forged change.
    func checkNothingForgedIsHeld(in s: ScopeSchedule) throws {
        for site in s.area.names {
            let held = Set(try s.area[site].storedChanges().map(\.change.leaf))
            let forged = held.intersection(forgedLeaves)
            s.log.check(forged.isEmpty, "\(site) holds \(forged.count) forged change(s)")
        }
    }
}

extension Array {
    /// A copy shuffled with a seeded generator.
    func shuffled(using rng: inout SplitMix64) -> [Element] { rng.shuffled(self) }
}
