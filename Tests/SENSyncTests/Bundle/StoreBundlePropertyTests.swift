import Foundation
import GRDB
import Testing

@testable import SENSync

/// The merge laws end to end, in the scoped model: SQLite stores of one area — an LA, a trust, an
/// academy in that trust and a maintained school — written through the domain API (and the generic
/// write), exchanging real signed and sealed bundle files along the area's routes: academy → trust
/// → LA relays, the LA back to every site, direct sends, with late, repeated and mis-addressed
/// deliveries. Concurrent edits happen between every set of sites that see the same pupil: the
/// LA and the school that owns them; the trust, its academy and the LA. A fifth store, a rebuilt
/// copy of the academy (same site id and keys, empty), receives the academy's bundles out of
/// order and must refuse the ones it cannot apply without changing.
///
/// Checked throughout: each store that applies a bundle holds exactly the merge state of the
/// changes it holds (its digest and conflicts equal a memory replica's fed the changes read back
/// from its log), and every pair of stores that has seen the same changes — equal version
/// vectors and the same pupils held — has the same digest and the same open conflicts. After a
/// final gossip: every store has every site's whole chain, each site holds exactly the pupils it
/// may see, the LA's digest and conflicts equal a memory replica's fed every change made anywhere,
/// and each other site's equal those of a replica fed every change about its pupils — so its open
/// conflicts are the LA's restricted to its pupils.
///
/// Seeds are `0x5E45B001 + i`; `SENSYNC_PROPERTY_SEED` replays one, `SENSYNC_PROPERTY_SCHEDULES`
/// sets the count (default 200).
struct StoreBundlePropertyTests {
    static let baseSeed: UInt64 = 0x5E45_B001

