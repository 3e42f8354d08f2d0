import Foundation
import GRDB
import SENSync

/// `sensync-bench --history N`: whether a bundle with nothing new costs the work (nothing) or the
/// history a store holds.
///
/// One school of `--pupils` pupils (2,000 by default) is given N changes of history: its pupils
/// written as the other modes write them, then forename edits, many per pupil (a long year of
/// edits), recorded in batches. The school and the LA then exchange full bundles both ways, so
/// each holds everything and knows the other does. What is timed is a bundle with nothing new, each
/// way (median of 5): the goal is ≤ 50 ms at 1,000,000 changes held.
enum HistoryBench {
    static func run(_ options: Options) throws -> Report {
        let progress = Progress()
        let scratch = try ScratchFolder("history-", keep: options.keep, progress: progress)
        defer { scratch.finish() }
        let folder = scratch.url
        let (machine, loadStart) = (scratch.machine, scratch.loadStart)
        let target = options.history

        let area = try AreaBuilder.build(
            pupils: options.pupils, schools: 1, seed: options.seed, in: folder, tag: "history",
            fileBackedSchools: true, batched: true, progress: progress)
        let school = area.schools[0]
        let la = area.la
        var rng = SplitMix64(seed: options.seed ^ 0x4849_5354)
        var held = Int(try school.store.versionVector().total)
        let (_, editSeconds) = try measure {
            var edits = 0
            while held < target {
                let count = min(5_000, target - held)
                try school.store.batch {
                    for i in 0..<count {
                        let pupil = rng.pick(school.pupils).description
                        let name = "\(rng.pick(Lexicon.forenames))-\(edits + i)"
                        _ = try school.store.updatePupil(pupil, PupilUpdate(forename: name), author: "Bench")
                    }
                }
                edits += count
                held += count
                if edits % 100_000 < count { progress.say("[history] \(held) changes held by the school") }
            }
        }
        held = Int(try school.store.versionVector().total)
        progress.say("[history] school -> LA: a full bundle of \(held) changes")
        let (up, upSeconds) = try measure {
            try school.store.makeBundle(to: [la.identity.id], at: folder.appendingPathComponent("up.bundle"))
        }
        let (_, upApplySeconds) = try measure { try la.store.apply(bundleAt: up.url) }
        progress.say("[history] LA -> school: its acknowledgement")
        let (down, downSeconds) = try measure {
            try la.store.makeBundle(to: [school.identity.id], at: folder.appendingPathComponent("down.bundle"))
        }
        _ = try school.store.apply(bundleAt: down.url)
        // A second round: each now knows what the other holds.
        let again = try school.store.makeBundle(
            to: [la.identity.id], at: folder.appendingPathComponent("up-again.bundle"))
        _ = try la.store.apply(bundleAt: again.url)

        progress.say("[history] bundles with nothing new, each way (5 each)")
        func nothingNew(from: Store, to: SiteID, name: String) throws -> (seconds: Double, bytes: Int, changes: Int) {
            var times: [Double] = []
            var last: BundleSummary?
            for i in 0..<5 {
                let (bundle, t) = try measure {
                    try from.makeBundle(to: [to], at: folder.appendingPathComponent("\(name)-\(i).bundle"))
                }
                times.append(t)
                last = bundle
            }
            return (Bench.median(times), Int(last!.fileSize), Int(last!.header.changeCount))
        }
        let schoolEmpty = try nothingNew(from: school.store, to: la.identity.id, name: "school-empty")
        let laEmpty = try nothingNew(from: la.store, to: school.identity.id, name: "la-empty")
        try school.store.checkpoint()
        let storeBytes = (try? FileManager.default.attributesOfItem(atPath: school.path!)[.size] as? Int) ?? 0
        let space = try StoreSpace.measure(school.path!)

        let report = Report()
        report.header = Report.header(seed: options.seed, machine: machine, loadStart: loadStart)
        report.section(
            "history", "A store with a long history (one school, \(options.pupils) pupils)",
            note:
                "history is the pupils' records, then forename edits in batches of 5,000; bundles with nothing new are the median of 5, after a full exchange each way"
        )
        report.add("held", "changes held by the school", .int(held))
        report.add("edits_seconds", "writing the history", .number(editSeconds, digits: 1), "s")
        report.add("store_bytes", "school store file after checkpoint", .int(storeBytes), "B")
        report.add(
            "live_records", "records: live / deleted (tombstones)",
            .text("\(space.liveRecords) / \(space.deletedRecords)"))
        report.add("record_bytes", "record tables and their indexes", .int(space.recordBytes), "B")
        report.add("change_log_bytes", "change log (content, chain proofs)", .int(space.changeLogBytes), "B")
        report.add("scope_index_bytes", "per-pupil change index (scope_change)", .int(space.scopeIndexBytes), "B")
        report.add("other_bytes", "everything else (free pages included)", .int(storeBytes - space.accounted), "B")
        report.add(
            "store_over_records", "store file ÷ record tables",
            .number(Double(storeBytes) / Double(max(1, space.recordBytes)), digits: 2), "×")
        report.add("full_up_seconds", "full bundle school -> LA: create", .number(upSeconds, digits: 1), "s")
        report.add("full_up_bytes", "full bundle school -> LA: bytes", .int(Int(up.fileSize)), "B")
        report.add("full_up_apply_seconds", "full bundle school -> LA: apply", .number(upApplySeconds, digits: 1), "s")
        report.add("ack_seconds", "LA -> school acknowledgement: create", .number(downSeconds, digits: 2), "s")
        report.add(
            "school_empty_ms", "school -> LA, nothing new: create", .number(schoolEmpty.seconds * 1000, digits: 1), "ms"
        )
        report.add("school_empty_bytes", "school -> LA, nothing new: bytes", .int(schoolEmpty.bytes), "B")
        report.add("la_empty_ms", "LA -> school, nothing new: create", .number(laEmpty.seconds * 1000, digits: 1), "ms")
        report.add("la_empty_bytes", "LA -> school, nothing new: bytes", .int(laEmpty.bytes), "B")
        for (key, label, measured) in [
            ("schoolEmpty", "school -> LA", schoolEmpty), ("laEmpty", "LA -> school", laEmpty),
        ] {
            report.bar(
                key, "empty delta (\(label)) ≤ 50 ms at 1,000,000 changes held",
                measured: String(
                    format: "%.1f ms at %d changes held (%d changes sent)", measured.seconds * 1000, held,
                    measured.changes),
                target: "≤ 50 ms at 1,000,000",
                pass: held >= 1_000_000 ? measured.seconds <= 0.05 : (measured.seconds > 0.05 ? false : nil))
        }
        return report
    }
}

