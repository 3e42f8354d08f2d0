import Foundation
import GRDB
import SENSync

/// `sensync-bench --writes`: what one local write costs, beside a plain single-row SQLite insert
/// transaction, and whether that cost follows the work or the size of the store.
///
/// A school store is built at 1× and at K× the pupils (one school, the synthetic pupils' plans,
/// outcomes, provision and notes). On each, the same number of local writes runs through the public
/// `Store` API, each in its own transaction as the CLI makes them: add a note to a pupil, edit a
/// pupil's forename, delete a provision item. The baseline inserts rows of the same shape as a
/// note into a plain WAL database (`synchronous=NORMAL`, as the store), one row per transaction
/// with a cached statement.
enum WritesBench {
    struct Phase {
        var add: [Double] = []
        var edit: [Double] = []
        var delete: [Double] = []
        var records = 0
    }

    static func run(_ options: Options) throws -> Report {
        let progress = Progress()
        let scratch = try ScratchFolder("writes-", keep: options.keep, progress: progress)
        defer { scratch.finish() }
        let folder = scratch.url
        let (machine, loadStart) = (scratch.machine, scratch.loadStart)
        let factor = options.scalingFactor
        let count = options.writes

        var phases: [Phase] = []
        var raws: [Double] = []
        var batches: [(store: Double, raw: Double, rows: Int)] = []
        for (tag, pupils) in [("1x", options.pupils), ("\(factor)x", options.pupils * factor)] {
            let area = try AreaBuilder.build(
                pupils: pupils, schools: 1, seed: options.seed, in: folder, tag: "writes-\(tag)",
                fileBackedSchools: true, batched: true, progress: progress)
            let school = area.schools[0]
            progress.say("[writes \(tag)] \(count) adds, edits and deletes, one transaction each")
            var phase = try measureWrites(school, count: count, seed: options.seed)
            phase.records = try recordCount(school.path!)
            phases.append(phase)
            raws.append(try rawInserts(count: count, at: folder.appendingPathComponent("raw-\(tag).sqlite").path))
            let batchRows = count * 10
            let batchStore = try measureBatch(school, count: batchRows, seed: options.seed)
            let batchRaw = try rawInserts(
                count: batchRows, at: folder.appendingPathComponent("raw-batch-\(tag).sqlite").path,
                oneTransaction: true)
            batches.append((batchStore, batchRaw, batchRows))
            progress.say(
                "[writes \(tag)] a batch of \(batchRows) notes in \(String(format: "%.3f", batchStore)) s; raw inserts of as many rows in one transaction \(String(format: "%.3f", batchRaw)) s"
            )
            progress.say(
                "[writes \(tag)] add \(micro(Bench.median(phase.add))), edit \(micro(Bench.median(phase.edit))), delete \(micro(Bench.median(phase.delete))); raw insert \(micro(raws.last!))"
            )
        }

        let report = Report()
        report.header = Report.header(seed: options.seed, machine: machine, loadStart: loadStart)
        let raw = Bench.median(raws)
        for (i, phase) in phases.enumerated() {
            let tag = i == 0 ? "1×" : "\(factor)×"
            report.section(
                "writes\(i == 0 ? "1x" : "Kx")", "Local writes at \(tag) (one school store)",
                note: "median of \(count) writes each; every write is its own transaction")
            report.add("records", "Record rows in the store", .int(phase.records))
            report.add("add", "Add a note to a pupil", .number(Bench.median(phase.add) * 1e6, digits: 0), "µs")
            report.add("edit", "Edit a pupil's forename", .number(Bench.median(phase.edit) * 1e6, digits: 0), "µs")
            report.add("delete", "Delete a provision item", .number(Bench.median(phase.delete) * 1e6, digits: 0), "µs")
            report.add("raw", "Raw single-row insert transaction", .number(raws[i] * 1e6, digits: 0), "µs")
            let batch = batches[i]
            report.add(
                "batch", "Batch: \(batch.rows) notes in one Store.batch",
                .number(Double(batch.rows) / batch.store, digits: 0),
                "changes/s")
            report.add(
                "rawBatch", "Raw: as many rows inserted in one transaction",
                .number(Double(batch.rows) / batch.raw, digits: 0),
                "rows/s")
        }
        for (i, batch) in batches.enumerated() {
            let share = batch.raw / batch.store
            report.bar(
                "batch\(i == 0 ? "1x" : "Kx")",
                "Batch write rate ÷ raw insert rate (one transaction each), at \(i == 0 ? "1" : "\(factor)")×",
                measured: String(format: "%.0f%%", share * 100), target: "≥ 50%", pass: share >= 0.5)
        }
        let one = phases[0]
        let addRatio = Bench.median(one.add) / raw
        report.bar(
            "localWrite", "Local write (add a note) ÷ raw single-row insert transaction, at 1×",
            measured: String(format: "%.2f×", addRatio), target: "≤ 1.5×", pass: addRatio <= 1.5)
        let bigAddRatio = Bench.median(phases[1].add) / raw
        report.bar(
            "localWriteKx", "Local write (add a note) ÷ raw single-row insert transaction, at \(factor)×",
            measured: String(format: "%.2f×", bigAddRatio), target: "≤ 1.5×", pass: bigAddRatio <= 1.5)
        for (key, label, small, big) in [
            ("add", "add", one.add, phases[1].add), ("edit", "edit", one.edit, phases[1].edit),
            ("delete", "delete", one.delete, phases[1].delete),
        ] {
            let ratio = Bench.median(big) / Bench.median(small)
            report.bar(
                "\(key)Scaling", "A local \(label) at \(factor)× the records ÷ at 1×",
                measured: String(format: "%.2f×", ratio), target: "≤ 1.2×", pass: ratio <= 1.2)
        }
        return report
    }

