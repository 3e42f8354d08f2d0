import Foundation
import GRDB
import Testing

@testable import SENSync

/// The merge laws end to end: SQLite stores written through the domain API (and the generic write),
/// exchanging real bundle files along an area's routes — school → trust → LA relays, LA → school,
/// direct sends — with late, repeated and mis-addressed deliveries. A fifth store, a rebuilt copy of
/// one school (same site id, empty), receives that school's bundles out of order and must refuse
/// the ones it cannot apply without changing.
///
/// Every pair of stores that holds the same changes has the same digest and the same open
/// conflicts, at every step and after a final gossip; the converged store also matches an
/// in-memory replica fed the same changes.
///
/// Seeds are `0x5E45B001 + i`; `SENSYNC_PROPERTY_SEED` replays one, `SENSYNC_PROPERTY_SCHEDULES`
/// sets the count.
struct StoreBundlePropertyTests {
    static let baseSeed: UInt64 = 0x5E45_B001

    @Test(arguments: 0..<PropertySettings.shards)
    func storesConvergeOverBundleFiles(shard: Int) throws {
        for seed in PropertySettings.seeds(base: Self.baseSeed, property: "store-bundles", shard: shard) {
            try withTemporaryDirectory { dir in
                var schedule = StoreSchedule(seed: seed, folder: dir)
                schedule.run()
                schedule.log.report()
            }
        }
    }
}

/// A shared wall clock; each store reads it through its own offset.
final class SimulatedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var wall: UInt64

    init(start: UInt64) { wall = start }

    var now: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return wall
    }

    func advance(milliseconds: UInt64) {
        lock.lock()
        wall += milliseconds
        lock.unlock()
    }

    func reader(offset: Int64) -> @Sendable () -> UInt64 {
        { UInt64(Int64(self.now) + offset) }
    }
}

/// One random schedule over four stores (LA, trust, two schools) and a rebuilt school store.
struct StoreSchedule {
    static let la = 0, trust = 1, school1 = 2, school2 = 3, rebuilt = 4
    static let names = ["LA", "trust", "school1", "school2", "rebuilt school2"]
    /// Routes for single sends. School 2's own sends are listed twice: they acknowledge what it
    /// holds, so later bundles to it (which its rebuilt copy receives) leave out its own history.
    static let routes = [
        (school1, trust), (school2, trust), (trust, la), (la, school1), (la, school2), (trust, school1), (trust, school2),
        (school1, la), (school2, la), (la, trust), (school2, trust), (school2, la),
    ]
    static let words = ["Literacy", "Numeracy", "Zoë’s plan", "Speech 📣", "测试", "Motor skills", "nul\u{0}in title"]

    var rng: SplitMix64
    var log: ScheduleLog
    let folder: URL
    let clock = SimulatedClock(start: baseMilliseconds)
    var stores: [Store] = []
    var pupils: [RecordID] = []
    var plans: [RecordID] = []
    /// Records the domain API can delete or restore.
    var deletable: [RecordID] = []
    var pool: [(url: URL, from: Int, to: Int)] = []
    var counter = 0
    /// Each store's version vector, refreshed after every write or import to it.
    var versionVectors: [VersionVector] = []
    /// The registered records each store holds (pupils, plans, and everything deletable), read
    /// again after the store changes.
    var holdings: [Holdings?] = []
    /// Each store's digest and conflicts, kept until its version vector moves (a store's state
    /// changes only with the changes it holds).
    var snapshots: [Int: (digest: Digest32, conflicts: [StoreConflictSnapshot])] = [:]

    struct Holdings {
        var livePupils: Set<RecordID>
        var livePlans: Set<RecordID>
        var all: Set<RecordID>
    }

    init(seed: UInt64, folder: URL) {
        rng = SplitMix64(seed: seed)
        log = ScheduleLog(property: "store-bundles", seed: seed)
        self.folder = folder
    }

    var active: Range<Int> { 0..<4 }

    mutating func run() {
        do {
            try setUp()
            let steps = rng.int(16...24)
            for _ in 0..<steps {
                if log.failed { return }
                if !rng.chance(40) { clock.advance(milliseconds: UInt64(rng.int(1...1500))) }
                try step()
            }
            if log.failed { return }
            try finalGossip()
            if log.failed { return }
            try rebuiltCatchUp()
        } catch {
            log.fail("unexpected error: \(error)")
        }
    }

