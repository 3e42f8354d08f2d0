import Foundation
import Testing

@testable import SENSync

/// The merge laws on in-memory replicas: random writes, deletes and concurrent edits at four to six
/// replicas, exchanged along random routes with duplicates, late (re-ordered) deliveries and
/// relays. Every pair of replicas that has seen the same changes must hold the same state and the
/// same open conflicts, at every step and after a final gossip.
///
/// Seeds are `0x5E450001 + i`; a failing seed prints its whole schedule. Replay one with
/// `SENSYNC_PROPERTY_SEED=0x…`; change the number of schedules with `SENSYNC_PROPERTY_SCHEDULES`.
struct MemoryReplicaPropertyTests {
    static let baseSeed: UInt64 = 0x5E45_0001

    @Test(arguments: 0..<PropertySettings.shards)
    func replicasConverge(shard: Int) {
        for seed in PropertySettings.seeds(base: Self.baseSeed, property: "memory-replicas", shard: shard) {
            var schedule = MemorySchedule(seed: seed)
            schedule.run()
            schedule.log.report()
        }
    }

    /// The generator is SplitMix64 exactly (the published reference outputs for seed 0), so a
    /// printed seed means the same schedule everywhere.
    @Test func generatorIsSplitMix64() {
        var rng = SplitMix64(seed: 0)
        #expect(
            [rng.next(), rng.next(), rng.next()] == [
                0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F,
            ])
        var bounded = SplitMix64(seed: 42)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let x = bounded.below(7)
            #expect((0..<7).contains(x))
            seen.insert(x)
        }
        #expect(seen.count == 7)
    }

    /// The schedule generator itself is deterministic: the same seed gives the same replicas.
    @Test func schedulesReplayExactly() {
        var first = MemorySchedule(seed: Self.baseSeed)
        first.run()
        var second = MemorySchedule(seed: Self.baseSeed)
        second.run()
        #expect(first.log.steps == second.log.steps)
        #expect(first.replicas.map { $0.digest() } == second.replicas.map { $0.digest() })
        #expect(first.log.steps.count > 40)
    }
}

/// One random schedule over ``MemoryReplica``s.
struct MemorySchedule {
    var rng: SplitMix64
    var log: ScheduleLog
    var replicas: [MemoryReplica] = []
    /// Each replica's clock offset from the shared wall clock, in milliseconds.
    var skews: [Int64] = []
    var wall: UInt64 = baseMilliseconds
    var pupils: [RecordID] = []
    /// Every batch ever exchanged, for late and repeated deliveries.
    var pool: [(from: Int, to: Int, changes: [EncodedChange])] = []
    var valueCounter = 0

