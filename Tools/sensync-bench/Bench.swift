import Foundation
import GRDB
import SENSync

@main
struct Bench {
    static func main() {
        if CommandLine.arguments.dropFirst().first == ChildApply.flag {
            exit(ChildApply.run(Array(CommandLine.arguments.dropFirst(2))))
        }
        if CommandLine.arguments.dropFirst().first == AreaReportBench.childFlag {
            exit(AreaReportBench.child(Array(CommandLine.arguments.dropFirst(2))))
        }
        if CommandLine.arguments.dropFirst().first == ImportBench.childFlag {
            exit(ImportBench.child(Array(CommandLine.arguments.dropFirst(2))))
        }
        if CommandLine.arguments.dropFirst().first == WritesBench.childFlag {
            exit(WritesBench.child(Array(CommandLine.arguments.dropFirst(2))))
        }
        if CommandLine.arguments.dropFirst().first == ImportBench.rawChildFlag {
            exit(ImportBench.rawChild(Array(CommandLine.arguments.dropFirst(2))))
        }
        let options: Options
        do {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            if error.description.isEmpty {
                print(Options.usage)
                exit(0)
            }
            FileHandle.standardError.write(Data("sensync-bench: \(error.description)\n\n\(Options.usage)\n".utf8))
            exit(2)
        }
        do {
            let report =
                try options.reportArea
                ? AreaReportBench.run(options)
                : options.importFiles
                    ? ImportBench.run(options)
                    : options.localWrites
                        ? WritesBench.run(options) : options.history > 0 ? HistoryBench.run(options) : run(options)
            print(options.json ? try report.json() : report.human())
        } catch {
            FileHandle.standardError.write(Data("sensync-bench: failed: \(error)\n".utf8))
            exit(1)
        }
    }

    /// One bundle made for the benchmark.
    struct MadeBundle {
        var site: SyntheticSite
        var summary: BundleSummary
        var seconds: Double
        var changes: Int { Int(summary.header.changeCount) }
        var ops: Int { Int(summary.header.sections.reduce(0) { $0 + $1.tableCounts.values.reduce(0, +) }) }
    }

    /// Applying a set of bundles to the LA, with an outside-in breakdown of where the time goes.
    struct ApplyRun {
        var seconds = 0.0
        /// `Store.verifyBundle(at:)` without a store: layout, header and the payload checksum (sealed
        /// sections cannot be opened without the recipient's key).
        var decodeSeconds = 0.0
        /// `Store.verifyBundle(at:against:)`: opening the bundle for this store (signature, unsealing)
        /// and the prerequisite pass that apply runs first.
        var verifySeconds = 0.0
        var perBundle: [Double] = []
        var changes = 0
        var ops = 0
        var rssBeforeMiB: Double?
        var peakMiB: Double?
        /// Peak minus the RSS just before the run.
        var growthMiB: Double?
        var peakIsApplyOnly = false
    }

    static func makeBundles(_ area: SyntheticArea, folder: URL, tag: String, progress: Progress) throws -> [MadeBundle]
    {
        var made: [MadeBundle] = []
        for (k, school) in area.schools.enumerated() {
            let url = folder.appendingPathComponent("\(tag)-school-\(k + 1)-to-la.bundle")
            let (summary, seconds) = try measure { try school.store.makeBundle(to: [area.la.identity.id], at: url) }
            made.append(MadeBundle(site: school, summary: summary, seconds: seconds))
        }
        progress.say("[\(tag)] made \(made.count) school bundles (\(made.reduce(0) { $0 + $1.changes }) changes)")
        return made
    }

    static func applyAll(_ bundles: [MadeBundle], to la: Store, tag: String, progress: Progress) throws -> ApplyRun {
        var run = ApplyRun()
        run.peakIsApplyOnly = Memory.resetPeak()
        run.rssBeforeMiB = Memory.mib("VmRSS")
        for (i, bundle) in bundles.enumerated() {
            let url = bundle.summary.url
            let (_, decode) = try measure { try Store.verifyBundle(at: url) }
            let (_, verify) = try measure { try Store.verifyBundle(at: url, against: la) }
            let (result, seconds) = try measure { try la.apply(bundleAt: url) }
            guard result.result == .applied, result.rejected.isEmpty, result.applied == bundle.changes else {
                throw BenchFailure(
                    "Bundle \(i + 1) applied \(result.applied) of \(bundle.changes) changes (\(result.result.rawValue), \(result.rejected.count) rejected, \(result.duplicates) duplicates)."
                )
            }
            run.decodeSeconds += decode
            run.verifySeconds += verify
            run.seconds += seconds
            run.perBundle.append(seconds)
            run.changes += bundle.changes
            run.ops += bundle.ops
            progress.say(
                "[\(tag)] applied bundle \(i + 1)/\(bundles.count): \(bundle.changes) changes in \(String(format: "%.2f", seconds)) s"
            )
        }
        run.peakMiB = Memory.mib("VmHWM")
        if let peak = run.peakMiB, let before = run.rssBeforeMiB { run.growthMiB = peak - before }
        return run
    }

