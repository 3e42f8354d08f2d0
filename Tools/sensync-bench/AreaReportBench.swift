import Foundation
import GRDB
import SENSync

/// `sensync-bench --report-area`: the LA's area report on a large synthetic area (300 schools and
/// 15,000 SEN pupils by default), measured in a separate process as `sensync report area` runs:
/// open the store, compute every figure, render the page, the JSON and the CSV. Beside it, the raw
/// baseline: the same process reading every row of every record table the report reads.
enum AreaReportBench {
    /// The hidden mode: `sensync-bench --report-child STORE`.
    static let childFlag = "--report-child"

    /// Runs in the child. Prints one line:
    /// `open_s report_s html_s raw_read_s raw_rows peak_kib pupils schools json_s csv_s`.
    static func child(_ arguments: [String]) -> Int32 {
        guard let path = arguments.first else { return 2 }
        do {
            let (store, open) = try measure { try Store.open(at: path) }
            let (report, compute) = try measure { try store.areaReport() }
            let (_, render) = measure { _ = report.document().html }
            let peak = Memory.kib("VmHWM") ?? -1
            let (_, json) = try measure { _ = try JSONEncoder().encode(report.export) }
            let (_, csv) = try measure { _ = try CSVTable.text(header: AreaReport.csvHeader, rows: report.csvRows) }
            if ProcessInfo.processInfo.environment["SENSYNC_BENCH_PARTS"] == "1" {
                // Where the time goes, part by part (each alone, after the report), as wall and
                // processor seconds (the second is steadier on a shared machine).
                func part(_ name: String, _ body: () throws -> Void) rethrows -> String {
                    let cpu = processorSeconds()
                    let (_, wall) = try measure(body)
                    return String(format: "%@ %.3f s (cpu %.3f s)", name, wall, processorSeconds() - cpu)
                }
                let parts = [
                    try part("syncHealth") { _ = try store.syncHealth() },
                    try part("duplicatePupils") { _ = try store.duplicatePupils() },
                    try part("pupilFigures") { _ = try store.pupilFigures() },
                    try part("due") { _ = try store.due() },
                    try part("areaReport") { _ = try store.areaReport() },
                ]
                FileHandle.standardError.write(Data("parts: \(parts.joined(separator: ", "))\n".utf8))
            }
            let (rows, raw) = try measure { try rawRead(path) }
            print(
                "\(open) \(compute) \(render) \(raw) \(rows) \(peak) \(report.headline.pupils) \(report.schools.count) \(json) \(csv)"
            )
            return 0
        } catch {
            FileHandle.standardError.write(Data("sensync-bench \(childFlag): \(error)\n".utf8))
            return 1
        }
    }