    mutating func setUp() throws {
        let kinds: [SiteKind] = [.la, .trust, .academy, .academy]
        var identities: [SiteIdentity] = []
        for i in 0..<4 {
            identities.append(SiteIdentity(id: .v7(milliseconds: clock.now, using: &rng), name: Self.names[i], kind: kinds[i]))
        }
        identities.append(identities[Self.school2])
        for (i, identity) in identities.enumerated() {
            let skew = rng.pick([Int64(0), 0, 1000, -1000, 2500])!
            stores.append(try Store.inMemory(identity: identity, now: clock.reader(offset: skew)))
            log.step("\(Self.names[i]) site \(identity.id) skew \(skew) ms")
        }
        for i in active {
            for j in active where j != i { try stores[i].addPeer(stores[j].identity) }
        }
        versionVectors = Array(repeating: VersionVector(), count: stores.count)
        holdings = Array(repeating: nil, count: stores.count)
        for _ in 0..<rng.int(2...3) { try addPupil(at: rng.pick([Self.school1, Self.school2])!) }
    }

    /// Reads store `s`'s version vector again and forgets what it holds.
    mutating func refresh(_ s: Int) throws {
        let vv = try stores[s].versionVector()
        if vv != versionVectors[s] { snapshots[s] = nil }
        versionVectors[s] = vv
        holdings[s] = nil
    }

    mutating func snapshot(_ s: Int) throws -> (digest: Digest32, conflicts: [StoreConflictSnapshot]) {
        if let cached = snapshots[s] { return cached }
        let fresh = (try stores[s].digest(), try stores[s].conflictSnapshot)
        snapshots[s] = fresh
        return fresh
    }

    mutating func holding(_ s: Int) throws -> Holdings {
        if let h = holdings[s] { return h }
        let h = try stores[s].writer.read { db in
            func ids(_ sql: String) throws -> Set<RecordID> { Set(try String.fetchAll(db, sql: sql).compactMap(RecordID.init)) }
            return Holdings(
                livePupils: try ids("SELECT id FROM pupil WHERE deleted = 0"),
                livePlans: try ids("SELECT id FROM support_plan WHERE deleted = 0"),
                all: try ids("SELECT id FROM pupil UNION SELECT id FROM support_plan UNION SELECT id FROM plan_outcome UNION SELECT id FROM provision_item"))
        }
        holdings[s] = h
        return h
    }

    /// Registered pupils store `s` holds (live), in registration order.
    mutating func pupils(at s: Int) throws -> [RecordID] {
        let held = try holding(s).livePupils
        return pupils.filter(held.contains)
    }

    mutating func plans(at s: Int) throws -> [RecordID] {
        let held = try holding(s).livePlans
        return plans.filter(held.contains)
    }

    mutating func step() throws {
        let s = rng.below(4)
        switch rng.below(100) {
        case 0..<6: try addPupil(at: s)
        case 6..<20: try updatePupil(at: s)
        case 20..<25:
            guard let pupil = rng.pick(try pupils(at: s)) else { return }
            let text = "Concern \(rng.below(100)) — ✎"
            try domain(at: s, "note for \(pupil.short)") { store in
                "\(try store.addNote(pupil: pupil.description, text: text, area: .semh, author: "SENCO").short)"
            }
        case 25..<31: try createPlan(at: s)
        case 31..<37: try addToPlan(at: s)
        case 37..<42: try deleteOrRestore(at: s)
        case 42..<45: try resolveConflict(at: s)
        case 45..<49: try genericWrite(at: s)
        case 49..<59: try concurrentBurst()
        case 59..<77:
            let (from, to) = rng.pick(Self.routes)!
            try send(from: from, to: to, deliverNow: rng.chance(70))
        case 77..<83:
            let school = rng.pick([Self.school1, Self.school2])!
            try send(from: school, to: Self.trust, deliverNow: true)
            try send(from: Self.trust, to: Self.la, deliverNow: true)
        case 83..<91: try deliverOld()
        default:
            // The rebuilt school store catches up from bundles addressed to its site, in any order.
            // Mostly the newest, which leaves out what school 2 has acknowledged holding.
            let candidates = pool.indices.filter { pool[$0].to == Self.school2 }
            guard let index = rng.chance(60) ? candidates.last : rng.pick(candidates) else { return }
            try deliver(index, at: Self.rebuilt, late: true)
        }
    }

    // MARK: Writes

    /// Runs a domain write; a `StoreError` is a legitimate refusal (unknown or deleted record, …).
    mutating func domain(at s: Int, _ what: String, _ body: (Store) throws -> String?) throws {
        do {
            guard let detail = try body(stores[s]) else { return }
            log.step("\(Self.names[s]) \(what) \(detail)")
            try refresh(s)
        } catch let error as StoreError {
            log.step("\(Self.names[s]) \(what) refused: \(error.code.rawValue)")
            log.check(
                [.notFound, .recordDeleted, .invalidInput, .appendOnly].contains(error.code),
                "a domain write failed with \(error.code.rawValue): \(error.message)")
        }
    }