/// Where a store's bytes are, by what grows with them: the records (live rows, and deleted rows kept
/// as tombstones), the change log, and the per-pupil change index. A store without garbage
/// collection (issue 10, point 9) grows with its history, not its live records.
struct StoreSpace {
    var liveRecords = 0
    var deletedRecords = 0
    var recordBytes = 0
    var changeLogBytes = 0
    var scopeIndexBytes = 0
    var accounted: Int { recordBytes + changeLogBytes + scopeIndexBytes }

    /// Reads the store at `path` read-only, through SQLite's `dbstat` table (pages in use by each
    /// table and index; an index counts for its table).
    static func measure(_ path: String) throws -> StoreSpace {
        var config = Configuration()
        config.readonly = true
        let db = try DatabaseQueue(path: path, configuration: config)
        return try db.read { db in
            var space = StoreSpace()
            let bytes = try Row.fetchAll(
                db,
                sql: """
                    SELECT m.tbl_name AS name, sum(s.pgsize) AS bytes FROM dbstat s
                    JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name
                    """)
            let records = Set(RecordSchema.tables.map(\.name))
            for row in bytes {
                let (name, size): (String, Int) = (row["name"], row["bytes"])
                if records.contains(name) {
                    space.recordBytes += size
                } else if name == "change_log" || name == "change_proof" {
                    space.changeLogBytes += size
                } else if name == "scope_change" {
                    space.scopeIndexBytes += size
                }
            }
            for table in RecordSchema.tables {
                // Append-only kinds (notes, erasures) have no `deleted` column: every row is live.
                let deletable = try db.columns(in: table.name).contains { $0.name == "deleted" }
                let counts = try Row.fetchOne(
                    db,
                    sql: deletable
                        ? "SELECT count(*) FILTER (WHERE deleted = 0), count(*) FILTER (WHERE deleted != 0) FROM \(table.name)"
                        : "SELECT count(*), 0 FROM \(table.name)")
                space.liveRecords += counts?[0] ?? 0
                space.deletedRecords += counts?[1] ?? 0
            }
            return space
        }
    }
}