    /// The few fields each table's edits choose from, so concurrent edits collide often.
    /// Every other kind the schema declares is edited on two of its own fields (see
    /// ``SchemaCoverage``), so a new kind is covered without touching this suite.
    static let editableFields: [String: [FieldSpec]] = [
        "pupil": [FieldSpec("forename"), FieldSpec("year_group", .integer), FieldSpec("sen_status")],
        "support_plan": [FieldSpec("title"), FieldSpec("status"), FieldSpec("#50", .integer)],
        "provision_item": [FieldSpec("frequency"), FieldSpec("cost_pence", .integer)],
        "enrolment": [FieldSpec("leaving_date")],
    ].merging(SchemaCoverage.editableFields) { mine, _ in mine }
    static let creatableTables = ["support_plan", "provision_item", "enrolment"] + SchemaCoverage.creatableKinds
    static let words = ["red", "green", "blue", "Zoë", "测试", "", "e\u{301}", "📚"]

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        log = ScheduleLog(property: "memory-replicas", seed: seed)
    }

    func now(_ i: Int) -> UInt64 { UInt64(Int64(wall) + skews[i]) }

    mutating func run() {
        let count = rng.int(4...6)
        for i in 0..<count {
            replicas.append(MemoryReplica(site: .v7(milliseconds: wall, using: &rng)))
            skews.append(rng.pick([0, 0, 0, 1000, -1000, 2500])!)
            log.step("replica r\(i) site \(replicas[i].site) skew \(skews[i]) ms")
        }
        for _ in 0..<rng.int(2...3) { createPupil(at: rng.below(count)) }
        let steps = rng.int(40...70)
        for _ in 0..<steps {
            if log.failed { return }
            if !rng.chance(40) { wall += UInt64(rng.int(1...1500)) }
            switch rng.below(100) {
            case 0..<28: edit(at: rng.below(count))
            case 28..<36: createRecord(at: rng.below(count))
            case 36..<41: addNote(at: rng.below(count))
            case 41..<48: toggleDeleted(at: rng.below(count))
            case 48..<58: concurrentBurst()
            case 58..<61: invalidChange(at: rng.below(count))
            case 61..<80: exchange(from: rng.below(count), to: rng.below(count))
            case 80..<87: relay()
            case 87..<95: redeliver()
            case 95..<97: initialPupil()
            default: commutativityCheck()
            }
        }
        if log.failed { return }
        finalGossip()
    }

    // MARK: Writes

    mutating func nextValue(for type: FieldType) -> Value {
        if rng.chance(10) { return .null }
        valueCounter += 1
        switch type {
        case .integer: return .integer(Int64(rng.int(-3...12)))
        case .text: return rng.chance(70) ? .text(rng.pick(Self.words)!) : .text("v\(valueCounter)")
        }
    }

    mutating func write(at r: Int, scope: RecordID, ops: [RecordOp], _ what: String) {
        do {
            let change = try replicas[r].write(author: "author \(r)", scope: scope, ops: ops, now: now(r))
            let rejected = replicas[r].rejected[change.dot].map { " (rejected: \($0))" } ?? ""
            log.step("r\(r) \(what) → \(change.dot) hlc \(change.hlc.rawValue)\(rejected)")
        } catch {
            log.step("r\(r) \(what) threw")
            log.fail("a local write threw \(error)")
        }
    }

    mutating func createPupil(at r: Int) {
        let id = RecordID.v7(milliseconds: wall, using: &rng)
        pupils.append(id)
        let ops = [
            RecordOp(
                table: "pupil", id: id,
                writes: [
                    FieldWrite("forename", .text("Pupil \(pupils.count)")), FieldWrite("sen_status", .text("N")),
                    FieldWrite("year_group", .integer(Int64(rng.int(0...6)))), FieldWrite("deleted", .integer(0)),
                ]),
            RecordOp(
                table: "enrolment", id: .v7(milliseconds: wall, using: &rng),
                writes: [FieldWrite("school_id", .text("\(replicas[r].site)"))]),
        ]
        write(at: r, scope: id, ops: ops, "create pupil \(id.short)")
    }

    mutating func initialPupil() {
        if pupils.count < 4 { createPupil(at: rng.below(replicas.count)) }
    }

    /// Record keys replica `r` holds, in key order, optionally only live or only deleted ones.
    func keys(at r: Int, where include: (RecordKey, RecordState) -> Bool = { _, _ in true }) -> [RecordKey] {
        replicas[r].records.filter { include($0.key, $0.value) }.keys.sorted()
    }

    func knownPupils(at r: Int) -> [RecordID] {
        pupils.filter { replicas[r].records[RecordKey(table: "pupil", scope: $0, id: $0)] != nil }
    }

    mutating func editOp(for key: RecordKey) -> (RecordOp, String)? {
        guard let fields = Self.editableFields[key.table], let field = rng.pick(fields) else { return nil }
        let value = nextValue(for: field.type)
        return (
            RecordOp(table: key.table, id: key.id, writes: [FieldWrite(field.name, value)]),
            "\(key.table)/\(key.id.short).\(field.name) = \(value)"
        )
    }

    mutating func edit(at r: Int) {
        let candidates = keys(at: r) { key, _ in Self.editableFields[key.table] != nil }
        guard let key = rng.pick(candidates), let (op, what) = editOp(for: key) else { return }
        var ops = [op]
        var text = "edit " + what
        // Sometimes one change edits two records of the same pupil.
        if rng.chance(20), let other = rng.pick(candidates.filter { $0.scope == key.scope && $0 != key }),
            let (op2, what2) = editOp(for: other)
        {
            ops.append(op2)
            text += " and " + what2
        }
        write(at: r, scope: key.scope, ops: ops, text)
    }

    mutating func createRecord(at r: Int) {
        guard let pupil = rng.pick(knownPupils(at: r)), let table = rng.pick(Self.creatableTables) else { return }
        let id = RecordID.v7(milliseconds: wall, using: &rng)
        var writes = [FieldWrite("deleted", .integer(0))]
        for field in Self.editableFields[table] ?? [] where rng.chance(70) {
            writes.append(FieldWrite(field.name, nextValue(for: field.type)))
        }
        write(
            at: r, scope: pupil, ops: [RecordOp(table: table, id: id, writes: writes)],
            "create \(table)/\(id.short) for \(pupil.short)")
    }

    mutating func addNote(at r: Int) {
        guard let pupil = rng.pick(knownPupils(at: r)) else { return }
        let id = RecordID.v7(milliseconds: wall, using: &rng)
        valueCounter += 1
        let ops = [
            RecordOp(
                table: "note", id: id,
                writes: [FieldWrite("text", .text("note \(valueCounter) ✎")), FieldWrite("area", .text("semh"))])
        ]
        write(at: r, scope: pupil, ops: ops, "note \(id.short) for \(pupil.short)")
    }

    mutating func toggleDeleted(at r: Int) {
        let candidates = keys(at: r) { key, _ in key.table != "note" }
        guard let key = rng.pick(candidates), let state = replicas[r].records[key] else { return }
        let value: Int64 = state.isDeleted ? 0 : 1
        write(
            at: r, scope: key.scope,
            ops: [RecordOp(table: key.table, id: key.id, writes: [FieldWrite("deleted", .integer(value))])],
            "\(value == 1 ? "delete" : "restore") \(key.table)/\(key.id.short)")
    }

    /// Two or three replicas that hold the same record write it without exchanging first.
    mutating func concurrentBurst() {
        var holders: [RecordKey: [Int]] = [:]
        for r in replicas.indices {
            for key in keys(at: r) where Self.editableFields[key.table] != nil { holders[key, default: []].append(r) }
        }
        let shared = holders.filter { $0.value.count >= 2 }.keys.sorted()
        guard let key = rng.pick(shared), let writers = holders[key] else { return }
        let chosen = Array(rng.shuffled(writers).prefix(rng.int(2...3)))
        let field = rng.pick(Self.editableFields[key.table] ?? [])
        for r in chosen {
            if rng.chance(20) {
                write(
                    at: r, scope: key.scope,
                    ops: [
                        RecordOp(
                            table: key.table, id: key.id,
                            writes: [FieldWrite("deleted", .integer(rng.chance(70) ? 1 : 0))])
                    ],
                    "burst delete/restore \(key.table)/\(key.id.short)")
            } else if let field {
                let value = nextValue(for: field.type)
                write(
                    at: r, scope: key.scope,
                    ops: [RecordOp(table: key.table, id: key.id, writes: [FieldWrite(field.name, value)])],
                    "burst \(key.table)/\(key.id.short).\(field.name) = \(value)")
            }
        }
    }

    /// A change every replica must reject the same way (kept in the chain, not merged).
    mutating func invalidChange(at r: Int) {
        let notes = keys(at: r) { key, _ in key.table == "note" }
        if rng.chance(50), let note = rng.pick(notes) {
            write(
                at: r, scope: note.scope,
                ops: [RecordOp(table: "note", id: note.id, writes: [FieldWrite("text", .text("changed"))])],
                "invalid: edit note \(note.id.short)")
        } else if let pupil = rng.pick(knownPupils(at: r)) {
            write(
                at: r, scope: pupil,
                ops: [RecordOp(table: "pupil", id: pupil, writes: [FieldWrite("year_group", .text("four"))])],
                "invalid: text year_group")
        }
    }

    // MARK: Exchanges

    /// Sends `from` everything `to` lacks; this must always apply.
    @discardableResult
    mutating func exchange(from a: Int, to b: Int, _ label: String = "exchange") -> Bool {
        guard a != b else { return false }
        let batch = replicas[a].changes(after: replicas[b].versionVector)
        pool.append((a, b, batch))
        do {
            let result = try replicas[b].apply(batch, now: now(b))
            log.step(
                "\(label) r\(a) → r\(b): \(batch.count) changes, \(result.filter { $0 == .duplicate }.count) duplicates"
            )
        } catch {
            log.step("\(label) r\(a) → r\(b): \(batch.count) changes threw")
            log.fail("a complete batch was refused: \(error)")
            return false
        }
        checkEqualKnowledge()
        return true
    }

    mutating func relay() {
        let order = rng.shuffled(Array(replicas.indices))
        if exchange(from: order[0], to: order[1], "relay") { exchange(from: order[1], to: order[2], "relay") }
    }

    /// Delivers an old batch (or a part of one) late, possibly to a replica it was not made for:
    /// it applies, is a harmless duplicate, or is refused for missing prerequisites and leaves the
    /// replica unchanged.
    mutating func redeliver() {
        guard let entry = rng.pick(pool) else { return }
        var batch = entry.changes
        var part = "whole"
        if batch.count > 1, rng.chance(30) {
            let cut = rng.int(1...(batch.count - 1))
            if rng.chance(50) {
                batch = Array(batch.prefix(cut))
                part = "first \(cut)"
            } else {
                batch = Array(batch.dropFirst(cut))
                part = "last \(batch.count)"
            }
        }
        let target = rng.chance(60) ? entry.to : rng.below(replicas.count)
        let before = replicas[target]
        do {
            let result = try replicas[target].apply(batch, now: now(target))
            log.step(
                "late r\(entry.from)→r\(entry.to) batch (\(part), \(batch.count)) at r\(target): applied, \(result.filter { $0 == .duplicate }.count) duplicates"
            )
            checkEqualKnowledge()
        } catch let error as MergeError where error.code == .missingPrerequisites {
            log.step(
                "late r\(entry.from)→r\(entry.to) batch (\(part), \(batch.count)) at r\(target): refused, \(error.missing.map(String.init(describing:)) ?? "?")"
            )
            log.check(error.missing != nil, "a missing-prerequisites refusal named no range")
            log.check(replicas[target].digest() == before.digest(), "a refused batch changed the state")
            log.check(
                replicas[target].versionVector == before.versionVector, "a refused batch changed the version vector")
        } catch {
            log.step("late batch at r\(target) threw")
            log.fail("an old batch was refused with \(error)")
        }
    }

    /// Two concurrent batches commute, and re-applying one changes nothing.
    mutating func commutativityCheck() {
        guard replicas.count >= 3 else { return }
        let order = rng.shuffled(Array(replicas.indices))
        let (c, a, b) = (order[0], order[1], order[2])
        let fromA = replicas[a].changes(after: replicas[c].versionVector)
        let fromB = replicas[b].changes(after: replicas[c].versionVector)
        var ab = replicas[c]
        var ba = replicas[c]
        do {
            try ab.apply(fromA, now: now(c))
            try ab.apply(fromB, now: now(c))
            try ba.apply(fromB, now: now(c))
            try ba.apply(fromA, now: now(c))
            log.step("commute at r\(c): r\(a) (\(fromA.count)) and r\(b) (\(fromB.count))")
            log.check(ab.digest() == ba.digest(), "concurrent batches do not commute")
            log.check(ab.versionVector == ba.versionVector, "concurrent batches give different version vectors")
            log.check(ab.conflictSnapshot == ba.conflictSnapshot, "concurrent batches give different conflicts")
            log.check(ab.rejected == ba.rejected, "concurrent batches give different rejections")
            let digest = ab.digest()
            let again = try ab.apply(fromA, now: now(c))
            log.check(again.allSatisfy { $0 == .duplicate }, "re-applying a batch was not all duplicates")
            log.check(ab.digest() == digest, "re-applying a batch changed the state")
        } catch {
            log.step("commute at r\(c) threw")
            log.fail("commutativity check threw \(error)")
        }
    }

    // MARK: Checks

    /// Every pair of replicas with the same version vector holds the same state and conflicts.
    mutating func checkEqualKnowledge() {
        var groups: [VersionVector: [Int]] = [:]
        for r in replicas.indices { groups[replicas[r].versionVector, default: []].append(r) }
        for group in groups.values where group.count > 1 {
            let first = replicas[group[0]]
            let digest = first.digest()
            let conflicts = first.conflictSnapshot
            for r in group.dropFirst() {
                log.check(replicas[r].digest() == digest, "r\(group[0]) and r\(r) saw the same changes but differ")
                log.check(
                    replicas[r].conflictSnapshot == conflicts,
                    "r\(group[0]) and r\(r) saw the same changes but have different conflicts: \(conflicts) vs \(replicas[r].conflictSnapshot)"
                )
                log.check(replicas[r].rejected == first.rejected, "r\(group[0]) and r\(r) rejected different changes")
            }
        }
    }

    mutating func finalGossip() {
        var rounds = 0
        var moved = true
        while moved && rounds < 10 {
            moved = false
            rounds += 1
            for a in replicas.indices {
                for b in replicas.indices where a != b {
                    let batch = replicas[a].changes(after: replicas[b].versionVector)
                    guard !batch.isEmpty else { continue }
                    moved = true
                    do { try replicas[b].apply(batch, now: now(b)) } catch {
                        log.fail("final gossip r\(a) → r\(b) threw \(error)")
                        return
                    }
                }
            }
        }
        let vv = replicas[0].versionVector
        log.step(
            "final gossip: \(rounds) rounds, \(vv.total) changes, \(replicas[0].openConflicts.count) open conflicts, \(replicas[0].records.count) records"
        )
        for r in replicas.indices { log.check(replicas[r].versionVector == vv, "r\(r) did not receive everything") }
        checkEqualKnowledge()
        let all = replicas[0].changes(after: VersionVector())
        checkAnyCausalOrder(all)
        // Idempotence: everything again is all duplicates.
        var again = replicas[0]
        do {
            let result = try again.apply(all, now: now(0))
            log.check(result.allSatisfy { $0 == .duplicate }, "re-applying everything was not all duplicates")
            log.check(again.digest() == replicas[0].digest(), "re-applying everything changed the state")
        } catch {
            log.fail("re-applying everything threw \(error)")
        }
    }

    /// A fresh replica fed every change in a random causal order agrees with the others.
    mutating func checkAnyCausalOrder(_ all: [EncodedChange]) {
        var queues: [SiteID: [(decoded: Change, encoded: EncodedChange)]] = [:]
        for change in all {
            guard let decoded = try? change.decoded() else {
                log.fail("a stored change does not decode")
                return
            }
            queues[change.site, default: []].append((decoded, change))
        }
        var applied = VersionVector()
        var order: [EncodedChange] = []
        let sites = queues.keys.sorted()
        while order.count < all.count {
            let ready = sites.filter { site in
                guard let next = queues[site]?.first?.decoded else { return false }
                return next.deps.allSatisfy { applied[$0.key] >= $0.value || $0.key == site }
            }
            guard let site = rng.pick(ready), let next = queues[site]?.removeFirst() else {
                log.fail("no causal order exists for the changes")
                return
            }
            applied.advance(to: next.decoded.dot)
            order.append(next.encoded)
        }
        var fresh = MemoryReplica(site: .v7(milliseconds: wall, using: &rng))
        do {
            try fresh.apply(order, now: wall + 86_400_000)
        } catch {
            log.fail("a causal order was refused: \(error)")
            return
        }
        log.check(fresh.digest() == replicas[0].digest(), "a random causal order gives a different state")
        log.check(
            fresh.conflictSnapshot == replicas[0].conflictSnapshot, "a random causal order gives different conflicts")
        log.check(fresh.rejected == replicas[0].rejected, "a random causal order rejects different changes")
    }
}