    mutating func addPupil(at s: Int) throws {
        counter += 1
        let n = counter
        var id: RecordID?
        let new = NewPupil(
            upn: syntheticUPN(n), forename: "Pupil", surname: "Number \(n)", dateOfBirth: "2016-0\(1 + n % 9)-1\(n % 10)",
            yearGroup: rng.int(0...6))
        try domain(at: s, "add pupil") { store in
            id = try store.addPupil(new, author: "SENCO")
            return id.map { "\($0.short)" }
        }
        if let id {
            pupils.append(id)
            deletable.append(id)
        }
    }

    mutating func updatePupil(at s: Int) throws {
        guard let pupil = rng.pick(try pupils(at: s)) else { return }
        let update: PupilUpdate
        switch rng.below(4) {
        case 0: update = PupilUpdate(senStatus: "K", senNeeds: rng.pick(["SPLD", "ASD,SLCN", "SEMH", "NSA"])!)
        case 1: update = PupilUpdate(senStatus: rng.pick(["N", "E"])!)
        case 2: update = PupilUpdate(forename: rng.pick(["Ada", "Zoë", "Bo"])!)
        default: update = PupilUpdate(yearGroup: rng.int(0...6))
        }
        try domain(at: s, "update pupil \(pupil.short)") { store in
            "→ \(try store.updatePupil(pupil.description, update, author: "SENCO").dot)"
        }
    }

    mutating func createPlan(at s: Int) throws {
        guard let pupil = rng.pick(try pupils(at: s)) else { return }
        let plan = NewSupportPlan(
            title: rng.pick(Self.words)!, reviewDate: "2026-0\(rng.int(2...9))-01", responsibleOrg: "School", responsiblePerson: "SENCO")
        var id: RecordID?
        try domain(at: s, "create plan for \(pupil.short)") { store in
            id = try store.createPlan(pupil: pupil.description, plan, author: "SENCO")
            return id.map { "\($0.short)" }
        }
        if let id {
            plans.append(id)
            deletable.append(id)
        }
    }

    mutating func addToPlan(at s: Int) throws {
        guard let plan = rng.pick(try plans(at: s)) else { return }
        let kind = rng.below(3)
        let number = rng.int(0...90_000)
        let close = rng.chance(25)
        let month = rng.int(3...9)
        var id: RecordID?
        try domain(at: s, ["outcome", "provision", "review"][kind] + " on plan \(plan.short)") { store in
            switch kind {
            case 0:
                id = try store.addOutcome(plan: plan.description, description: "Reads \(number % 50) words", targetDate: "2026-07-01", author: "SENCO")
            case 1:
                id = try store.addProvision(
                    plan: plan.description,
                    NewProvision(description: "Small group", provider: "TA", frequency: "weekly", costPence: Int64(number)), author: "SENCO")
            default:
                id = try store.recordReview(
                    plan: plan.description,
                    NewReview(heldOn: "2026-01-10", summary: "Progress", decision: close ? .close : .continue, nextReviewDate: close ? nil : "2026-0\(month)-15"),
                    author: "SENCO")
            }
            return id.map { "\($0.short)" }
        }
        if let id, kind < 2 { deletable.append(id) }
    }

    mutating func deleteOrRestore(at s: Int) throws {
        let held = try holding(s).all
        guard let id = rng.pick(deletable.filter(held.contains)) else { return }
        let restore = rng.chance(40)
        try domain(at: s, restore ? "restore \(id.short)" : "delete \(id.short)") { store in
            let result = restore ? try store.restoreRecord(id.description, author: "SENCO") : try store.deleteRecord(id.description, author: "SENCO")
            return "\(result.table) → \(result.receipt.dot)"
        }
    }

    mutating func resolveConflict(at s: Int) throws {
        // Ordered by what a replay reproduces (record ids come from the system's generator).
        let conflicts = try stores[s].conflicts().sorted {
            "\($0.key.table) \($0.field) \($0.kind) \($0.candidates.map { Dot(site: $0.site, seq: $0.seq) })"
                < "\($1.key.table) \($1.field) \($1.kind) \($1.candidates.map { Dot(site: $0.site, seq: $0.seq) })"
        }
        guard let conflict = rng.pick(conflicts), let candidate = rng.pick(conflict.candidates) else { return }
        let value: Value = conflict.kind == .editedWhileDeleted ? .integer(rng.chance(50) ? 1 : 0) : candidate.value
        try domain(at: s, "resolve \(conflict.key.table)/\(conflict.key.id.short).\(conflict.field) (\(conflict.kind.rawValue)) = \(value)") { store in
            "→ \(try store.resolveConflict(record: conflict.key.id.description, field: conflict.field, value: value, author: "SENCO").dot)"
        }
    }

