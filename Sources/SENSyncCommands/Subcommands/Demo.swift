import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a small synthetic area, exchange real bundle files, and show the area view.",
            discussion: """
                Creates one store per site in DIR (an LA, a trust with two academies, two maintained schools), has each
                SENCO record invented pupils offline, exchanges bundle files (academies → trust → LA, maintained schools →
                LA, and back), makes one concurrent edit so a conflict appears, and prints each step, the conflict, an area
                summary and every site's digest. Everything is synthetic. Re-running replaces an earlier demo in DIR.

                Example:
                  sensync demo --dir /tmp/sensync-demo
                """)

        @Option(help: "Folder for the demo's stores and bundles.") var dir: String = "sensync-demo"
        @Option(help: "Seed for the synthetic data.") var seed: UInt64 = 2026

        func run() throws {
            try DemoRun(folder: URL(fileURLWithPath: dir), seed: seed).run()
        }
    }
}

/// The demo's script. Kept apart from the command so it reads top to bottom.
private struct DemoRun {
    let folder: URL
    let seed: UInt64
    let marker = ".sensync-demo"

    struct Site {
        let store: Store
        let file: String
        let senco: String
        var name: String { store.identity.name }
    }

    func prepareFolder() throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.path) {
            let contents = try fm.contentsOfDirectory(atPath: folder.path)
            guard contents.isEmpty || contents.contains(marker) else {
                throw CommandFailure(
                    code: .invalidInput, message: "The demo folder exists and was not made by `sensync demo`.",
                    hint: "Choose an empty or new folder with --dir.")
            }
            try fm.removeItem(at: folder)
        }
        try fm.createDirectory(at: folder.appendingPathComponent("bundles"), withIntermediateDirectories: true)
        try Data("made by sensync demo\n".utf8).write(to: folder.appendingPathComponent(marker))
    }

    func makeSite(_ name: String, _ kind: SiteKind, file: String, senco: String, urn: String? = nil) throws -> Site {
        let store = try Store.create(
            at: folder.appendingPathComponent(file).path,
            identity: SiteIdentity(id: .v7(), name: name, kind: kind, urn: urn, laCode: "999"))
        return Site(store: store, file: file, senco: senco)
    }

    func connect(_ a: Site, _ b: Site) throws {
        try a.store.addPeer(b.store.identity)
        try b.store.addPeer(a.store.identity)
    }

    /// Makes a bundle from `from` to `to`, applies it at `to`, and prints one line.
    @discardableResult
    func exchange(_ from: Site, _ to: Site, label: String = "", counter: inout Int) throws -> ImportReport {
        counter += 1
        let slug = { (s: String) in s.lowercased().replacingOccurrences(of: "'", with: "").replacingOccurrences(of: " ", with: "-") }
        let file = folder.appendingPathComponent("bundles/\(String(format: "%02d", counter))-\(slug(from.name))-to-\(slug(to.name)).bundle")
        let summary = try from.store.makeBundle(to: [to.store.identity.id], at: file)
        let report = try to.store.apply(bundleAt: file)
        var line = "  \(from.name) → \(to.name)\(label)".padding(toLength: 58, withPad: " ", startingAt: 0)
        line += "bundles/\(file.lastPathComponent)  \(summary.header.changeCount) changes, \(Terminal.bytes(summary.fileSize))"
        line += "; applied \(report.applied) new"
        if report.duplicates > 0 { line += ", \(report.duplicates) already held" }
        if report.conflictsOpened > 0 { line += ", \(report.conflictsOpened) conflict opened" }
        Terminal.print(line)
        return report
    }

    func run() throws {
        try prepareFolder()
        let today = CalendarDate.today()
        Terminal.print("SENSync demo: a synthetic area in \(folder.path)")
        Terminal.print("Every name and UPN below is invented.")
        Terminal.print()
        Terminal.print("1. Sites, one store each")
        let la = try makeSite("Northshire Council", .la, file: "northshire-la.sensync", senco: "R Okoye (LA SEN officer)")
        let trust = try makeSite("Riverside Learning Trust", .trust, file: "riverside-trust.sensync", senco: "D Marsh (trust admin)")
        let riverside = try makeSite("Riverside Academy", .academy, file: "riverside-academy.sensync", senco: "A Khan (SENCO)", urn: "900001")
        let hillview = try makeSite("Hillview Academy", .academy, file: "hillview-academy.sensync", senco: "B Lewis (SENCO)", urn: "900002")
        let oakfield = try makeSite("Oakfield Primary", .maintainedSchool, file: "oakfield-primary.sensync", senco: "C Evans (SENCO)", urn: "900003")
        let stAnnes = try makeSite("St Anne's Primary", .maintainedSchool, file: "st-annes-primary.sensync", senco: "E Novak (SENCO)", urn: "900004")
        let schools = [riverside, hillview, oakfield, stAnnes]
        for site in [la, trust] + schools {
            Terminal.print("  \(site.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(site.store.identity.kind.label.padding(toLength: 18, withPad: " ", startingAt: 0)) \(site.file)")
        }
        try connect(riverside, trust)
        try connect(hillview, trust)
        try connect(trust, la)
        try connect(oakfield, la)
        try connect(stAnnes, la)
        for site in [la, trust] + schools {
            for other in [la, trust] + schools where other.store.identity.id != site.store.identity.id {
                try site.store.addKnownSite(other.store.identity)
            }
        }

        Terminal.print()
        Terminal.print("2. Each SENCO records offline")
        var data = SyntheticData(seed: seed, today: today)
        for (i, school) in schools.enumerated() {
            let tally = try data.record(pupils: 7 + i, in: school.store, laCode: "999", author: school.senco)
            Terminal.print(
                "  \(school.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(tally.pupils) pupils (\(tally.ehcPlans) EHC plan, \(tally.senSupport) SEN support), \(tally.notes) notes, \(tally.plans) plans: \(tally.changes) changes")
        }

        Terminal.print()
        Terminal.print("3. Bundle files travel: academies → trust → LA, maintained schools → LA")
        var n = 0
        try exchange(riverside, trust, counter: &n)
        try exchange(hillview, trust, counter: &n)
        try exchange(trust, la, label: " (relay)", counter: &n)
        try exchange(oakfield, la, counter: &n)
        try exchange(stAnnes, la, counter: &n)
        Terminal.print("  …and back, so every site knows what the others hold:")
        try exchange(la, trust, counter: &n)
        try exchange(trust, riverside, counter: &n)
        try exchange(trust, hillview, counter: &n)
        try exchange(la, oakfield, counter: &n)
        try exchange(la, stAnnes, counter: &n)

        Terminal.print()
        Terminal.print("4. A concurrent edit, made offline at two sites")
        let planPupil = try riverside.store.pupils().first { !((try? riverside.store.plans(of: $0.id.description).isEmpty) ?? true) }!
        let plan = try riverside.store.plans(of: planPupil.id.description)[0]
        let schoolDate = today.adding(days: 14).description
        let laDate = today.adding(days: 21).description
        try riverside.store.recordReview(
            plan: plan.id.description,
            NewReview(heldOn: today.description, summary: "Reviewed with parents; continue.", decision: .continue, nextReviewDate: schoolDate),
            author: riverside.senco)
        try la.store.reschedulePlanReview(plan: plan.id.description, date: laDate, author: la.senco)
        Terminal.print("  \(riverside.senco) at \(riverside.name) records a review and sets the next review to \(schoolDate);")
        Terminal.print("  \(la.senco) at \(la.name), not having seen it, sets the same plan's review to \(laDate).")
        try exchange(riverside, trust, counter: &n)
        try exchange(trust, la, label: " (relay)", counter: &n)
        try exchange(la, trust, counter: &n)
        try exchange(trust, riverside, counter: &n)
        try exchange(trust, hillview, counter: &n)
        try exchange(la, oakfield, counter: &n)
        try exchange(la, stAnnes, counter: &n)
        Terminal.print()
        Terminal.print("  Open conflict at \(la.name) (both values kept; option 1 is shown until someone resolves it):")
        for c in try la.store.conflicts() { printConflict(c, indent: 4) }
        let same = try riverside.store.conflicts().count == la.store.conflicts().count
        Terminal.print("  \(riverside.name) holds the same open conflict: \(same ? "yes" : "no")")

        Terminal.print()
        Terminal.print("5. Area view at \(la.name)")
        let summary = try la.store.areaSummary(today: today)
        Terminal.table(
            ["SCHOOL", "PUPILS", "EHC PLAN (E)", "SEN SUPPORT (K)", "NO SEN (N)"],
            summary.schools.map { [$0.name, String($0.total), String($0.ehcPlan), String($0.senSupport), String($0.noSEN)] }, indent: 2)
        Terminal.print()
        Terminal.print("  Top needs (primary / any rank):")
        for row in summary.needs.prefix(5) {
            Terminal.print("    \(row.need.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(row.need.label.padding(toLength: 44, withPad: " ", startingAt: 0)) \(row.primary) / \(row.any)")
        }
        Terminal.print("  Active plans: \(summary.activePlans), reviews overdue: \(summary.overdueReviews), open conflicts: \(summary.openConflicts)")

        Terminal.print()
        Terminal.print("6. Digests: one hash of each site's replicated state")
        var digests: [String] = []
        for site in [la, trust] + schools {
            let digest = try site.store.digest().hex
            digests.append(digest)
            Terminal.print("  \(site.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(digest)")
        }
        Terminal.print(
            Set(digests).count == 1
                ? "  All six sites hold the same changes, so all six digests are equal."
                : "  Digests differ: some site has not received every change yet.")
        for site in [la, trust] + schools { try site.store.checkpoint() }
        Terminal.print()
        Terminal.print("Explore: sensync status --store \(folder.appendingPathComponent(la.file).path)")
        Terminal.print("         sensync conflicts list --store \(folder.appendingPathComponent(la.file).path)")
        Terminal.print("         sensync bundle inspect \(folder.appendingPathComponent("bundles").path)/03-*.bundle")
    }
}