    /// The hidden mode: `sensync-bench --writes-child STORE COUNT [--batch | --delete]` adds COUNT
    /// notes to the store's pupils, each its own transaction (or all in one `Store.batch`), or
    /// deletes COUNT of its provision items, and prints the median (the mean) in microseconds: a
    /// process doing nothing else, to profile (`perf record`) one local write's cost.
    static let childFlag = "--writes-child"

    static func child(_ arguments: [String]) -> Int32 {
        let mode = arguments.count == 3 ? arguments[2] : nil
        guard arguments.count == 2 || mode == "--batch" || mode == "--delete",
            let count = Int(arguments[1]), count > 0
        else {
            FileHandle.standardError.write(
                Data("usage: sensync-bench \(childFlag) STORE COUNT [--batch | --delete]\n".utf8))
            return 2
        }
        let batched = mode == "--batch"
        do {
            let store = try Store.open(at: arguments[0])
            if mode == "--delete" {
                // Items picked outside the timing, as the bench's delete phase picks them.
                let items = try store.pupils().lazy.compactMap { pupil in
                    try? store.plans(of: pupil.id.description).first?.provision.first?.id.description
                }.prefix(count)
                var times: [Double] = []
                for item in Array(items) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try store.deleteRecord(item, author: "Bench")
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                print(micro(Bench.median(times)))
                return 0
            }
            let pupils = try store.pupils().map(\.id.description)
            guard !pupils.isEmpty else { throw BenchFailure("The store holds no pupils.") }
            var rng = SplitMix64(seed: 1)
            let notes = (0..<count).map { _ in
                (rng.pick(pupils), Lexicon.text(&rng, minChars: 80, maxChars: 300))
            }
            if batched {
                // With --batch: every note in one Store.batch; the mean per note.
                print(micro(try addInOneBatch(notes, to: store) / Double(count)))
                return 0
            }
            var times: [Double] = []
            for (pupil, text) in notes {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try store.addNote(pupil: pupil, text: text, author: "Bench")
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            print(micro(Bench.median(times)))
            return 0
        } catch {
            FileHandle.standardError.write(Data("sensync-bench \(childFlag): \(error)\n".utf8))
            return 1
        }
    }

    static func micro(_ seconds: Double) -> String { String(format: "%.0f µs", seconds * 1e6) }

    /// `count` adds, edits and deletes on pupils picked at random, each timed alone.
    static func measureWrites(_ school: SyntheticSite, count: Int, seed: UInt64) throws -> Phase {
        var rng = SplitMix64(seed: seed ^ 0x5752_4954_4553)
        let store = school.store
        let pupils = school.pupils
        var phase = Phase()
        func timed(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        for i in 0..<count {
            let pupil = rng.pick(pupils).description
            let text = Lexicon.text(&rng, minChars: 80, maxChars: 300)
            let author = rng.pick(Lexicon.people)
            phase.add.append(try timed { _ = try store.addNote(pupil: pupil, text: text, author: author) })
            let name = "\(rng.pick(Lexicon.forenames))-\(i)"
            phase.edit.append(
                try timed { _ = try store.updatePupil(pupil, PupilUpdate(forename: name), author: author) })
        }
        // Provision items to delete, one per pupil (looked up outside the timing).
        var targets: [String] = []
        for pupil in pupils.shuffled(using: &rng) where targets.count < count {
            if let item = try store.plans(of: pupil.description).first?.provision.first {
                targets.append(item.id.description)
            }
        }
        for target in targets {
            let author = rng.pick(Lexicon.people)
            phase.delete.append(try timed { _ = try store.deleteRecord(target, author: author) })
        }
        return phase
    }

    /// `count` notes on pupils picked at random, in one `Store.batch`; the seconds it took.
    static func measureBatch(_ school: SyntheticSite, count: Int, seed: UInt64) throws -> Double {
        var rng = SplitMix64(seed: seed ^ 0x4241_5443_48)
        let notes = (0..<count).map { _ in
            (rng.pick(school.pupils).description, Lexicon.text(&rng, minChars: 80, maxChars: 300))
        }
        return try addInOneBatch(notes, to: school.store)
    }

    /// Adds `notes` (pupil reference, text) in one `Store.batch`; the seconds it took.
    static func addInOneBatch(_ notes: [(String, String)], to store: Store) throws -> Double {
        let (_, seconds) = try measure {
            try store.batch {
                for (pupil, text) in notes { _ = try store.addNote(pupil: pupil, text: text, author: "Bench") }
            }
        }
        return seconds
    }

    static func recordCount(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in
            try RecordSchema.tables.reduce(0) {
                $0 + (try Int.fetchOne(db, sql: "SELECT count(*) FROM \($1.name)") ?? 0)
            }
        }
    }

    /// The median time of `count` single-row insert transactions into a plain WAL database, rows
    /// shaped like a note.
    static func rawInserts(count: Int, at path: String, oneTransaction: Bool = false) throws -> Double {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let pool = try DatabasePool(path: path, configuration: config)
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE note (pupil_id TEXT NOT NULL, id TEXT NOT NULL, text TEXT, area TEXT,
                      recorded_at TEXT, recorded_by TEXT, PRIMARY KEY (pupil_id, id))
                    """)
        }
        var rng = SplitMix64(seed: 7)
        let rows: [[(any DatabaseValueConvertible)?]] = (0..<count).map { _ in
            [
                UUID().uuidString.lowercased(), UUID().uuidString.lowercased(),
                Lexicon.text(&rng, minChars: 80, maxChars: 300), "communication", "2026-11-29T10:00:00.000Z",
                rng.pick(Lexicon.people),
            ]
        }
        if oneTransaction {
            let (_, seconds) = try measure {
                try pool.write { db in
                    let statement = try db.cachedStatement(sql: "INSERT INTO note VALUES (?, ?, ?, ?, ?, ?)")
                    for row in rows { try statement.execute(arguments: StatementArguments(row)) }
                }
            }
            return seconds
        }
        var times: [Double] = []
        for row in rows {
            let start = DispatchTime.now().uptimeNanoseconds
            try pool.write { db in
                try db.cachedStatement(sql: "INSERT INTO note VALUES (?, ?, ?, ?, ?, ?)")
                    .execute(arguments: StatementArguments(row))
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return Bench.median(times)
    }
}