    /// The generic write: a plan's title together with a field this build does not know.
    mutating func genericWrite(at s: Int) throws {
        guard let plan = rng.pick(try plans(at: s)) else { return }
        let title = rng.pick(Self.words)!
        let flag = Int64(rng.int(-5...5))
        try domain(at: s, "generic write plan \(plan.short)") { store in
            let key = try store.findRecord(plan.description).key
            let op = RecordOp(table: key.table, id: key.id, writes: [FieldWrite("title", .text(title)), FieldWrite("future_flag", .integer(flag))])
            return "→ \(try store.write(author: "LA officer", scope: key.scope, ops: [op]).dot)"
        }
    }

    /// Stores that hold the same pupil change it without exchanging first.
    mutating func concurrentBurst() throws {
        guard let pupil = rng.pick(pupils) else { return }
        let holders = try active.filter { try holding($0).livePupils.contains(pupil) }
        guard holders.count >= 2 else { return }
        for s in rng.shuffled(holders).prefix(rng.int(2...3)) {
            if rng.chance(70) {
                let year = rng.int(0...6)
                try domain(at: s, "burst year group of \(pupil.short) = \(year)") { store in
                    "→ \(try store.updatePupil(pupil.description, PupilUpdate(yearGroup: year), author: "SENCO").dot)"
                }
            } else {
                try deleteOrRestore(at: s)
            }
        }
    }

    // MARK: Bundles

    mutating func send(from: Int, to: Int, deliverNow: Bool) throws {
        counter += 1
        let url = folder.appendingPathComponent("\(counter)-\(Self.names[from])-to-\(Self.names[to]).bundle")
        let summary = try stores[from].makeBundle(to: [stores[to].identity.id], at: url)
        pool.append((url, from, to))
        log.step("bundle #\(pool.count - 1) \(Self.names[from]) → \(Self.names[to]): \(summary.header.changeCount) changes")
        if deliverNow { try deliver(pool.count - 1, at: to, late: false) }
    }

    /// Delivers an old bundle late: to its recipient, or to a store it is not addressed to.
    mutating func deliverOld() throws {
        guard !pool.isEmpty else { return }
        let index = rng.below(pool.count)
        let entry = pool[index]
        var target = entry.to
        if rng.chance(15) {
            target = rng.pick(active.filter { $0 != entry.to })!
        }
        try deliver(index, at: target, late: true)
    }

    /// Applies bundle `index` at store `target`. A fresh bundle at its recipient must apply; a
    /// late one may also be refused, and then the store must be unchanged.
    mutating func deliver(_ index: Int, at target: Int, late: Bool) throws {
        let entry = pool[index]
        let store = stores[target]
        let addressed = store.identity.id == stores[entry.to].identity.id
        let digest = late ? try snapshot(target).digest : nil
        let vv = versionVectors[target]
        let label = "deliver #\(index) (\(Self.names[entry.from]) → \(Self.names[entry.to])) at \(Self.names[target])"
        do {
            let report = try store.apply(bundleAt: entry.url)
            log.step("\(label): \(report.result.rawValue), \(report.applied) new, \(report.duplicates) duplicates, \(report.rejected.count) rejected")
            log.check(addressed, "a bundle was applied at a store it is not addressed to")
            try refresh(target)
            if report.result == .alreadyApplied {
                log.check(late, "a new bundle was reported as already applied")
                log.check(try store.digest() == digest, "an already-applied bundle changed the store")
            }
            log.check(versionVectors[target].total == vv.total + UInt64(report.applied + report.rejected.count), "the version vector moved by more than the changes applied")
        } catch let error as BundleError where error.code == .missingPrerequisites && target == Self.rebuilt {
            log.step("\(label): refused, missing \(error.missing.map(String.init(describing:)) ?? "?")")
            log.check(late, "a new bundle was refused")
            log.check(error.missing != nil, "a missing-prerequisites refusal named no range")
            log.check(try store.digest() == digest, "a refused bundle changed the digest")
            log.check(try store.versionVector() == vv, "a refused bundle changed the version vector")
        } catch let error as BundleError where error.code == .notAddressedToThisSite && !addressed {
            log.step("\(label): refused, not addressed to it")
            log.check(try store.digest() == digest, "a mis-addressed bundle changed the store")
        } catch {
            log.step("\(label): threw")
            log.fail("a bundle was refused unexpectedly: \(error)")
        }
        try checkEqualKnowledge(target)
    }

