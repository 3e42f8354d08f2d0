import Foundation
import SENSync
import Testing

/// The README's library example (its first two Swift blocks under "Library use") runs as written,
/// and the README shows this file's code: a newcomer found the example could not work (the school
/// was never in the LA's directory).
struct ReadmeLibraryExampleTests {
    @Test func theReadmeLibraryExampleRuns() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

        // From here to the end, as in the README (with `path(...)` around file names).

        // The LA, and a school that pins the LA's public identity (checked by phone, in real life).
        let la = try Store.create(
            at: path("northshire.sensync"),
            identity: SiteIdentity(id: .v7(), name: "Northshire Council", kind: .la, laCode: "999"))
        let oak = try Store.create(
            at: path("oakfield.sensync"),
            identity: SiteIdentity(id: .v7(), name: "Oakfield Primary", kind: .maintainedSchool, urn: "100001"),
            la: la.publicIdentity)
        try la.addToDirectory(oak.publicIdentity)  // the LA lists the school in its signed directory
        let welcome = URL(fileURLWithPath: path("la-to-oak.bundle"))
        try la.makeBundle(to: [oak.identity.id], at: welcome)
        try oak.apply(bundleAt: welcome)  // the directory reaches the school

        let pupil = try oak.addPupil(
            NewPupil(upn: "H801200001001", forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01"),
            author: "SENCO")
        try oak.updatePupil(pupil.description, PupilUpdate(senStatus: "K", senNeeds: "SPLD"), author: "SENCO")
        try oak.addNote(
            pupil: pupil.description, text: "Finds blending hard.", area: .cognitionLearning, author: "SENCO")

        let file = URL(fileURLWithPath: path("oak-to-la.bundle"))
        try oak.makeBundle(to: [la.identity.id], at: file)
        let report = try la.apply(bundleAt: file)  // ImportReport: applied, duplicates, rejected, conflictsOpened
        print("applied \(report.applied), \(report.conflictsOpened) conflict(s) opened")
        let converged = try la.digest() == oak.digest()  // the same changes, so the same digest
        assert(converged)
        for conflict in try la.conflicts() { print(conflict.field, conflict.candidates.map(\.value)) }

        // Reading only: the file stays byte for byte as it was (any write through it fails).
        let copy = try Store.open(at: path("northshire.sensync"), access: .readOnly)
        let status = try copy.status()  // warns: clockAheadMinutes, clockDoubt, behindOwnHistory
        print(status.openConflicts, status.recordCounts)
        // Local writes throw StoreError(.clockAhead) while store.clockDoubt() is set; store.confirmClock()
        // says the clock is right (`sensync clock confirm`).
        // An update that changes nothing records nothing: receipt.changed == false.
        let receipt = try oak.updatePupil(pupil.description, PupilUpdate(senNeeds: "SPLD"), author: "SENCO")
        assert(!receipt.changed)

        // Many writes in one transaction: each is checked as it would be alone and reads inside see the
        // batch's own writes; a write its checks refuse throws and leaves the batch as it was; if the
        // closure throws (or a write fails after its checks passed), nothing is recorded. About twice as
        // fast as one transaction per write (see Benchmarks). Bundles, the directory and other
        // store-wide operations throw inside a batch: run them after it.
        let misRows = [("X801200001002", "Ben"), ("L801200001003", "Cara")]  // e.g. from a school's MIS export
        try oak.batch {
            for (upn, name) in misRows {
                let p = try oak.addPupil(
                    NewPupil(upn: upn, forename: name, surname: "Example", dateOfBirth: "2016-04-01"),
                    author: "SENCO")
                try oak.addNote(pupil: p.description, text: "Imported from the previous system.", author: "SENCO")
            }
        }
        let referral = try oak.addRecord(
            Referral.self, pupil: "H801200001001",
            [
                .agency: "speech-language-therapy", .referredOn: "2026-01-12", .referredBy: "SENCO",
                .reason: "Speech unclear",
            ],
            author: "SENCO")
        try oak.updateRecord(Referral.self, referral.description, [.acceptedOn: "2026-01-30"], author: "SENCO")
        for r in try oak.records(Referral.self, of: "H801200001001") {
            print(r.text(.agency) ?? "", r.date(.acceptedOn)!)
        }
        for item in try oak.due(within: 30) {
            print(item.obligation.dueOn, item.obligation.what, item.obligation.responsibleOrg)
        }
        print(StatutoryClock.finalPlanDue(requestReceived: CalendarDate("2025-01-06")!))  // 2025-05-26
        let census = try oak.censusExport(on: CensusTerm.spring.day(in: 2026))  // rows and problems, as values
        if census.problems.isEmpty { print(try CSVTable.text(header: CensusExport.header, rows: census.csvRows)) }

        #expect(try la.pupils().count == 1 && oak.pupils().count == 3)
        #expect(try oak.records(Referral.self, of: "H801200001001").count == 1)
    }

    /// Every line of the README's example is in the test above.
    @Test func theReadmeShowsTheTestedExample() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
            .replacingOccurrences(of: #"path\("([^"]+)"\)"#, with: "\"$1\"", options: .regularExpression)
        // Lines compared with runs of spaces as one (`swift format` aligns comments differently).
        func normal(_ line: Substring) -> String {
            line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        let tested = Set(source.split(separator: "\n").map(normal))
        let section = try #require(readme.components(separatedBy: "## Library use").dropFirst().first)
        let blocks = section.components(separatedBy: "```swift\n").dropFirst().prefix(2).map {
            $0.components(separatedBy: "\n```")[0]
        }
        #expect(blocks.count == 2)
        let missing = blocks.joined(separator: "\n").split(separator: "\n")
            .map(normal).filter { !tested.contains($0) }
        #expect(missing.isEmpty, "README lines not in the tested example: \(missing)")
    }
}
