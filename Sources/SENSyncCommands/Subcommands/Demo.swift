import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo",
            abstract: "Build a small synthetic area, exchange real bundle files, and show the area view.",
            discussion: HelpText.fitted(
                """
                Creates one store per site in DIR (an LA, a trust with two academies, two maintained schools), has each \
                SENCO record invented pupils offline, exchanges bundle files (academies → trust → LA, maintained schools → \
                LA, and back), makes one concurrent edit so a conflict appears, and prints each step, the conflict, an area \
                summary and every site's digest. It ends by writing the LA's area report as one HTML page with charts \
                (area-report.html in DIR). Everything is synthetic. Re-running replaces an earlier demo in DIR.

                Example:
                  sensync demo --dir /tmp/sensync-demo
                """))

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

    /// Makes the folder, replacing an earlier demo's. Returns whether one was replaced.
    func prepareFolder() throws -> Bool {
        let fm = FileManager.default
        var replaced = false
        if fm.fileExists(atPath: folder.path) {
            let contents = try fm.contentsOfDirectory(atPath: folder.path)
            guard contents.isEmpty || contents.contains(marker) else {
                throw CommandFailure(
                    code: .invalidInput, message: "The demo folder exists and was not made by `sensync demo`.",
                    hint: "Choose an empty or new folder with --dir.")
            }
            replaced = contents.contains(marker)
            try fm.removeItem(at: folder)
        }
        try fm.createDirectory(at: folder.appendingPathComponent("bundles"), withIntermediateDirectories: true)
        try Data("made by sensync demo\n".utf8).write(to: folder.appendingPathComponent(marker))
        return replaced
    }

    func makeSite(_ name: String, _ kind: SiteKind, file: String, senco: String, urn: String? = nil, la: Site? = nil)
        throws -> Site
    {
        let store = try Store.create(
            at: folder.appendingPathComponent(file).path,
            identity: SiteIdentity(id: .v7(), name: name, kind: kind, urn: urn, laCode: "999"),
            la: la?.store.publicIdentity)
        return Site(store: store, file: file, senco: senco)
    }

    static func slug(_ s: String) -> String {
        s.lowercased().replacingOccurrences(of: "'", with: "").replacingOccurrences(of: " ", with: "-")
    }

    /// Makes a bundle from `from` to `to`, applies it at `to`, and prints one line.
    @discardableResult
    func exchange(_ from: Site, _ to: Site, label: String = "", counter: inout Int) throws -> ImportReport {
        counter += 1
        let file = folder.appendingPathComponent(
            "bundles/\(String(format: "%02d", counter))-\(Self.slug(from.name))-to-\(Self.slug(to.name)).bundle")
        let summary = try from.store.makeBundle(to: [to.store.identity.id], at: file)
        let report = try to.store.apply(bundleAt: file)
        var line = "  \(from.name) → \(to.name)\(label)"
        line += String(repeating: " ", count: max(1, 58 - line.count))
        line += "\(summary.header.changeCount) changes, \(Terminal.bytes(summary.fileSize))"
        line += "; applied \(report.applied) new"
        if report.duplicates > 0 { line += ", \(report.duplicates) already held" }
        if report.skipped > 0 { line += ", \(report.skipped) not for this site" }
        if report.conflictsOpened > 0 { line += ", \(report.conflictsOpened) conflict opened" }
        if report.pupilsForgotten > 0 { line += ", \(report.pupilsForgotten) pupil(s) who left removed" }
        Terminal.print(line)
        return report
    }

    func run() throws {
        let replaced = try prepareFolder()
        let today = CalendarDate.today()
        Terminal.print(
            "SENSync demo: a synthetic area in \(folder.path)" + (replaced ? " (the previous demo there replaced)" : "")
        )
        Terminal.print("Every name and UPN below is invented.")
        Terminal.print()
        Terminal.print("1. Sites, one store and one key file each; the LA signs the area directory")
        let la = try makeSite(
            "Northshire Council", .la, file: "northshire-la.sensync", senco: "R Okoye (LA SEN officer)")
        let trust = try makeSite(
            "Riverside Learning Trust", .trust, file: "riverside-trust.sensync", senco: "D Marsh (trust admin)", la: la)
        let riverside = try makeSite(
            "Riverside Academy", .academy, file: "riverside-academy.sensync", senco: "A Khan (SENCO)", urn: "900001",
            la: la)
        let hillview = try makeSite(
            "Hillview Academy", .academy, file: "hillview-academy.sensync", senco: "B Lewis (SENCO)", urn: "900002",
            la: la)
        let oakfield = try makeSite(
            "Oakfield Primary", .maintainedSchool, file: "oakfield-primary.sensync", senco: "C Evans (SENCO)",
            urn: "900003", la: la)
        let stAnnes = try makeSite(
            "St Anne's Primary", .maintainedSchool, file: "st-annes-primary.sensync", senco: "E Novak (SENCO)",
            urn: "900004", la: la)
        let schools = [riverside, hillview, oakfield, stAnnes]
        let all = [la, trust] + schools
        try la.store.addToDirectory(trust.store.publicIdentity)
        for academy in [riverside, hillview] {
            try la.store.addToDirectory(academy.store.publicIdentity, trust: trust.store.identity.id)
        }
        for school in [oakfield, stAnnes] { try la.store.addToDirectory(school.store.publicIdentity) }
        for site in all {
            Terminal.print(
                "  \(site.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(site.store.identity.kind.label.padding(toLength: 18, withPad: " ", startingAt: 0)) fingerprint \(site.store.publicIdentity.fingerprint.prefix(24))…"
            )
        }
        Terminal.print(
            "  Schools and the trust pinned the LA's identity; the LA listed every site (academies with their trust).")

        Terminal.print()
        Terminal.print("2. Each SENCO records offline")
        var data = SyntheticData(seed: seed, today: today)
        for (i, school) in schools.enumerated() {
            let tally = try data.record(pupils: 7 + i, in: school.store, laCode: "801", author: school.senco)
            Terminal.print(
                "  \(school.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(counted(tally.pupils, "pupil")) (\(counted(tally.ehcPlans, "EHC plan")), \(tally.senSupport) SEN support), \(counted(tally.concerns, "concern")), \(counted(tally.notes, "note")), \(counted(tally.plans, "plan")), \(counted(tally.referrals, "referral")): \(counted(tally.changes, "change"))"
            )
        }

        Terminal.print()
        Terminal.print(
            "3. Signed, encrypted bundle files travel: academies → trust → LA, maintained schools → LA, and back")
        var n = 0
        try exchange(la, trust, label: " (directory)", counter: &n)
        try exchange(trust, riverside, label: " (directory)", counter: &n)
        try exchange(trust, hillview, label: " (directory)", counter: &n)
        try exchange(riverside, trust, counter: &n)
        try exchange(hillview, trust, counter: &n)
        try exchange(trust, la, label: " (relay)", counter: &n)
        try exchange(oakfield, la, counter: &n)
        try exchange(stAnnes, la, counter: &n)
        try exchange(la, trust, counter: &n)
        try exchange(la, oakfield, counter: &n)
        try exchange(la, stAnnes, counter: &n)
        try exchange(trust, riverside, counter: &n)
        try exchange(trust, hillview, counter: &n)
        try exchange(riverside, trust, counter: &n)
        try exchange(hillview, trust, counter: &n)
        let statutory = try data.recordStatutoryWork(in: la.store, author: la.senco)
        Terminal.print(
            "  \(la.name) records \(statutory.assessments) EHC needs assessment(s) against their statutory deadlines; the schools receive them next time."
        )
        Terminal.print("  Who sees whom (pupils held):")
        for site in all {
            Terminal.print(
                "    \(site.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(try site.store.pupils().count)")
        }

        Terminal.print()
        Terminal.print("4. A refused bundle")
        let misdirected = folder.appendingPathComponent("bundles/oakfield-primary-for-the-la-only.bundle")
        try oakfield.store.makeBundle(to: [la.store.identity.id], at: misdirected)
        do {
            try stAnnes.store.apply(bundleAt: misdirected)
            Terminal.print("  (unexpectedly applied)")
        } catch let error as BundleError {
            Terminal.print("  St Anne's Primary tries a bundle Oakfield Primary made for the LA: refused.")
            Terminal.print("    \(error.message)")
        }
        var tampered = try Data(contentsOf: misdirected)
        tampered[tampered.count / 2] ^= 0x01
        let tamperedURL = folder.appendingPathComponent("bundles/oakfield-primary-tampered.bundle")
        try tampered.write(to: tamperedURL)
        do {
            try la.store.apply(bundleAt: tamperedURL)
        } catch let error as BundleError {
            Terminal.print("  The LA is given a copy with one bit changed: refused.")
            Terminal.print("    \(error.message)")
        }

        Terminal.print()
        Terminal.print("5. A pupil moves school: the LA transfers them from Riverside Academy to Oakfield Primary")
        let mover = try riverside.store.pupils().max { a, b in
            let score = { (p: PupilRecord) in
                ((try? riverside.store.notes(of: p.id.description).count) ?? 0) + 2
                    * ((try? riverside.store.plans(of: p.id.description).count) ?? 0)
            }
            return score(a) < score(b)
        }!
        let moverID = mover.id.description
        let notesBefore = try riverside.store.notes(of: moverID).count
        try la.store.transferPupil(moverID, to: oakfield.store.identity.id, on: today.description, author: la.senco)
        try exchange(la, oakfield, label: " (with the pupil's history)", counter: &n)
        Terminal.print(
            "  Oakfield Primary now holds \(try oakfield.store.notes(of: moverID).count) of the pupil's \(notesBefore) notes and \(try oakfield.store.plans(of: moverID).count) plan(s): the full SEN history, not just codes."
        )
        try oakfield.store.addNote(
            pupil: moverID, text: "Settling in; buddy assigned for the first fortnight.", area: .semh,
            author: oakfield.senco)
        try exchange(oakfield, la, counter: &n)
        try exchange(la, trust, counter: &n)
        try exchange(trust, riverside, counter: &n)
        try exchange(riverside, trust, counter: &n)
        try exchange(trust, riverside, counter: &n)
        let stillAtRiverside = try riverside.store.pupils().contains { $0.id == mover.id }
        Terminal.print(
            "  Riverside Academy received nothing new about the pupil and \(stillAtRiverside ? "still holds" : "no longer holds") their records."
        )

        Terminal.print()
        Terminal.print("6. A concurrent edit, made offline at two sites")
        let planPupil = try hillview.store.pupils().first {
            !((try? hillview.store.plans(of: $0.id.description).isEmpty) ?? true)
        }!
        let plan = try hillview.store.plans(of: planPupil.id.description)[0]
        let schoolDate = today.adding(days: 14).description
        let laDate = today.adding(days: 21).description
        try hillview.store.recordReview(
            plan: plan.id.description,
            NewReview(
                heldOn: today.description, summary: "Reviewed with parents; continue.", decision: .continue,
                nextReviewDate: schoolDate),
            author: hillview.senco)
        try la.store.reschedulePlanReview(plan: plan.id.description, date: laDate, author: la.senco)
        Terminal.print(
            "  \(hillview.senco) at \(hillview.name) records a review and sets the next review to \(schoolDate);")
        Terminal.print("  \(la.senco) at \(la.name), not having seen it, sets the same plan's review to \(laDate).")
        try exchange(hillview, trust, counter: &n)
        try exchange(trust, la, label: " (relay)", counter: &n)
        try exchange(la, trust, counter: &n)
        try exchange(trust, hillview, counter: &n)
        Terminal.print()
        Terminal.print("  Open conflict at \(la.name) (both values kept; option 1 is shown until someone resolves it):")
        for c in try la.store.conflicts() { printConflict(c, indent: 4) }
        let same = try hillview.store.conflicts().count == la.store.conflicts().count
        Terminal.print("  \(hillview.name) holds the same open conflict: \(same ? "yes" : "no")")

        Terminal.print()
        Terminal.print("7. Area view at \(la.name)")
        let summary = try la.store.areaSummary(today: today)
        Terminal.table(
            ["SCHOOL", "PUPILS", "EHC PLAN (E)", "SEN SUPPORT (K)", "NO SEN (N)"],
            summary.schools.map {
                [$0.name, String($0.total), String($0.ehcPlan), String($0.senSupport), String($0.noSEN)]
            }, indent: 2)
        Terminal.print()
        Terminal.print("  Top needs (primary / any rank):")
        for row in summary.needs.prefix(5) {
            Terminal.print(
                "    \(row.need.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(row.need.label.padding(toLength: 44, withPad: " ", startingAt: 0)) \(row.primary) / \(row.any)"
            )
        }
        Terminal.print(
            "  Active plans: \(summary.activePlans), reviews overdue: \(summary.overdueReviews), open conflicts: \(summary.openConflicts)"
        )
        Terminal.print(
            "  Open concerns: \(summary.openConcerns), referrals awaiting an answer: \(summary.referralsAwaiting), EHC needs assessments open: \(summary.assessmentsOpen)"
        )
        Terminal.print(
            "  Duties due in the next 28 days: \(summary.dueSoon), overdue: \(summary.overdue) (see `sensync due`)")

        Terminal.print()
        Terminal.print("8. Digests: one hash of each site's replicated state")
        for site in all {
            Terminal.print(
                "  \(site.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(try site.store.digest().hex)")
        }
        Terminal.print(
            "  Each site holds only the pupils it may see, so digests differ between sites with different views.")
        let copy = folder.appendingPathComponent("hillview-academy-replica.sensync")
        try hillview.store.checkpoint()
        try FileManager.default.copyItem(atPath: folder.appendingPathComponent(hillview.file).path, toPath: copy.path)
        // Closed (the closure's end releases it) before the copy and its WAL files go.
        let equal = try { try Store.open(at: copy.path, access: .readOnly).digest() }() == hillview.store.digest()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy.path + suffix) }
        Terminal.print(
            "  A second copy of Hillview Academy's store, holding the same changes, has \(equal ? "the same" : "a DIFFERENT") digest."
        )
        Terminal.print()
        Terminal.print("9. The LA's area report, as one page with charts")
        // Synthetic rolls, as the LA would take them from the school census.
        for (school, roll) in [(oakfield, 212), (stAnnes, 188), (riverside, 420), (hillview, 305)] {
            _ = try la.store.setSchoolRoll(school: school.name, pupils: roll, asOf: today)
        }
        let page = folder.appendingPathComponent("area-report.html")
        try Data(try la.store.areaReport(asOf: today).document().html.utf8).write(to: page)
        Terminal.print("  Wrote \(page.path): open it in a browser, or print it on A4.")
        Terminal.print(
            "  The same figures: sensync report area --store \(folder.appendingPathComponent(la.file).path)")
        for site in all { try site.store.checkpoint() }
        Terminal.print()
        // The pupil by UPN, as people name them (an id where the demo gave none).
        let moverRef = mover.upn ?? moverID
        Terminal.print("Explore: sensync status --store \(folder.appendingPathComponent(la.file).path)")
        Terminal.print(
            "         sensync history \(moverRef) --store \(folder.appendingPathComponent(oakfield.file).path)")
        // With the LA's store, so the header's sites are named rather than given by id.
        Terminal.print(
            "         sensync bundle inspect \(folder.appendingPathComponent("bundles").path)/06-*.bundle --store \(folder.appendingPathComponent(la.file).path)"
        )
        Terminal.print("         sensync audit verify --store \(folder.appendingPathComponent(la.file).path)")
        Terminal.print("         sensync due --store \(folder.appendingPathComponent(la.file).path)")
        Terminal.print(
            "         sensync summary \(moverRef) --store \(folder.appendingPathComponent(oakfield.file).path)")
    }
}