    /// The rebuilt school store is handed every bundle ever addressed to school 2 (the final
    /// gossip's included), shuffled, in passes until none applies any more: out-of-order bundles
    /// are refused unchanged and apply once their prerequisites have arrived.
    mutating func rebuiltCatchUp() throws {
        let addressed = pool.indices.filter { pool[$0].to == Self.school2 }
        for pass in 1...3 {
            let before = versionVectors[Self.rebuilt]
            for index in rng.shuffled(addressed) { try deliver(index, at: Self.rebuilt, late: true) }
            if log.failed || versionVectors[Self.rebuilt] == before {
                log.step("rebuilt school2 caught up after \(pass) passes")
                return
            }
        }
    }

    // MARK: Checks

    /// Every store (the rebuilt one included) that holds the same changes as store `s` agrees
    /// with it. Called after `s` changed; pairs of unchanged stores were checked before.
    mutating func checkEqualKnowledge(_ s: Int) throws {
        let twins = stores.indices.filter { $0 != s && versionVectors[$0] == versionVectors[s] }
        guard !twins.isEmpty else { return }
        let mine = try snapshot(s)
        for t in twins {
            let other = try snapshot(t)
            log.check(other.digest == mine.digest, "\(Self.names[s]) and \(Self.names[t]) hold the same changes but differ")
            log.check(
                other.conflicts == mine.conflicts,
                "\(Self.names[s]) and \(Self.names[t]) hold the same changes but have different conflicts: \(mine.conflicts) vs \(other.conflicts)")
        }
    }

    /// Gossips through the trust (schools and LA to the trust, then back) until every store
    /// holds every change.
    mutating func finalGossip() throws {
        let star = [
            (Self.school1, Self.trust), (Self.school2, Self.trust), (Self.la, Self.trust), (Self.trust, Self.la),
            (Self.trust, Self.school1), (Self.trust, Self.school2),
        ]
        var rounds = 0
        while rounds < 3 {
            rounds += 1
            for (a, b) in star where !versionVectors[a].isCovered(by: versionVectors[b]) || b == Self.school2 {
                try send(from: a, to: b, deliverNow: true)
                if log.failed { return }
            }
            let vvs = try active.map { try stores[$0].versionVector() }
            if Set(vvs).count == 1 { break }
        }
        let vv = try stores[0].versionVector()
        let conflicts = try stores[0].conflicts()
        log.step("final gossip: \(rounds) rounds, \(vv.total) changes, \(conflicts.count) open conflicts")
        for s in stores.indices { try refresh(s) }
        for s in active { log.check(versionVectors[s] == vv, "\(Self.names[s]) did not receive everything") }
        try checkEqualKnowledge(Self.la)
        let status = try active.map { try stores[$0].status().openConflicts }
        log.check(Set(status).count == 1, "stores count different open conflicts: \(status)")
        try compareWithMemoryReplica()
    }

    /// The converged store matches an in-memory replica fed the same changes: the SQLite codec
    /// keeps exactly the merge state.
    mutating func compareWithMemoryReplica() throws {
        let outsider = UUID128.v7(milliseconds: clock.now, using: &rng)
        let url = folder.appendingPathComponent("all.bundle")
        try stores[Self.la].makeBundle(to: [outsider], at: url)
        var replica = MemoryReplica(site: outsider)
        do {
            try replica.apply(try changes(inBundleAt: url), now: clock.now + 86_400_000)
        } catch {
            log.fail("a memory replica refused the store's changes: \(error)")
            return
        }
        log.check(replica.versionVector == (try stores[Self.la].versionVector()), "the full bundle does not hold every change")
        log.check(replica.digest() == (try stores[Self.la].digest()), "the store's state differs from a memory replica's fed the same changes")
        let storeConflicts = try stores[Self.la].conflicts().map { "\($0.key) \($0.field) \($0.kind) \($0.candidates.map { Dot(site: $0.site, seq: $0.seq) })" }
        let memoryConflicts = replica.openConflicts.map { "\($0.key) \($0.conflict.field) \($0.conflict.kind) \(([$0.conflict.winner] + $0.conflict.losers).map(\.dot))" }
        log.check(storeConflicts.sorted() == memoryConflicts.sorted(), "the store's conflicts differ from a memory replica's")
    }
}

extension VersionVector {
    /// Whether `other` holds everything this vector does.
    func isCovered(by other: VersionVector) -> Bool { allSatisfy { other[$0.key] >= $0.value } }
}