    @Test(arguments: 0..<PropertySettings.shards)
    func storesConvergeOverBundleFiles(shard: Int) throws {
        var totals = StoreSchedule.Counts()
        for seed in PropertySettings.seeds(base: Self.baseSeed, property: "store-bundles", shard: shard) {
            try withTemporaryDirectory { dir in
                var schedule = StoreSchedule(seed: seed, folder: dir)
                schedule.run()
                schedule.log.report()
                totals.add(schedule.counts)
            }
        }
        // What the schedules exercised, so a change that makes them trivial shows.
        print("[store-bundles] shard \(shard): \(totals)")
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

/// One random schedule over an area's four stores and a rebuilt academy store.
struct StoreSchedule {
    static let la = 0, trust = 1, academy = 2, school = 3, rebuilt = 4
    static let names = ["LA", "trust", "academy", "school", "rebuilt academy"]
    /// Routes for single sends. The academy's own sends are listed twice: they acknowledge what it
    /// holds, so later bundles to it (which its rebuilt copy receives) leave out its own history.
    /// School ↔ trust bundles carry only skipped changes (neither sees the other's pupils).
    static let routes = [
        (academy, trust), (trust, la), (la, trust), (trust, academy), (la, academy), (academy, la), (school, la),
        (la, school),
        (academy, trust), (academy, la), (school, trust), (trust, school),
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
    /// Every bundle made: its file, sender, the recipient it is filed under and all its recipients
    /// (a bundle to several sites is filed once per recipient).
    var pool: [(url: URL, from: Int, to: Int, recipients: [Int])] = []
    var counter = 0
    /// Each store's version vector, refreshed after every write or import to it.
    var versionVectors: [VersionVector] = []
    /// The registered records each store holds (pupils, plans, and everything deletable), read
    /// again after the store changes.
    var holdings: [Holdings?] = []
    /// Each store's digest, conflicts and pupils held, kept until the store changes.
    var snapshots: [Int: Snapshot] = [:]

    /// What a schedule did.
    struct Counts: CustomStringConvertible {
        var schedules = 0
        var bundles = 0
        var changes = 0
        var applied = 0
        var skipped = 0
        var history = 0
        var duplicates = 0
        var alreadyApplied = 0
        var conflictsOpened = 0
        var openAtEnd = 0
        var refusedOutOfOrder = 0
        var refusedMisaddressed = 0
        /// Records of declared kinds created or edited through the generic writes, and refused.
        var kindWrites = 0
        var kindRefusals = 0

        mutating func add(_ other: Counts) {
            kindWrites += other.kindWrites
            kindRefusals += other.kindRefusals
            schedules += other.schedules
            bundles += other.bundles
            changes += other.changes
            applied += other.applied
            skipped += other.skipped
            history += other.history
            duplicates += other.duplicates
            alreadyApplied += other.alreadyApplied
            conflictsOpened += other.conflictsOpened
            openAtEnd += other.openAtEnd
            refusedOutOfOrder += other.refusedOutOfOrder
            refusedMisaddressed += other.refusedMisaddressed
        }

        var description: String {
            "\(schedules) schedules, \(changes) changes, \(bundles) bundles; applied \(applied) changes (\(history) as history), "
                + "\(skipped) skipped, \(duplicates) duplicates, \(alreadyApplied) bundles already applied; "
                + "\(conflictsOpened) conflicts opened, \(openAtEnd) open at the end; refused \(refusedOutOfOrder) out of order at the rebuilt store, "
                + "\(refusedMisaddressed) mis-addressed; \(kindWrites) writes of declared kinds (\(kindRefusals) refused by their rules)"
        }
    }
    var counts = Counts()

    struct Holdings {
        var livePupils: Set<RecordID>
        var livePlans: Set<RecordID>
        var all: Set<RecordID>
    }

    struct Snapshot {
        var digest: Digest32
        var conflicts: [StoreConflictSnapshot]
        var pupils: Set<RecordID>
        /// The changes held with their content: what decides the state.
        var held: Set<Dot>

        /// The conflicts in the form of ``MemoryReplica/conflictLines``.
        var conflictLines: [String] {
            conflicts.map {
                "\($0.key) \($0.field) \($0.kind) \($0.candidates.map { Dot(site: $0.site, seq: $0.seq) })"
            }.sorted()
        }
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
            let steps = rng.int(8...11)
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

    // MARK: Set-up

    mutating func setUp() throws {
        let kinds: [SiteKind] = [.la, .trust, .academy, .maintainedSchool]
        var identities: [SiteIdentity] = []
        for i in 0..<4 {
            identities.append(
                SiteIdentity(id: .v7(milliseconds: clock.now, using: &rng), name: Self.names[i], kind: kinds[i]))
        }
        let academyKeys = SiteKeys.generate()
        for i in 0..<5 {
            let skew = rng.pick([Int64(0), 0, 1000, -1000, 2500])!
            let now = clock.reader(offset: skew)
            let store =
                switch i {
                case Self.la: try Store.inMemory(identity: identities[i], now: now)
                case Self.academy, Self.rebuilt:
                    try Store.inMemory(
                        identity: identities[Self.academy], la: stores[Self.la].publicIdentity, keys: academyKeys,
                        now: now)
                default: try Store.inMemory(identity: identities[i], la: stores[Self.la].publicIdentity, now: now)
                }
            stores.append(store)
            log.step("\(Self.names[i]) site \(store.identity.id) skew \(skew) ms")
        }
        try stores[Self.la].addToDirectory(stores[Self.trust].publicIdentity)
        try stores[Self.la].addToDirectory(stores[Self.academy].publicIdentity, trust: stores[Self.trust].identity.id)
        try stores[Self.la].addToDirectory(stores[Self.school].publicIdentity)
        versionVectors = Array(repeating: VersionVector(), count: stores.count)
        holdings = Array(repeating: nil, count: stores.count)
        // The directory reaches every site with the LA's first bundle: one file, a section each.
        try send(from: Self.la, to: [Self.trust, Self.academy, Self.school], deliverNow: true)
        for _ in 0..<rng.int(2...3) { try addPupil(at: rng.pick([Self.academy, Self.school, Self.la])!) }
        // Mostly, the pupils reach every site that may see them before the schedule starts, so
        // concurrent edits are possible from the first step.
        if rng.chance(30) {
            for (from, to) in [
                (Self.academy, Self.trust), (Self.trust, Self.la), (Self.school, Self.la), (Self.la, Self.trust),
                (Self.la, Self.school), (Self.trust, Self.academy),
            ] {
                try send(from: from, to: to, deliverNow: true)
            }
        }
    }

    /// Reads store `s`'s version vector again and forgets what it holds.
    mutating func refresh(_ s: Int) throws {
        versionVectors[s] = try stores[s].versionVector()
        snapshots[s] = nil
        holdings[s] = nil
    }

    mutating func snapshot(_ s: Int) throws -> Snapshot {
        if let cached = snapshots[s] { return cached }
        let fresh = Snapshot(
            digest: try stores[s].digest(), conflicts: try stores[s].conflictSnapshot,
            pupils: try stores[s].heldPupils(),
            held: Set(try stores[s].storedChanges(includingRedacted: false).map(\.dot)))
        snapshots[s] = fresh
        return fresh
    }

    mutating func holding(_ s: Int) throws -> Holdings {
        if let h = holdings[s] { return h }
        let h = try stores[s].writer.read { db in
            func ids(_ sql: String) throws -> Set<RecordID> {
                Set(try String.fetchAll(db, sql: sql).compactMap(RecordID.init))
            }
            return Holdings(
                livePupils: try ids("SELECT id FROM pupil WHERE deleted = 0"),
                livePlans: try ids("SELECT id FROM support_plan WHERE deleted = 0"),
                all: try ids(
                    "SELECT id FROM pupil UNION SELECT id FROM support_plan UNION SELECT id FROM plan_outcome UNION SELECT id FROM provision_item"
                ))
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

    // MARK: Steps

    mutating func step() throws {
        let s = rng.below(4)
        switch rng.below(100) {
        case 0..<5: try addPupil(at: s)
        case 5..<11: try updatePupil(at: s)
        case 11..<17:
            // A record of a declared kind created or edited at one site.
            guard let pupil = rng.pick(try pupils(at: s)) else { return }
            for _ in 0..<rng.int(1...3) { try kindBurst(pupil: pupil, holders: [s]) }
        case 17..<22:
            guard let pupil = rng.pick(try pupils(at: s)) else { return }
            let text = "Concern \(rng.below(100)) — ✎"
            try domain(at: s, "note for \(pupil.short)") { store in
                "\(try store.addNote(pupil: pupil.description, text: text, area: .semh, author: "SENCO").short)"
            }
        case 22..<28: try createPlan(at: s)
        case 28..<34: try addToPlan(at: s)
        case 34..<39: try deleteOrRestore(at: s)
        case 39..<44: try resolveConflict(at: s)
        case 44..<48: try genericWrite(at: s)
        case 48..<64: try concurrentBurst()
        case 64..<84:
            let (from, to) = rng.pick(Self.routes)!
            // A bundle that would carry no change and no news of acknowledgement is mostly not sent.
            if try hasNews(from: from, to: to) || rng.chance(20) {
                try send(from: from, to: to, deliverNow: rng.chance(70))
            }
        case 84..<90:
            // The relay: academy → trust → LA.
            try send(from: Self.academy, to: Self.trust, deliverNow: true)
            try send(from: Self.trust, to: Self.la, deliverNow: true)
        case 90..<96: try deliverOld()
        default:
            // The rebuilt academy store catches up from bundles addressed to its site, in any order.
            // Mostly the newest, which leaves out what the academy has acknowledged holding.
            let candidates = pool.indices.filter { pool[$0].to == Self.academy }
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

    /// A pupil recorded at a school (enrolled there), or by the LA or the trust at a school (or,
    /// by the LA, at none).
    mutating func addPupil(at s: Int) throws {
        counter += 1
        let n = counter
        let school: SiteID? =
            switch s {
            case Self.la: rng.pick([stores[Self.academy].identity.id, stores[Self.school].identity.id, nil])!
            case Self.trust: stores[Self.academy].identity.id
            default: nil
            }
        let new = NewPupil(
            upn: syntheticUPN(n), forename: "Pupil", surname: "Number \(n)",
            dateOfBirth: "2016-0\(1 + n % 9)-1\(n % 10)",
            yearGroup: rng.int(0...6), school: school)
        var id: RecordID?
        try domain(at: s, "add pupil" + (school.map { " at \($0.short)" } ?? "")) { store in
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
            "→ \(try store.updatePupil(pupil.description, update, author: "SENCO"))"
        }
    }

    mutating func createPlan(at s: Int) throws {
        guard let pupil = rng.pick(try pupils(at: s)) else { return }
        let plan = NewSupportPlan(
            title: rng.pick(Self.words)!, reviewDate: "2026-0\(rng.int(2...9))-01", responsibleOrg: "School",
            responsiblePerson: "SENCO")
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
                id = try store.addOutcome(
                    plan: plan.description, description: "Reads \(number % 50) words", targetDate: "2026-07-01",
                    author: "SENCO")
            case 1:
                id = try store.addProvision(
                    plan: plan.description,
                    NewProvision(
                        description: "Small group", provider: "TA", frequency: "weekly", responsibleOrg: "School",
                        responsiblePerson: "SENCO", costPence: Int64(number)),
                    author: "SENCO")
            default:
                id = try store.recordReview(
                    plan: plan.description,
                    NewReview(
                        heldOn: "2026-01-10", summary: "Progress", decision: close ? .close : .continue,
                        nextReviewDate: close ? nil : "2026-0\(month)-15"),
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
            let result =
                restore
                ? try store.restoreRecord(id.description, author: "SENCO")
                : try store.deleteRecord(id.description, author: "SENCO")
            return "\(result.table) → \(result.receipt)"
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
        try domain(
            at: s,
            "resolve \(conflict.key.table)/\(conflict.key.id.short).\(conflict.field) (\(conflict.kind.rawValue)) = \(value)"
        ) { store in
            "→ \(try store.resolveConflict(record: conflict.key.id.description, field: conflict.field, value: value, author: "SENCO"))"
        }
    }

    /// The generic write: a plan's title together with a field this build does not know.
    mutating func genericWrite(at s: Int) throws {
        guard let plan = rng.pick(try plans(at: s)) else { return }
        let title = rng.pick(Self.words)!
        let flag = Int64(rng.int(-5...5))
        try domain(at: s, "generic write plan \(plan.short)") { store in
            let key = try store.findRecord(plan.description).key
            let op = RecordOp(
                table: key.table, id: key.id,
                writes: [FieldWrite("title", .text(title)), FieldWrite("#50", .integer(flag))])
            return "→ \(try store.write(author: "LA officer", scope: key.scope, ops: [op]))"
        }
    }

    /// Sites that see the same pupil change it without exchanging first: the LA and the school
    /// that owns the pupil; the LA, the trust and its academy.
    mutating func concurrentBurst() throws {
        var shared: [(pupil: RecordID, holders: [Int])] = []
        for pupil in pupils {
            let holders = try active.filter { try holding($0).livePupils.contains(pupil) }
            if holders.count >= 2 { shared.append((pupil, holders)) }
        }
        guard let (pupil, holders) = rng.pick(shared) else { return }
        if rng.chance(50) {
            // Concurrent edits of one record of a declared kind (every kind is covered).
            try kindBurst(pupil: pupil, holders: Array(rng.shuffled(holders).prefix(rng.int(2...3))))
            return
        }
        for s in rng.shuffled(holders).prefix(rng.int(2...3)) {
            if rng.chance(70) {
                let year = rng.int(0...6)
                try domain(at: s, "burst year group of \(pupil.short) = \(year)") { store in
                    "→ \(try store.updatePupil(pupil.description, PupilUpdate(yearGroup: year), author: "SENCO"))"
                }
            } else {
                try deleteOrRestore(at: s)
            }
        }
    }

    /// A value a person could type for `field` (dates mostly the same day, so date-order rules
    /// mostly hold; when they do not, the refusal is a legitimate outcome).
    mutating func typedValue(for field: FieldDefinition) -> String? {
        switch field.rule {
        case .text: return rng.pick(Self.words.filter { !$0.isEmpty })
        case .date: return rng.chance(70) ? "2026-01-05" : "2026-01-\(10 + rng.below(18))"
        case .code(let list): return CodeLists.named(list).flatMap { rng.pick($0.codes)?.code }
        case .codes(let list):
            guard let codes = CodeLists.named(list)?.codes else { return nil }
            return rng.shuffled(codes).prefix(rng.int(1...2)).map(\.code).joined(separator: ",")
        case .integer(let range): return String(range.lowerBound + Int64(rng.below(Int(min(range.count, 5)))))
        case .pence: return "\(rng.below(500)).50"
        case .flag: return rng.chance(50) ? "yes" : "no"
        case .site: return "here"
        case .reference: return nil
        }
    }

    /// Creates a record of a declared kind about `pupil` at the first holder (with its parent, if
    /// it has one), or edits one record all holders see, each on one of two fields.
    mutating func kindBurst(pupil: RecordID, holders: [Int]) throws {
        guard let first = holders.first else { return }
        // LA-only kinds where every holder is the LA.
        let kinds = SchemaCoverage.creatableKinds.compactMap { RecordSchema.kind($0) }.filter {
            $0.owner == .anySite || holders.allSatisfy { stores[$0].identity.kind == .la }
        }
        guard let kind = rng.pick(kinds) else { return }
        let existing = try stores[first].records(kind, of: pupil.description).map(\.id)
        guard let target = rng.pick(existing), rng.chance(70) else {
            var fields: [String: String] = [:]
            for field in kind.fields where field.isRequired && !field.isSystem {
                if case .reference(let table) = field.rule {
                    guard let parentKind = RecordSchema.kind(table),
                        let parent = rng.pick(try stores[first].records(parentKind, of: pupil.description))
                    else { return }
                    fields[field.name] = parent.id.description
                } else if let value = typedValue(for: field) {
                    fields[field.name] = value
                }
            }
            var wrote = false
            try domain(at: first, "add \(kind.name) for \(pupil.short)") { store in
                let id = try store.addRecord(kind, pupil: pupil.description, fields: fields, author: "SENCO")
                wrote = true
                return "→ \(id.short)"
            }
            if wrote { counts.kindWrites += 1 } else { counts.kindRefusals += 1 }
            return
        }
        let editable = SchemaCoverage.editableFields[kind.name] ?? []
        for s in holders {
            guard let spec = rng.pick(editable), let field = kind.field(spec.name), let value = typedValue(for: field)
            else { continue }
            var wrote = false
            try domain(at: s, "burst \(kind.name)/\(target.short).\(field.name) = \(value)") { store in
                let receipt = try store.updateRecord(
                    target.description, kind: kind, fields: [field.name: value], author: "SENCO")
                wrote = true
                return "→ \(receipt)"
            }
            if wrote { counts.kindWrites += 1 } else { counts.kindRefusals += 1 }
        }
    }

    // MARK: Bundles

    /// Whether a bundle from `from` to `to` would carry anything: changes `to` has not
    /// acknowledged, or an acknowledgement `to` has not had.
    mutating func hasNews(from: Int, to: Int) throws -> Bool {
        let sent = try stores[from].acknowledged(by: stores[to].identity.id)
        let heard = try stores[to].acknowledged(by: stores[from].identity.id)
        return !versionVectors[from].isCovered(by: sent) || heard != versionVectors[from]
    }

    mutating func send(from: Int, to: Int, deliverNow: Bool) throws {
        try send(from: from, to: [to], deliverNow: deliverNow)
    }

    mutating func send(from: Int, to recipients: [Int], deliverNow: Bool) throws {
        counter += 1
        let url = folder.appendingPathComponent(
            "\(counter)-\(Self.names[from])-to-\(recipients.map { Self.names[$0] }.joined(separator: "-")).bundle")
        let summary = try stores[from].makeBundle(to: recipients.map { stores[$0].identity.id }, at: url)
        counts.bundles += 1
        for (to, section) in zip(recipients, summary.header.sections) {
            pool.append((url, from, to, recipients))
            counts.history += Int(section.redactedCount)
            log.step(
                "bundle #\(pool.count - 1) \(Self.names[from]) → \(Self.names[to]): \(section.changeCount) changes, \(section.redactedCount) without content, \(section.checkpointCount) checkpoints"
            )
            if deliverNow { try deliver(pool.count - 1, at: to, late: false) }
        }
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
    /// late one at the rebuilt store may also be refused, and then the store must be unchanged.
    /// Returns whether it was applied (now or before).
    @discardableResult
    mutating func deliver(_ index: Int, at target: Int, late: Bool) throws -> Bool {
        let entry = pool[index]
        let store = stores[target]
        let addressed = entry.recipients.contains { stores[$0].identity.id == store.identity.id }
        // What a late delivery may not change if it is refused or was applied before.
        let before = late ? try snapshot(target) : nil
        let vv = versionVectors[target]
        let label = "deliver #\(index) (\(Self.names[entry.from]) → \(Self.names[entry.to])) at \(Self.names[target])"
        var applied = true
        do {
            let report = try store.apply(bundleAt: entry.url)
            log.step(
                "\(label): \(report.result.rawValue), \(report.applied) new, \(report.duplicates) duplicates, \(report.skipped) skipped, \(report.rejected.count) rejected"
            )
            log.check(addressed, "a bundle was applied at a store it is not addressed to")
            log.check(
                report.rejected.isEmpty, "changes were rejected: \(report.rejected.map { "\($0.dot): \($0.reason)" })")
            counts.applied += report.applied
            counts.skipped += report.skipped
            counts.duplicates += report.duplicates
            counts.conflictsOpened += report.conflictsOpened
            if report.result == .alreadyApplied { counts.alreadyApplied += 1 }
            try refresh(target)
            if report.result == .alreadyApplied {
                log.check(late, "a new bundle was reported as already applied")
                log.check(try snapshot(target).digest == before?.digest, "an already-applied bundle changed the store")
                log.check(versionVectors[target] == vv, "an already-applied bundle changed the version vector")
            } else {
                // What a store holds without a gap only grows.
                log.check(
                    versionVectors[target].dominates(vv),
                    "the version vector went back: \(versionVectors[target].entries), was \(vv.entries)")
                // Changes held only by their headers change no record: only merged ones can change the state.
                if report.applied + report.rejected.count + report.pupilsForgotten > 0 {
                    try checkAgainstReplica(target)
                }
            }
        } catch let error as BundleError
            where target == Self.rebuilt && [.missingPrerequisites, .unknownSender].contains(error.code)
        {
            // Out of order at the rebuilt copy: its own earlier changes (or the directory) have not reached it.
            log.step("\(label): refused, \(error.code.rawValue) \(error.missing.map(String.init(describing:)) ?? "")")
            counts.refusedOutOfOrder += 1
            applied = false
            log.check(late, "a new bundle was refused")
            // Changes name what they lack; a directory newer than the rebuilt copy's own (it
            // comes with the LA's bundle) is no range of changes, and the hint says so.
            log.check(
                error.code != .missingPrerequisites || error.missing != nil
                    || error.hint.contains("it brings the newer directory"),
                "a missing-prerequisites refusal named no range")
            log.check(try store.digest() == before?.digest, "a refused bundle changed the digest")
            log.check(try store.versionVector() == vv, "a refused bundle changed the version vector")
        } catch let error as BundleError where error.code == .notAddressedToThisSite && !addressed {
            log.step("\(label): refused, not addressed to it")
            counts.refusedMisaddressed += 1
            applied = false
            log.check(try store.digest() == before?.digest, "a mis-addressed bundle changed the store")
        } catch {
            log.step("\(label): threw")
            log.fail("a bundle was refused unexpectedly: \(error)")
            applied = false
        }
        // Pairs of stores that did not change were checked before.
        if versionVectors[target] != vv || snapshots[target] == nil { try checkEqualKnowledge(target) }
        return applied
    }

    /// The rebuilt academy store is handed every bundle ever addressed to the academy (the final
    /// gossip's included), shuffled, in passes until none applies any more: out-of-order bundles
    /// are refused unchanged and apply once their prerequisites have arrived. A bundle is not
    /// handed over again once applied (late deliveries check re-application).
    mutating func rebuiltCatchUp() throws {
        var waiting = pool.indices.filter { pool[$0].to == Self.academy }
        for pass in 1...4 {
            let before = versionVectors[Self.rebuilt]
            for index in rng.shuffled(waiting) {
                if try deliver(index, at: Self.rebuilt, late: true) { waiting.removeAll { $0 == index } }
            }
            if log.failed || versionVectors[Self.rebuilt] == before {
                log.step("rebuilt academy caught up after \(pass) passes")
                return
            }
        }
    }

    // MARK: Checks

    /// Store `s` holds exactly the merge state of the changes it holds: its digest and open
    /// conflicts equal those of a memory replica fed the changes read back from its log.
    mutating func checkAgainstReplica(_ s: Int, label: String? = nil) throws {
        let replica: MemoryReplica
        do {
            replica = try MemoryReplica.replaying(try stores[s].storedChanges(), as: stores[s].identity.id)
        } catch {
            log.fail("\(Self.names[s]): a memory replica refused the changes the store holds: \(error)")
            return
        }
        log.check(
            replica.digest() == (try snapshot(s).digest),
            "\(Self.names[s])'s state differs from a memory replica's fed the changes it holds")
        log.check(
            replica.conflictLines == (try snapshot(s).conflictLines),
            "\(Self.names[s])'s conflicts differ from a memory replica's fed the changes it holds")
    }

    /// Every store (the rebuilt one included) that holds the same changes as store `s` agrees with
    /// it. Called after `s` changed; pairs of unchanged stores were checked before.
    mutating func checkEqualKnowledge(_ s: Int) throws {
        let mine = try snapshot(s)
        for t in stores.indices where t != s {
            let other = try snapshot(t)
            guard other.held == mine.held else { continue }
            log.check(
                other.digest == mine.digest, "\(Self.names[s]) and \(Self.names[t]) hold the same changes but differ")
            log.check(
                other.conflicts == mine.conflicts,
                "\(Self.names[s]) and \(Self.names[t]) hold the same changes but have different conflicts: \(mine.conflicts) vs \(other.conflicts)"
            )
        }
    }

    /// Gossips through the LA (the academy by way of its trust) until a round changes nothing —
    /// the LA then holds every site's whole history, each other site all it may see — then checks
    /// the end state.
    mutating func finalGossip() throws {
        let star = [
            (Self.academy, [Self.trust]), (Self.trust, [Self.la]), (Self.school, [Self.la]),
            (Self.la, [Self.trust, Self.school]),
            (Self.trust, [Self.academy]),
        ]
        var rounds = 0
        while rounds < 8 {
            rounds += 1
            let before = try active.map { try snapshot($0) }.map { ($0.held, $0.pupils) }
            for (a, to) in star {
                try send(from: a, to: to, deliverNow: true)
                if log.failed { return }
            }
            let after = try active.map { try snapshot($0) }.map { ($0.held, $0.pupils) }
            if rounds > 1, zip(before, after).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) { break }
        }
        let la = stores[Self.la]
        let vv = versionVectors[Self.la]
        counts.schedules = 1
        counts.changes = Int(vv.total)
        counts.openAtEnd = try snapshot(Self.la).conflicts.count
        log.step(
            "final gossip: \(rounds) rounds, \(vv.total) changes, \(try la.conflicts().count) open conflicts at the LA")
        // The LA holds every site's whole history, with nothing left pending.
        let heads = try active.map { s in (stores[s].identity.id, try stores[s].versionVector()[stores[s].identity.id])
        }
        for (site, head) in heads where head > 0 {
            log.check(vv[site] == head, "the LA holds \(vv[site]) of \(site.short)'s \(head) changes")
        }

        // Every change made anywhere: each site's own chain, from its own store.
        var every: [StoredChange] = []
        for s in active { every += try stores[s].storedChanges().filter { $0.change.site == stores[s].identity.id } }
        every.sort { ($0.header.hlc, $0.change.site) < ($1.header.hlc, $1.change.site) }
        log.check(
            UInt64(every.count) == vv.total, "\(every.count) changes were made but the LA's chains hold \(vv.total)")

        // Who may see which pupil, from the LA's enrolments.
        var enrolledAt: [RecordID: Set<SiteID>] = [:]
        for pupil in try la.pupils(includeDeleted: true) { enrolledAt[pupil.id] = Set(pupil.schools) }
        let allPupils = Set(enrolledAt.keys)
        log.check(allPupils == Set(pupils), "the LA holds \(allPupils.count) pupils, \(pupils.count) were added")
        let academyID = stores[Self.academy].identity.id
        let entitled: [Set<RecordID>] = [
            allPupils,
            allPupils.filter { enrolledAt[$0]!.contains(academyID) },
            allPupils.filter { enrolledAt[$0]!.contains(academyID) },
            allPupils.filter { enrolledAt[$0]!.contains(stores[Self.school].identity.id) },
        ]
        let laConflicts = try la.conflictSnapshot
        for s in active {
            let name = Self.names[s]
            let held = try snapshot(s).pupils
            log.check(
                held == entitled[s],
                "\(name) holds pupils \(held.map(\.short).sorted()) but may see \(entitled[s].map(\.short).sorted())")
            let replica: MemoryReplica
            do {
                replica = try MemoryReplica.replaying(
                    every.filter { entitled[s].contains($0.header.scope) }, as: stores[s].identity.id)
            } catch {
                log.fail("a memory replica refused the changes about \(name)'s pupils: \(error)")
                continue
            }
            log.check(
                replica.digest() == (try snapshot(s).digest),
                "\(name)'s state differs from a memory replica's fed every change about its pupils")
            log.check(
                replica.conflictLines == (try snapshot(s).conflictLines),
                "\(name)'s conflicts differ from a memory replica's fed every change about its pupils")
            let restricted = laConflicts.filter { entitled[s].contains($0.key.scope) }
            let conflicts = try snapshot(s).conflicts
            log.check(
                conflicts == restricted,
                "\(name)'s open conflicts are not the LA's restricted to its pupils: \(conflicts) vs \(restricted)")
        }
        if log.failed { return }
        let full = try MemoryReplica.replaying(every, as: fixedID(0xEE))
        log.check(full.versionVector == vv, "the changes made anywhere are not the LA's chains")
    }
}

extension VersionVector {
    /// Whether `other` holds everything this vector does.
    func isCovered(by other: VersionVector) -> Bool { allSatisfy { other[$0.key] >= $0.value } }
}
