import Foundation
import Testing

@testable import SENSync

/// The area report's CSV and JSON shapes are pinned to the examples in `Schemas/reports/`, and every
/// key, section and measure is documented in `Schemas/reports/area-report.md`. A change to either
/// shape fails here until the examples are regenerated (`SENSYNC_REGENERATE_FIXTURES=1`) and the
/// document says what changed.
struct ReportShapeTests {
    /// The hand-built area of ``AreaReportTests``, with the parts a store fills in set by hand.
    static func pinnedReport() -> AreaReport {
        var report = AreaReportTests.workedArea()
        report.heldBy = "Northshire"
        report.sites = ["Northshire", "Oakfield"]
        var decision = EHCTimeliness.Step(step: "decision")
        decision.due = 2
        decision.onTime = 1
        decision.lateWithException = 1
        report.timeliness = EHCTimeliness(steps: [decision])
        report.possibleDuplicatePupils = 1
        report.freshness = [
            PeerHealth(
                site: SiteIdentity(id: fixedID(2), name: "Oakfield", kind: .maintainedSchool),
                lastReceived: "2026-03-30", lastSent: "2026-03-29", theyLack: 3, weLack: 0,
                refusedSinceLastApplied: 1, lastRefusal: "damaged",
                verdict: .behind(theyLack: 3, weLack: 0, since: "2026-03-29"))
        ]
        return report
    }

    static let folder = repositoryRoot.appendingPathComponent("Schemas/reports")

    func pinned(_ name: String, _ text: String) throws {
        let file = Self.folder.appendingPathComponent(name)
        if regenerateFixtures {
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: file, encoding: .utf8)
        #expect(committed == text, "\(name) differs from the report's shape: document the change and regenerate")
    }

    static func json(_ report: AreaReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report.export), as: UTF8.self) + "\n"
    }

    @Test func theJSONShapeIsPinned() throws {
        try pinned("area-report.example.json", try Self.json(Self.pinnedReport()))
    }

    @Test func theCSVShapeIsPinned() throws {
        let report = Self.pinnedReport()
        try pinned("area-report.example.csv", try CSVTable.text(header: AreaReport.csvHeader, rows: report.csvRows))
    }

    @Test func everyKeySectionAndMeasureIsDocumented() throws {
        let document = try String(
            contentsOf: Self.folder.appendingPathComponent("area-report.md"), encoding: .utf8)
        let report = Self.pinnedReport()
        var keys: Set<String> = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, inner) in object {
                    keys.insert(key)
                    collect(inner)
                }
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(try JSONSerialization.jsonObject(with: Data(try Self.json(report).utf8)))
        let csv = report.csvRows
        let names = keys.union(csv.map { $0[0] }).union(csv.map { $0[3] }).union(AreaReport.csvHeader)
        let missing = names.filter { !document.contains("`\($0)`") && !document.contains(".\($0)`") }.sorted()
        #expect(missing.isEmpty, "Schemas/reports/area-report.md does not document: \(missing)")
        // Every row has the header's five columns.
        #expect(csv.allSatisfy { $0.count == AreaReport.csvHeader.count })
    }

    @Test func csvQuotesWhatNeedsQuoting() throws {
        let text = try CSVTable.text(header: ["a", "b"], rows: [["Smith, J", "said \"no\""], ["line\nbreak", ""]])
        #expect(text == "a,b\n\"Smith, J\",\"said \"\"no\"\"\"\n\"line\nbreak\",\n")
    }
}