    /// Applies the bundles into the primary LA, then into `repeats − 1` fresh LA stores with the
    /// same identity (deleted afterwards). Returns the runs, primary first.
    static func applyRepeated(
        _ bundles: [MadeBundle], la: SyntheticSite, pristine: String, repeats: Int, folder: URL, tag: String,
        progress: Progress
    ) throws -> [ApplyRun] {
        var runs = [try applyAll(bundles, to: la.store, tag: "\(tag) 1/\(repeats)", progress: progress)]
        for r in stride(from: 2, through: repeats, by: 1) {
            let path = folder.appendingPathComponent("\(tag)-la-repeat-\(r).sensync").path
            do {
                let replica = try SyntheticArea.copyPristine(pristine, to: path)
                runs.append(try applyAll(bundles, to: replica, tag: "\(tag) \(r)/\(repeats)", progress: progress))
            }
            for suffix in ["", "-wal", "-shm", ".keys"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        return runs
    }

    /// The run with the median apply time, with the spread and the highest memory peak of all runs.
    static func medianRun(_ runs: [ApplyRun]) -> (run: ApplyRun, min: Double, max: Double) {
        let sorted = runs.sorted { $0.seconds < $1.seconds }
        var run = sorted[sorted.count / 2]
        run.peakMiB = runs.compactMap(\.peakMiB).max()
        run.growthMiB = runs.compactMap(\.growthMiB).max()
        return (run, sorted.first!.seconds, sorted.last!.seconds)
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }

    // MARK: - The run

    static func run(_ options: Options) throws -> Report {
        let progress = Progress()
        let scratch = try ScratchFolder("", keep: options.keep, progress: progress)
        defer { scratch.finish() }
        let folder = scratch.url
        let (machine, loadStart) = (scratch.machine, scratch.loadStart)
        let report = Report()
        let pupilCount = options.pupils

        // 1. The synthetic area, written through the public Store API.
        progress.say("[main] building an area of \(pupilCount) pupils in \(options.schools) schools in \(folder.path)")
        let area = try AreaBuilder.build(
            pupils: pupilCount, schools: options.schools, seed: options.seed, in: folder, tag: "main",
            fileBackedSchools: true,
            progress: progress)
        let la = area.la
        let logged = try area.schools.reduce(0) { $0 + Int(try $1.store.versionVector().total) }
        guard logged == area.writes.changes else {
            throw BenchFailure("The schools logged \(logged) changes but the benchmark made \(area.writes.changes).")
        }

        // 2. Each school makes a bundle for the LA.
        let bundles = try makeBundles(area, folder: folder, tag: "main", progress: progress)
        let totalChanges = bundles.reduce(0) { $0 + $1.changes }
        let createSeconds = bundles.reduce(0) { $0 + $1.seconds }
        let bundleBytes = bundles.reduce(0) { $0 + Int($1.summary.fileSize) }
        let bundlePlain = bundles.reduce(0) { $0 + $1.summary.header.sections.reduce(0) { $0 + Int($1.plainLength) } }

        // 3. The LA applies every school bundle.
        let applyRuns = try applyRepeated(
            bundles, la: la, pristine: area.pristineLA, repeats: options.repeats, folder: folder, tag: "main",
            progress: progress)
        let (apply, applyMin, applyMax) = medianRun(applyRuns)
        try la.store.checkpoint()
        let footprint = try StoreFootprint.measure(storeAt: la.path!)
        let child = try ChildApply.measure(
            bundles, pristine: area.pristineLA, folder: folder, tag: "main", progress: progress)
        let openSeconds = try median((0..<5).map { _ in try measure { _ = try Store.open(at: la.path!) }.1 })
        let openSchoolSeconds = try median(
            (0..<5).map { _ in try measure { _ = try Store.open(at: area.schools[0].path!) }.1 })

        // 4. Raw baseline: the same final rows, one upsert transaction in a plain database.
        progress.say("[main] raw SQLite baseline")
        // The final rows and their JSON Lines live only inside this closure, so their memory is
        // released before the scaling run measures its own apply.
        let (rows, raw, rawMin, rawMax, rawC, rawCMin, rawCMax, jsonl, jsonl6, jsonl9) = try {
            let finalRows = try FinalRows.read(storeAt: la.path!)
            let (raw, rawMin, rawMax) = try RawBaseline.median(
                finalRows, folder: folder, name: "raw-main", binding: .grdb, repeats: options.repeats)
            let (rawC, rawCMin, rawCMax) = try RawBaseline.median(
                finalRows, folder: folder, name: "raw-main", binding: .capi, repeats: options.repeats)
            // 5. Size: the same rows as JSON Lines, zlib-compressed.
            let text = JSONLines.encode(finalRows)
            let counts = RowCounts(tables: finalRows.tables.map { ($0.name, $0.rows.count) })
            return (
                counts, raw, rawMin, rawMax, rawC, rawCMin, rawCMax, text.count,
                try JSONLines.zlib(text, level: 6).count,
                try JSONLines.zlib(text, level: 9).count
            )
        }()
        // 5. Size: the whole area's history as bundles, each school's full bundle to the LA (every
        // final row travels exactly once, in scope for the LA).
        let fullBytes = bundleBytes
        let fullChanges = totalChanges
        let fullPlain = bundlePlain
        let fullSeconds = createSeconds

        // 6. Delta: the LA acknowledges to one school (LA -> school bundle), then 1% of the
        // area's pupils at that school get one more note, and the school makes a delta bundle.
        let school = area.schools[0]
        let schoolFull = bundles[0]
        progress.say("[main] acknowledgement round trip LA -> \(school.identity.name)")
        let (back, backCreateSeconds) = try measure {
            try la.store.makeBundle(
                to: [school.identity.id], at: folder.appendingPathComponent("main-la-to-school-1.bundle"))
        }
        let (backReport, backApplySeconds) = try measure { try school.store.apply(bundleAt: back.url) }
        guard backReport.applied + backReport.duplicates == Int(back.header.changeCount) else {
            throw BenchFailure(
                "The school applied \(backReport.applied) of \(back.header.changeCount) changes from the LA.")
        }
        let heldAtDelta = Int(try school.store.versionVector().total)
        var emptyTimes: [Double] = []
        var emptyChanges = 0
        for i in 0..<5 {
            let (empty, t) = try measure {
                try school.store.makeBundle(
                    to: [la.identity.id], at: folder.appendingPathComponent("main-empty-\(i).bundle"))
            }
            emptyTimes.append(t)
            emptyChanges = Int(empty.header.changeCount)
        }
        var rng = SplitMix64(seed: options.seed ^ 0xDE17A)
        let deltaPupils = Array(school.pupils.shuffled(using: &rng).prefix(max(1, pupilCount / 100)))
        var deltaWrites = WriteStats()
        var deltaNotes: Set<String> = []
        for pupil in deltaPupils {
            let text = Lexicon.text(&rng, minChars: 80, maxChars: 300)
            let (note, t) = try measure {
                try school.store.addNote(pupil: pupil.description, text: text, area: .general, author: "SENCO")
            }
            deltaNotes.insert(note.description)
            deltaWrites.record("addNote", t)
        }
        var deltaTimes: [Double] = []
        var delta: BundleSummary?
        for i in 0..<5 {
            let (made, t) = try measure {
                try school.store.makeBundle(
                    to: [la.identity.id], at: folder.appendingPathComponent("main-delta-\(i).bundle"))
            }
            deltaTimes.append(t)
            delta = made
        }
        let deltaChanges = Int(delta!.header.changeCount)
        let (deltaReport, deltaApplySeconds) = try measure { try la.store.apply(bundleAt: delta!.url) }
        guard deltaReport.applied == deltaChanges, deltaChanges == deltaPupils.count else {
            throw BenchFailure(
                "The delta held \(deltaChanges) changes (expected \(deltaPupils.count)); the LA applied \(deltaReport.applied)."
            )
        }
        // The delta's rows as zlib-compressed JSON Lines: the notes it carried, as the LA now holds them.
        let deltaJSONL6 = try JSONLines.zlib(
            JSONLines.encode(FinalRows.read(storeAt: la.path!, only: deltaNotes)), level: 6
        ).count
        let ackMedian = try Self.ackCost(la: la, school: school, folder: folder, tag: "main")
        progress.say("[main] a round of edits at \(school.identity.name)")
        let round = try Self.roundOfEdits(school: school, la: la, folder: folder, seed: options.seed)

        // 7. Scaling: the same apply at a larger area.
        var scaled:
            (
                area: SyntheticArea, bundles: [MadeBundle], apply: ApplyRun, rows: Int, raw: RawBaseline.Result,
                spread: (Double, Double), child: ChildApply.Result, ack: Double
            )?
        if options.scaling {
            let big = pupilCount * options.scalingFactor
            progress.say("[scale] building an area of \(big) pupils")
            let bigArea = try AreaBuilder.build(
                pupils: big, schools: options.schools, seed: options.seed &+ 1, in: folder, tag: "scale",
                fileBackedSchools: true, progress: progress)
            let bigBundles = try makeBundles(bigArea, folder: folder, tag: "scale", progress: progress)
            let bigRuns = try applyRepeated(
                bigBundles, la: bigArea.la, pristine: bigArea.pristineLA, repeats: options.repeats, folder: folder,
                tag: "scale",
                progress: progress)
            let (bigApply, bigMin, bigMax) = medianRun(bigRuns)
            let bigChild = try ChildApply.measure(
                bigBundles, pristine: bigArea.pristineLA, folder: folder, tag: "scale", progress: progress)
            let (bigRowCount, bigRaw) = try {
                let bigRows = try FinalRows.read(storeAt: bigArea.la.path!)
                return (
                    bigRows.rowCount,
                    try RawBaseline.median(
                        bigRows, folder: folder, name: "raw-scale", binding: .grdb, repeats: options.repeats
                    ).median
                )
            }()
            let bigAck = try Self.ackCost(la: bigArea.la, school: bigArea.schools[0], folder: folder, tag: "scale")
            scaled = (bigArea, bigBundles, bigApply, bigRowCount, bigRaw, (bigMin, bigMax), bigChild, bigAck)
        }
        progress.say("done; writing the report")

        // MARK: Report
        report.header = [
            ("command", "Command", CommandLine.arguments.joined(separator: " ")),
            ("seed", "Seed", String(options.seed)),
            ("date", "Date (UTC)", ISO8601DateFormatter().string(from: Date())),
            ("build", "Build", machine.build),
            ("swift", "Swift", machine.swift),
            ("sqlite", "SQLite", raw.sqliteVersion),
            (
                "machine", "Machine",
                "\(machine.cpus) CPUs (\(machine.cpuModel)), \(machine.memoryMiB) MiB RAM, \(machine.kernel)"
            ),
            ("temp_fs", "Temp filesystem", machine.tempFilesystem),
            (
                "load", "Load average",
                "\(loadStart) at start, \(loadAverage()) at end (1/5/15 min; other work on the machine skews timings)"
            ),
            (
                "repeats", "Repeats",
                "\(options.repeats) (apply and raw baselines: median of \(options.repeats), min–max shown)"
            ),
            (
                "durability", "Durability",
                "journal_mode=\(raw.journalMode), synchronous=\(raw.synchronous == 1 ? "NORMAL" : String(raw.synchronous)) (GRDB DatabasePool default; store and raw baseline alike)"
            ),
        ]

        let perSchoolCounts = area.schools.map(\.pupils.count)
        report.section("area", "1. Synthetic area")
        report.add("pupils", "pupils", .int(pupilCount))
        report.add(
            "schools", "school stores", .int(options.schools),
            "(\(area.schools.filter { $0.identity.kind == .academy }.count) academies, \(area.schools.filter { $0.identity.kind == .maintainedSchool }.count) maintained)"
        )
        report.add("pupils_per_school_min", "pupils per school, min", .int(perSchoolCounts.min()!))
        report.add("pupils_per_school_max", "pupils per school, max", .int(perSchoolCounts.max()!))
        report.add("rows", "final rows (all readable tables)", .int(rows.rowCount))
        for table in rows.tables { report.add("rows_\(table.name)", "  \(table.name)", .int(table.count)) }

        report.section(
            "local_writes", "1. Local writes (public Store API, one change = one transaction)",
            note: "commit in WAL with synchronous=NORMAL: no fsync per commit, only at checkpoints")
        report.add("changes", "changes written", .int(area.writes.changes))
        report.add("seconds", "time", .number(area.writes.seconds, digits: 2), "s")
        report.add(
            "changes_per_second", "local write rate",
            .number(Double(area.writes.changes) / area.writes.seconds, digits: 0), "changes/s")
        report.add(
            "changes_per_pupil", "changes per pupil",
            .number(Double(area.writes.changes) / Double(pupilCount), digits: 2))
        for kind in ["addPupil", "updatePupil", "addNote", "createPlan", "addOutcome", "addProvision", "recordReview"] {
            guard let k = area.writes.byKind[kind] else { continue }
            report.add(
                "us_per_\(kind)", "  \(kind) (\(Figure.grouped(k.count)))",
                .number(k.seconds / Double(k.count) * 1e6, digits: 0), "µs each")
        }

        report.section("bundle_create", "2. Bundle create (each school -> LA)")
        report.add("bundles", "bundles", .int(bundles.count))
        report.add("changes", "changes", .int(totalChanges))
        report.add("seconds", "total create time", .number(createSeconds, digits: 3), "s")
        report.add(
            "us_per_change", "create time per change", .number(createSeconds / Double(totalChanges) * 1e6, digits: 1),
            "µs")
        report.add("bytes", "bundle bytes (all school bundles)", .int(bundleBytes))
        report.add(
            "bytes_per_change", "bundle bytes per change",
            .number(Double(bundleBytes) / Double(totalChanges), digits: 1), "B")
        report.add(
            "plain_bytes_per_change", "uncompressed payload per change",
            .number(Double(bundlePlain) / Double(totalChanges), digits: 1), "B")
        // Origin signatures: what a checkpoint costs to make (at the origin, once) and to check (at
        // every receiver, once per run of up to 256 changes), and per change at full runs.
        let signing = try SigningCost.measure()
        report.add(
            "checkpoint_sign_us", "origin checkpoint: sign (Merkle root of 256 + Ed25519)",
            .number(signing.signSeconds * 1e6, digits: 1), "µs")
        report.add(
            "checkpoint_verify_us", "origin checkpoint: verify (root of 256 + Ed25519)",
            .number(signing.verifySeconds * 1e6, digits: 1), "µs")
        report.add(
            "signature_us_per_change", "origin signatures per change, full runs (sign + verify)",
            .number((signing.signSeconds + signing.verifySeconds) / Double(Checkpoint.maxLeaves) * 1e6, digits: 2),
            "µs")
        report.add(
            "audit_path_us", "one change proved alone (audit path of 8 hashes)",
            .number(signing.pathSeconds * 1e6, digits: 2), "µs")
        report.table(
            Report.Table(
                key: "bundle_create", title: "per school",
                columns: [
                    ("school", "school"), ("kind", "kind"), ("pupils", "pupils"), ("changes", "changes"),
                    ("create_ms", "create ms"),
                    ("bytes", "bytes"), ("bytes_per_change", "B/change"), ("apply_ms", "apply ms"),
                ],
                rows: bundles.enumerated().map { i, b in
                    [
                        .text(b.site.identity.name), .text(b.site.identity.kind.rawValue), .int(b.site.pupils.count),
                        .int(b.changes),
                        .number(b.seconds * 1000, digits: 1), .int(Int(b.summary.fileSize)),
                        .number(Double(b.summary.fileSize) / Double(b.changes), digits: 1),
                        .number(apply.perBundle[i] * 1000, digits: 1),
                    ]
                }))

        report.section(
            "bundle_apply", "3. Bundle apply (LA applies every school bundle; one transaction per bundle)",
            note:
                "median of \(options.repeats) runs, each into a fresh LA store; the verify figures are separate calls made before each apply, which repeats the same work internally"
        )
        addApply(apply, rows: rows.rowCount, to: report)
        report.add("seconds_min", "total apply time, fastest run", .number(applyMin, digits: 3), "s")
        report.add("seconds_max", "total apply time, slowest run", .number(applyMax, digits: 3), "s")
        report.add(
            "open_la_ms", "Store.open of the LA store afterwards (median of 5)", .number(openSeconds * 1000, digits: 2),
            "ms")
        report.add(
            "open_school_ms", "Store.open of school 1 (1/\(options.schools) of the history; median of 5)",
            .number(openSchoolSeconds * 1000, digits: 2), "ms")

        let ratio = apply.seconds / raw.seconds
        report.section(
            "raw_baseline", "4. Raw SQLite baseline (same final rows, one upsert transaction, cached statements)",
            note:
                "GRDB: db.cachedStatement + execute(arguments:) per row, as a plain GRDB app writes it; rows read from the LA store beforehand, untimed"
        )
        report.add("rows", "rows upserted", .int(raw.rows))
        report.add("seconds", "time", .number(raw.seconds, digits: 3), "s")
        report.add(
            "seconds_range", "time, fastest – slowest run", .text(String(format: "%.3f – %.3f", rawMin, rawMax)), "s")
        report.add("rows_per_second", "rows/s", .number(Double(raw.rows) / raw.seconds, digits: 0), "rows/s")
        report.add("apply_over_raw", "APPLY / RAW", .number(ratio, digits: 2), "×")
        report.add(
            "capi_seconds", "same upsert, SQLite C API binds (no GRDB per row)", .number(rawC.seconds, digits: 3), "s")
        report.add(
            "capi_seconds_range", "  fastest – slowest run", .text(String(format: "%.3f – %.3f", rawCMin, rawCMax)), "s"
        )
        report.add("apply_over_capi", "APPLY / RAW (C API)", .number(apply.seconds / rawC.seconds, digits: 2), "×")

        report.section("size", "5. Size: bundles vs the same final rows as zlib-compressed JSON Lines")
        report.add("jsonl_bytes", "JSON Lines", .int(jsonl), "B")
        report.add("jsonl_zlib6_bytes", "JSON Lines, zlib level 6 (bundle's level)", .int(jsonl6), "B")
        report.add("jsonl_zlib9_bytes", "JSON Lines, zlib level 9", .int(jsonl9), "B")
        report.add("full_bundle_changes", "full bundles (every school -> LA): changes", .int(fullChanges))
        report.add("full_bundle_bytes", "full bundles (every school -> LA): bytes", .int(fullBytes), "B")
        report.add("full_bundle_plain_bytes", "full bundles, uncompressed payloads", .int(fullPlain), "B")
        report.add("full_bundle_create_seconds", "full bundle create time", .number(fullSeconds, digits: 3), "s")
        report.add(
            "full_over_jsonl_zlib", "FULL BUNDLE / JSONL.zlib", .number(Double(fullBytes) / Double(jsonl6), digits: 3),
            "×")
        report.add("school_bundles_bytes", "all school bundles: bytes", .int(bundleBytes), "B")
        report.add(
            "school_bundles_over_jsonl_zlib", "ALL SCHOOL BUNDLES / JSONL.zlib",
            .number(Double(bundleBytes) / Double(jsonl6), digits: 3), "×")
        report.add("la_store_file_bytes", "LA store file after checkpoint", .int(footprint.fileBytes), "B")
        report.add("la_change_log_bytes", "  of which change-log bodies (history)", .int(footprint.changeLogBytes), "B")
        report.add("la_clock_bytes", "  of which crdt_clock blobs", .int(footprint.clockBytes), "B")
        report.add("la_scope_clock_rows", "  scope_clock rows", .int(footprint.scopeClockRows))
        report.add("raw_file_bytes", "raw baseline database file", .int(raw.fileBytes), "B")

        let fullPerChange = schoolFull.seconds / Double(schoolFull.changes)
        let deltaMedian = median(deltaTimes)
        let emptyMedian = median(emptyTimes)
        report.section(
            "delta", "6. Delta bundle (\(school.identity.name) -> LA after a full sync)",
            note:
                "create times are the median of 5 (the LA's with nothing new: of 21); the LA -> school bundle carries the LA's acknowledgement (and, with scoped sync, only what the school may see)"
        )
        report.add(
            "ack_bundle_changes", "ack round trip: LA -> school bundle, changes", .int(Int(back.header.changeCount)))
        report.add("ack_bundle_create_seconds", "ack round trip: create", .number(backCreateSeconds, digits: 3), "s")
        report.add(
            "ack_bundle_apply_seconds", "ack round trip: apply at the school", .number(backApplySeconds, digits: 3), "s"
        )
        report.add("school_changes_held", "changes held by the school's store", .int(heldAtDelta))
        report.add("empty_bundle_changes", "empty bundle (nothing new): changes", .int(emptyChanges))
        report.add("empty_bundle_ms", "empty bundle create (fixed cost)", .number(emptyMedian * 1000, digits: 2), "ms")
        report.add("delta_changes", "delta changes (1% of pupils, one note each)", .int(deltaChanges))
        report.add("delta_local_write_ms", "delta local writes", .number(deltaWrites.seconds * 1000, digits: 1), "ms")
        report.add("delta_bytes", "delta bundle bytes", .int(Int(delta!.fileSize)), "B")
        report.add("delta_create_ms", "delta create", .number(deltaMedian * 1000, digits: 2), "ms")
        report.add(
            "full_create_ms", "full create of the same school (step 2)", .number(schoolFull.seconds * 1000, digits: 2),
            "ms")
        report.add("full_changes", "full bundle of the same school: changes", .int(schoolFull.changes))
        report.add(
            "delta_over_full_time", "delta / full create time", .number(deltaMedian / schoolFull.seconds, digits: 4),
            "×")
        report.add(
            "delta_over_full_changes", "delta / full changes",
            .number(Double(deltaChanges) / Double(schoolFull.changes), digits: 4), "×")
        report.add(
            "delta_us_per_change", "delta create per change (after fixed cost)",
            .number(max(0, deltaMedian - emptyMedian) / Double(deltaChanges) * 1e6, digits: 1), "µs")
        report.add("full_us_per_change", "full create per change", .number(fullPerChange * 1e6, digits: 1), "µs")
        report.add("delta_apply_ms", "LA applies the delta", .number(deltaApplySeconds * 1000, digits: 2), "ms")
        report.add("delta_jsonl_zlib6_bytes", "the delta's notes as JSON Lines, zlib level 6", .int(deltaJSONL6), "B")
        report.add(
            "delta_over_jsonl_zlib", "DELTA BUNDLE / JSONL.zlib",
            .number(Double(delta!.fileSize) / Double(deltaJSONL6), digits: 3), "×")
        report.add(
            "ack_after_exchange_ms", "LA -> school after a full exchange (nothing new): create",
            .number(ackMedian * 1000, digits: 2), "ms")
        report.add("round_changes", "a round of edits (2/3 of the school's pupils): changes", .int(round.changes))
        report.add("round_bytes", "a round of edits: delta bundle bytes", .int(round.bytes), "B")
        report.add("round_jsonl_zlib6_bytes", "the rows it touched as JSON Lines, zlib level 6", .int(round.jsonl), "B")
        report.add(
            "round_over_jsonl_zlib", "ROUND OF EDITS / JSONL.zlib",
            .number(Double(round.bytes) / Double(round.jsonl), digits: 3), "×")

        if let scaled {
            report.section("scaling", "7. Scaling (apply into an empty LA; school stores on files as in step 1)")
            report.add("factor", "size factor", .int(options.scalingFactor))
            report.add("big_pupils", "pupils at \(options.scalingFactor)N", .int(scaled.area.pupils))
            report.add("big_changes", "changes at \(options.scalingFactor)N", .int(scaled.apply.changes))
            report.add("big_rows", "final rows at \(options.scalingFactor)N", .int(scaled.rows))
            report.add(
                "big_local_writes_per_second", "local write rate at \(options.scalingFactor)N",
                .number(Double(scaled.area.writes.changes) / scaled.area.writes.seconds, digits: 0), "changes/s")
            report.add(
                "big_apply_seconds", "apply time at \(options.scalingFactor)N (median)",
                .number(scaled.apply.seconds, digits: 3), "s")
            report.add(
                "big_apply_range", "  fastest – slowest run",
                .text(String(format: "%.3f – %.3f", scaled.spread.0, scaled.spread.1)), "s")
            report.add(
                "big_raw_seconds", "raw baseline at \(options.scalingFactor)N", .number(scaled.raw.seconds, digits: 3),
                "s")
            report.add(
                "big_apply_over_raw", "APPLY / RAW at \(options.scalingFactor)N",
                .number(scaled.apply.seconds / scaled.raw.seconds, digits: 2), "×")
            report.add(
                "big_rss_before_mib", "RSS just before the apply at \(options.scalingFactor)N",
                .number(scaled.apply.rssBeforeMiB ?? .nan, digits: 1), "MiB")
            report.add(
                "big_peak_rss_mib", "peak RSS during the apply at \(options.scalingFactor)N",
                .number(scaled.apply.peakMiB ?? .nan, digits: 1), "MiB")
            report.add(
                "big_growth_mib", "growth during the apply at \(options.scalingFactor)N",
                .number(scaled.apply.growthMiB ?? .nan, digits: 1), "MiB")
            report.add(
                "big_child_peak_mib", "separate apply process at \(options.scalingFactor)N: peak RSS",
                .number(scaled.child.peakMiB, digits: 1), "MiB")
            let small = Double(apply.changes) / apply.seconds
            let bigRate = Double(scaled.apply.changes) / scaled.apply.seconds
            report.add(
                "flatness", "changes/s at \(options.scalingFactor)N ÷ changes/s at N",
                .number(bigRate / small, digits: 2), "×")
            report.table(
                Report.Table(
                    key: "scaling", title: "apply throughput by size",
                    columns: [
                        ("size", "size"), ("pupils", "pupils"), ("changes", "changes"), ("apply_s", "apply s"),
                        ("changes_per_s", "changes/s"), ("rows_per_s", "rows/s"), ("apply_over_raw", "apply/raw"),
                        ("peak_rss_mib", "peak RSS MiB"),
                    ],
                    rows: [
                        [
                            .text("N"), .int(pupilCount), .int(apply.changes), .number(apply.seconds, digits: 3),
                            .number(small, digits: 0),
                            .number(Double(rows.rowCount) / apply.seconds, digits: 0), .number(ratio, digits: 2),
                            .number(apply.peakMiB ?? .nan, digits: 1),
                        ],
                        [
                            .text("\(options.scalingFactor)N"), .int(scaled.area.pupils), .int(scaled.apply.changes),
                            .number(scaled.apply.seconds, digits: 3),
                            .number(bigRate, digits: 0), .number(Double(scaled.rows) / scaled.apply.seconds, digits: 0),
                            .number(scaled.apply.seconds / scaled.raw.seconds, digits: 2),
                            .number(scaled.apply.peakMiB ?? .nan, digits: 1),
                        ],
                    ]))
        }

        report.section(
            "memory", "8. Memory (/proc/self/status)",
            note: (apply.peakIsApplyOnly
                ? "in-process: VmHWM is reset (clear_refs) before each apply run and read after it, highest shown; it includes every open store and the generator's leftovers. "
                : "in-process: VmHWM could not be reset, so it is the process lifetime peak. ")
                + "The separate process opens a fresh copy of the LA store, applies every school bundle and reports its own VmHWM: what `sensync bundle apply` would use; the bar is judged on it"
        )
        report.add(
            "rss_before_apply_mib", "RSS just before the apply", .number(apply.rssBeforeMiB ?? .nan, digits: 1), "MiB")
        report.add(
            "peak_rss_apply_mib", "peak RSS during the apply (VmHWM)", .number(apply.peakMiB ?? .nan, digits: 1), "MiB")
        report.add(
            "apply_growth_mib", "growth during the apply (peak − before)", .number(apply.growthMiB ?? .nan, digits: 1),
            "MiB")
        report.add(
            "peak_rss_process_mib", "peak RSS of the benchmark at exit",
            .number(Memory.mib("VmHWM") ?? .nan, digits: 1), "MiB")
        report.add(
            "child_rss_open_mib", "separate apply process: RSS after Store.open", .number(child.openMiB, digits: 1),
            "MiB")
        report.add(
            "child_peak_mib", "separate apply process: peak RSS applying all \(bundles.count) bundles",
            .number(child.peakMiB, digits: 1), "MiB")
        report.add(
            "child_largest_bundle_changes", "  largest bundle it applied: changes",
            .int(bundles.map(\.changes).max() ?? 0))
        report.add("child_apply_seconds", "  its apply time (one more sample)", .number(child.seconds, digits: 3), "s")

        // Verdicts.
        report.bar(
            "apply_vs_raw", "apply ≤ 1.5× raw SQLite upsert", measured: String(format: "%.2f×", ratio),
            target: "≤ 1.50×", pass: ratio <= 1.5)
        let sizeRatio = Double(fullBytes) / Double(jsonl6)
        report.bar(
            "full_bundle_size", "full bundle ≤ JSONL.zlib", measured: String(format: "%.3f×", sizeRatio),
            target: "≤ 1.000×", pass: sizeRatio <= 1.0)
        report.bar(
            "full_bundle_size_goal", "full bundle ≤ 0.9× JSONL.zlib (performance issue)",
            measured: String(format: "%.3f×", sizeRatio), target: "≤ 0.900×", pass: sizeRatio <= 0.9)
        let deltaSizeRatio = Double(delta!.fileSize) / Double(deltaJSONL6)
        report.bar(
            "delta_bundle_size", "a delta of new notes ≤ 0.7× as JSONL.zlib",
            measured: String(format: "%.3f× (%d B for %d notes)", deltaSizeRatio, Int(delta!.fileSize), deltaChanges),
            target: "≤ 0.700×", pass: deltaSizeRatio <= 0.7)
        let roundRatio = Double(round.bytes) / Double(round.jsonl)
        report.bar(
            "round_bundle_size", "a round of edits ≤ 0.7× its rows as JSONL.zlib",
            measured: String(format: "%.3f× (%d B for %d changes)", roundRatio, round.bytes, round.changes),
            target: "≤ 0.700×", pass: roundRatio <= 0.7)
        if let scaled {
            let flat = (Double(scaled.apply.changes) / scaled.apply.seconds) / (Double(apply.changes) / apply.seconds)
            report.bar(
                "flat_merge", "merge throughput flat at \(options.scalingFactor)N",
                measured: String(format: "%.2f×", flat), target: "≥ 0.80× of N (within 20%)", pass: flat >= 0.8)
        } else {
            report.bar(
                "flat_merge", "merge throughput flat", measured: "not run", target: "run with --scaling", pass: nil)
        }
        // Proportional: the delta costs the fixed cost of any bundle plus no more than twice the
        // full bundle's per-change cost for each of its changes.
        let deltaBudget = emptyMedian + 2 * Double(deltaChanges) * fullPerChange + 0.002
        report.bar(
            "delta_proportional", "delta create ∝ delta, not store",
            measured: String(
                format: "%.1f ms (%.2f%% of full for %.2f%% of changes)", deltaMedian * 1000,
                deltaMedian / schoolFull.seconds * 100, Double(deltaChanges) / Double(schoolFull.changes) * 100),
            target: String(
                format: "≤ %.1f ms = empty-bundle cost + 2 × delta × full per-change + 2 ms", deltaBudget * 1000),
            pass: deltaMedian <= deltaBudget)
        // The LA's next bundle to a school with nothing new for it: what changed since the last
        // exchange (nothing), not the history, so flat when the area grows.
        if let scaled {
            let growth = scaled.ack / ackMedian
            report.bar(
                "ack_flat", "LA -> school with nothing new, flat in history",
                measured: String(
                    format: "%.1f ms at %d× vs %.1f ms (%.2f×)", scaled.ack * 1000, options.scalingFactor,
                    ackMedian * 1000, growth),
                target: "≤ 1.20×", pass: growth <= 1.2)
        } else {
            report.bar(
                "ack_flat", "LA -> school with nothing new, flat in history",
                measured: String(format: "%.1f ms", ackMedian * 1000), target: "run with --scaling", pass: nil)
        }
        // An empty delta at a store of 1,000,000 changes: measured here at the school's size.
        report.bar(
            "empty_delta", "empty delta ≤ 50 ms at 1,000,000 changes",
            measured: String(format: "%.1f ms at %d changes held", emptyMedian * 1000, heldAtDelta),
            target: "≤ 50 ms at 1,000,000 (not reached at this size)",
            pass: heldAtDelta >= 1_000_000 ? emptyMedian <= 0.05 : (emptyMedian > 0.05 ? false : nil))
        let openRatio = openSeconds / openSchoolSeconds
        report.bar(
            "open_flat", "open does not grow with history",
            measured: String(
                format: "%.2f ms vs %.2f ms (%d× the history)", openSeconds * 1000, openSchoolSeconds * 1000,
                options.schools),
            target: "LA open ≤ 3× school open", pass: openRatio <= 3)
        let peak = max(child.peakMiB, scaled?.child.peakMiB ?? 0)
        report.bar(
            "apply_memory", "apply memory bounded",
            measured: String(
                format: "%.1f MiB peak RSS of a process applying every bundle%@", peak,
                scaled == nil ? "" : " (largest of N, \(options.scalingFactor)N)"),
            target: "< 100 MiB", pass: peak.isFinite ? peak < 100 : nil)
        return report
    }

    /// A round of edits at `school`, as the performance issue's delta: about two thirds of its
    /// pupils touched once each by a pupil field (year group or needs), a plan's review date, a new
    /// outcome, new provision or a short note, each its own change, then sent to the LA after an
    /// exchange both ways. Returns the changes, the bundle's bytes, and the rows they touched (each
    /// whole, as a plain SQLite sync sends a row) as zlib JSON Lines.
    static func roundOfEdits(school: SyntheticSite, la: SyntheticSite, folder: URL, seed: UInt64) throws
        -> (changes: Int, bytes: Int, jsonl: Int)
    {
        var rng = SplitMix64(seed: seed ^ 0x70_0D)
        let store = school.store
        var touched: Set<String> = []
        let pupils = school.pupils.shuffled(using: &rng).prefix(max(10, school.pupils.count * 2 / 3))
        for (i, pupil) in pupils.enumerated() {
            let p = pupil.description
            guard let plan = try store.plans(of: p).first else { continue }
            switch i % 6 {
            case 0:
                let year = try store.pupil(p).yearGroup ?? 0
                try store.updatePupil(p, PupilUpdate(yearGroup: (year + 1) % 7), author: "SENCO")
                touched.insert(p)
            case 1:
                let needs = ["SLCN,ASD", "SPLD", "SEMH,SLCN", "MLD"][Int.random(in: 0..<4, using: &rng)]
                try store.updatePupil(p, PupilUpdate(senStatus: "K", senNeeds: needs), author: "SENCO")
            case 2:
                // Another date than the plan has: the same one is no edit (nothing is written).
                var month = Int.random(in: 1...9, using: &rng)
                if plan.reviewDate == "2027-0\(month)-15" { month = month % 9 + 1 }
                try store.reschedulePlanReview(plan: plan.id.description, date: "2027-0\(month)-15", author: "SENCO")
                touched.insert(plan.id.description)
            case 3:
                let id = try store.addOutcome(
                    plan: plan.id.description, description: Lexicon.text(&rng, minChars: 30, maxChars: 90),
                    targetDate: "2027-07-01", author: "SENCO")
                touched.insert(id.description)
            case 4:
                let id = try store.addProvision(
                    plan: plan.id.description,
                    NewProvision(
                        description: Lexicon.text(&rng, minChars: 20, maxChars: 60), provider: "Speech and language",
                        frequency: "weekly", responsibleOrg: "School", responsiblePerson: "SENCO", costPence: 4500),
                    author: "SENCO")
                touched.insert(id.description)
            default:
                let id = try store.addNote(
                    pupil: p, text: Lexicon.text(&rng, minChars: 40, maxChars: 120), area: .general, author: "SENCO")
                touched.insert(id.description)
            }
        }
        let made = try store.makeBundle(
            to: [la.identity.id], at: folder.appendingPathComponent("round-of-edits.bundle"))
        let before = try FinalRows.read(storeAt: la.path!)
        let report = try la.store.apply(bundleAt: made.url)
        guard report.applied == Int(made.header.changeCount), report.applied >= touched.count else {
            throw BenchFailure(
                "The round of edits held \(made.header.changeCount) changes; the LA applied \(report.applied).")
        }
        // Every row the round wrote at the LA (ranked needs replaced by a needs edit, a provision
        // episode opened, …), not only the row each edit was asked of.
        let rows = FinalRows.changed(from: before, to: try FinalRows.read(storeAt: la.path!))
        let asked = Set(rows.tables.flatMap { $0.rows.compactMap { String.fromDatabaseValue($0[1]) } })
        guard touched.isSubset(of: asked) else {
            throw BenchFailure("The LA's rows do not show \(touched.subtracting(asked).count) of the records edited.")
        }
        return (report.applied, Int(made.fileSize), try JSONLines.zlib(JSONLines.encode(rows), level: 6).count)
    }

    /// The median time (of 21) for the LA to make a bundle to `school` once they have exchanged
    /// everything both ways: the LA's bundle is applied at the school, and the school's answer at
    /// the LA, so nothing is new for the school.
    static func ackCost(la: SyntheticSite, school: SyntheticSite, folder: URL, tag: String) throws -> Double {
        let first = try la.store.makeBundle(
            to: [school.identity.id], at: folder.appendingPathComponent("\(tag)-la-to-school-sync.bundle"))
        _ = try school.store.apply(bundleAt: first.url)
        // The school answers (as it would in its next exchange): the LA then knows which of its
        // holdings the school holds, as after any exchange both ways.
        let answer = try school.store.makeBundle(
            to: [la.identity.id], at: folder.appendingPathComponent("\(tag)-school-to-la-answer.bundle"))
        _ = try la.store.apply(bundleAt: answer.url)
        // Each a few milliseconds, mostly waiting for the disk: the median of many, so one slow
        // sync does not decide a ratio.
        let times = try (0..<21).map { i in
            try measure {
                try la.store.makeBundle(
                    to: [school.identity.id], at: folder.appendingPathComponent("\(tag)-la-to-school-ack-\(i).bundle"))
            }.1
        }
        return median(times)
    }

    /// Row counts of the final tables.
    struct RowCounts {
        var tables: [(name: String, count: Int)]
        var rowCount: Int { tables.reduce(0) { $0 + $1.count } }
    }

    static func addApply(_ apply: ApplyRun, rows: Int, to report: Report) {
        report.add("bundles", "bundles applied", .int(apply.perBundle.count))
        report.add("changes", "changes", .int(apply.changes))
        report.add("record_writes", "record writes (ops)", .int(apply.ops))
        report.add("seconds", "total apply time", .number(apply.seconds, digits: 3), "s")
        report.add(
            "changes_per_second", "changes/s", .number(Double(apply.changes) / apply.seconds, digits: 0), "changes/s")
        report.add("rows_per_second", "final rows/s", .number(Double(rows) / apply.seconds, digits: 0), "rows/s")
        report.add("us_per_change", "per change", .number(apply.seconds / Double(apply.changes) * 1e6, digits: 1), "µs")
        report.add(
            "decode_seconds", "  of which read + header + payload SHA-256 (verify, no store)",
            .number(apply.decodeSeconds, digits: 3), "s")
        report.add(
            "prereq_seconds", "  of which open (signature, unseal) + prerequisite pass (verify against store)",
            .number(apply.verifySeconds, digits: 3), "s")
        report.add(
            "merge_write_seconds", "  of which merge + write + commit (apply − verify)",
            .number(apply.seconds - apply.verifySeconds, digits: 3), "s")
    }
}