    /// Every column of every row of the record tables, read with GRDB and nothing computed.
    static func rawRead(_ path: String) throws -> Int {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            var rows = 0
            for kind in RecordSchema.kinds {
                let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM \(kind.name)")
                while let row = try cursor.next() {
                    rows += row.count > 0 ? 1 : 0
                }
            }
            return rows
        }
    }

    struct ChildRun {
        var open, compute, render, raw, json, csv: Double
        var rawRows: Int
        var peakMiB: Double
        var pupils, schools: Int
        var total: Double { open + compute + render }
    }

    static func runChild(_ path: String) throws -> ChildRun {
        let process = Process()
        process.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = [childFlag, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let f = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init)
        guard process.terminationStatus == 0, f.count == 10, let open = Double(f[0]), let compute = Double(f[1]),
            let render = Double(f[2]), let raw = Double(f[3]), let rows = Int(f[4]), let peak = Double(f[5]),
            let pupils = Int(f[6]), let schools = Int(f[7]), let json = Double(f[8]), let csv = Double(f[9])
        else { throw BenchFailure("The separate report process failed (exit \(process.terminationStatus)).") }
        return ChildRun(
            open: open, compute: compute, render: render, raw: raw, json: json, csv: csv, rawRows: rows,
            peakMiB: peak / 1024,
            pupils: pupils, schools: schools)
    }

    static func run(_ options: Options) throws -> Report {
        let progress = Progress()
        let scratch = try ScratchFolder("report-", keep: options.keep, progress: progress)
        defer { scratch.finish() }
        let folder = scratch.url
        let (machine, loadStart) = (scratch.machine, scratch.loadStart)

        // 1. The schools write their pupils, first concerns, referrals and plans, and send them to the LA.
        progress.say("[report] building \(options.pupils) SEN pupils in \(options.schools) schools in \(folder.path)")
        let area = try AreaBuilder.build(
            pupils: options.pupils, schools: options.schools, seed: options.seed, in: folder, tag: "report",
            fileBackedSchools: false, earlyIdentification: true, progress: progress)
        let bundles = try Bench.makeBundles(area, folder: folder, tag: "report", progress: progress)
        let applied = try Bench.applyAll(bundles, to: area.la.store, tag: "report", progress: progress)
        for bundle in bundles { try? FileManager.default.removeItem(at: bundle.summary.url) }

        // 2. The LA's own records: EHC needs assessments for the pupils with plans, and school rolls.
        var rng = SplitMix64(seed: options.seed &+ 1)
        let la = area.la.store
        let today = la.localToday
        var assessments = 0
        for school in area.schools {
            for pupil in school.pupils where rng.chance(0.1) {
                let received = today.adding(days: -rng.int(30...360))
                var fields: [EHCAssessment.Field: String] = [
                    .requestReceivedOn: received.description, .requestSource: rng.pick(["parent", "school"]),
                ]
                let decided = received.adding(days: rng.int(25...60))
                if decided < today {
                    fields[.decision] = rng.chance(0.8) ? "Y" : "N"
                    fields[.decidedOn] = decided.description
                    let issued = received.adding(days: rng.int(110...200))
                    if fields[.decision] == "Y" && issued < today && rng.chance(0.7) {
                        fields[.finalIssuedOn] = issued.description
                    }
                }
                _ = try la.addRecord(EHCAssessment.self, pupil: pupil.description, fields, author: "LA officer")
                assessments += 1
            }
            _ = try la.setSchoolRoll(
                school: school.identity.name, pupils: school.pupils.count * rng.int(5...9), asOf: today)
        }
        try la.checkpoint()
        progress.say("[report] the LA holds \(applied.changes + assessments) changes; measuring the report")

        // 3. The report, three times in a fresh process each; the median run.
        var runs: [ChildRun] = []
        for i in 1...options.repeats {
            let run = try runChild(area.la.path!)
            progress.say(
                "[report] run \(i): \(String(format: "%.2f", run.total)) s, peak \(String(format: "%.0f", run.peakMiB)) MiB"
            )
            runs.append(run)
        }
        let median = runs.sorted { $0.total < $1.total }[runs.count / 2]

        let report = Report()
        report.header = Report.header(seed: options.seed, machine: machine, loadStart: loadStart)
        report.section(
            "report_area", "The LA's area report (median of \(options.repeats) runs, each in a fresh process)",
            note:
                "End to end is `sensync report area --format html`: open the store, compute every figure, write the page; the peak memory is read then. JSON and CSV are rendered from the same values after it. The raw baseline reads every row of every record table with GRDB and computes nothing."
        )
        report.add("schools", "Schools in the report", .int(median.schools))
        report.add("pupils", "Pupils in the report", .int(median.pupils))
        report.add("changes", "Changes the LA holds", .int(applied.changes + assessments))
        report.add("open_s", "Open the store", .number(median.open, digits: 3), "s")
        report.add("compute_s", "Compute every figure", .number(median.compute, digits: 3), "s")
        report.add("render_s", "Render the HTML page", .number(median.render, digits: 3), "s")
        report.add("total_s", "Report as HTML, end to end", .number(median.total, digits: 3), "s")
        report.add("json_s", "Render the JSON instead", .number(median.json, digits: 3), "s")
        report.add("csv_s", "Render the CSV instead", .number(median.csv, digits: 3), "s")
        report.add("raw_read_s", "Raw baseline: read the same rows", .number(median.raw, digits: 3), "s")
        report.add("raw_rows", "Rows read by the baseline", .int(median.rawRows))
        report.add("ratio", "Report ÷ raw read", .number(median.total / max(median.raw, 1e-9), digits: 1), "×")
        report.add("peak_mib", "Peak memory of the report process", .number(median.peakMiB, digits: 0), "MiB")
        report.bar(
            "report_seconds", "report area answers quickly", measured: String(format: "%.2f s", median.total),
            target: "< 2 s", pass: median.total < 2)
        report.bar(
            "report_memory", "report area memory", measured: String(format: "%.0f MiB", median.peakMiB),
            target: "< 200 MiB", pass: median.peakMiB < 200)
        return report
    }
}

/// Processor time this process has used, in seconds (all threads).
private func processorSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
