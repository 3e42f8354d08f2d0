import Foundation
import GRDB
import Testing

@testable import SENSync

/// The audit trail: `auditVerify()` is clean on stores that only ever synced normally, finds a
/// stored change whose bytes were altered, and `history(of:)` says who did what from which site,
/// showing redacted entries once a pupil is erased.
struct ScopeAuditTests {
    static let tamperedText = "Audit note: reading age 6y2m (marker TA5MP)"

    /// An area where a pupil moved from a maintained school to an academy, with history at every
    /// kind of store, forgotten at the old school.
    static func movedPupil(_ dir: URL) throws -> (ScopeArea, RecordID) {
        let area = try ScopeArea(folder: dir)
        try area.add("Old", .maintainedSchool)
        try area.add("Trust", .trust)
        try area.add("New", .academy, trust: "Trust")
        try area.distributeDirectory()
        let pupil = try area["Old"].addPupil(
            NewPupil(upn: syntheticUPN(6101), forename: "Audit", surname: "Trail", dateOfBirth: "2015-11-11"),
            author: "SENCO Old")
        try area["Old"].addNote(pupil: pupil.description, text: tamperedText, author: "SENCO Old")
        try area["Old"].addPupil(
            NewPupil(upn: syntheticUPN(6102), forename: "Stays", surname: "Put", dateOfBirth: "2015-12-12"),
            author: "SENCO Old")
        try area.send("Old", "LA")
        try area.la.addNote(pupil: pupil.description, text: "LA: consulted EP", author: "LA officer")
        // Everyone now holds the old school's chain, the academy and its trust only as skipped.
        try area.gossip(rounds: 2)
        try area.la.transferPupil(pupil.description, to: area.id("New"), on: ScopeArea.today, author: "LA officer")
        try area.gossip(rounds: 3)
        try area["New"].addNote(pupil: pupil.description, text: "New: settling", author: "SENCO New")
        try area.gossip(rounds: 2)
        return (area, pupil)
    }

    @Test func storesThatSyncedNormallyVerifyClean() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.movedPupil(dir)
            for name in area.names {
                let report = try area[name].auditVerify()
                #expect(report.isClean, "\(name): \(report.problems)")
                #expect(!report.chains.isEmpty)
            }
            // What each holds is described: the old school kept its changes about the pupil only
            // redacted; the new school holds others' changes in part, the rest out of its scope.
            #expect(try area["Old"].pupilsWithRecords().contains(pupil) == false)
            let old = try area["Old"].auditVerify()
            #expect(
                old.chains.first { $0.site == area.id("Old") }.map { $0.redacted > 0 && $0.withContent > 0 } == true)
            let new = try area["New"].auditVerify()
            let la = try area.la.auditVerify()
            #expect(la.chains.allSatisfy { $0.outOfScope == 0 && $0.redacted == 0 })
            // The new school holds only the old school's changes about the pupil it took on.
            let oldAtNew = try #require(new.chains.first { $0.site == area.id("Old") })
            let oldAtLA = try #require(la.chains.first { $0.site == area.id("Old") })
            #expect(oldAtNew.withContent > 0 && oldAtNew.withContent < oldAtLA.withContent)
        }
    }

    /// Changes one byte of the first stored copy of `text` in a column of `table` at `store`.
    static func alter(_ text: String, in table: String, column: String, at store: Store) throws {
        let needle = Array(text.utf8)
        try store.writer.write { db in
            let key = table == "change_log" ? "site_ord, first_seq" : "site_ord, seq"
            for row in try Row.fetchAll(db, sql: "SELECT \(key), \(column) FROM \(table)") {
                var bytes = [UInt8](row[2] as Data)
                guard let at = Data(bytes).range(of: Data(needle))?.lowerBound else { continue }
                bytes[at] ^= 0x20  // "A" → "a"
                let keyColumns = key.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                try db.execute(
                    sql: "UPDATE \(table) SET \(column) = ? WHERE \(keyColumns[0]) = ? AND \(keyColumns[1]) = ?",
                    arguments: [Data(bytes), row[0] as Int64, row[1] as Int64])
                return
            }
            Issue.record("\(text) is not in \(table).\(column)")
        }
    }

    @Test func anAlteredChangeInTheLogIsReported() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.movedPupil(dir)
            let la = area.la
            #expect(try la.auditVerify().isClean)
            try Self.alter(Self.tamperedText, in: "change_log", column: "changes", at: la)
            let report = try la.auditVerify()
            #expect(!report.isClean)
            #expect(report.problems.map(\.kind) == [.altered], "\(report.problems)")
            #expect(report.problems.first?.site == area.id("Old"))
            // The report names sites (by name, not id) and sequence numbers, never the content.
            #expect(report.problems.allSatisfy { !$0.description.contains("reading age") })
            let text = try #require(report.problems.first?.description)
            #expect(text.hasPrefix("altered: change ") && text.contains(" of Old: "), "\(text)")
            #expect(!text.contains(area.id("Old").description), "\(text)")
        }
    }

    @Test func anAlteredChangeHeldWithoutItsRunIsReported() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.movedPupil(dir)
            let new = area["New"]
            #expect(try new.auditVerify().isClean)
            // The new school holds the old school's changes about the pupil, each with its proof.
            try Self.alter(Self.tamperedText, in: "change_log", column: "changes", at: new)
            let report = try new.auditVerify()
            #expect(report.problems.map(\.kind) == [.altered], "\(report.problems)")
            #expect(report.problems.first?.site == area.id("Old"))
            #expect(report.problems.first?.detail.contains("signed") == true)
        }
    }

    @Test func aMissingLogRowIsReportedAsAGap() throws {
        try withTemporaryDirectory { dir in
            let (area, _) = try Self.movedPupil(dir)
            let la = area.la
            try la.writer.write { db in
                let ord = try #require(
                    try Int64.fetchOne(
                        db, sql: "SELECT ord FROM site WHERE site_id = ?", arguments: [area.id("Old").description]))
                try db.execute(
                    sql:
                        "DELETE FROM change_log WHERE site_ord = ? AND first_seq = (SELECT min(first_seq) FROM change_log WHERE site_ord = ?)",
                    arguments: [ord, ord])
            }
            let report = try la.auditVerify()
            #expect(report.problems.contains { $0.kind == .gap && $0.site == area.id("Old") }, "\(report.problems)")
        }
    }

    @Test func historyListsWhoDidWhatFromWhichSiteAndRedactsAfterErasure() throws {
        try withTemporaryDirectory { dir in
            let (area, pupil) = try Self.movedPupil(dir)
            let la = area.la
            let entries = try la.history(of: pupil.description)
            let summary = entries.map { "\($0.siteName ?? "?")/\($0.author ?? "?"): \($0.writes.map(\.table))" }
            #expect(
                summary == [
                    "Old/SENCO Old: [\"pupil\", \"enrolment\"]",
                    "Old/SENCO Old: [\"note\"]",
                    "LA/LA officer: [\"note\"]",
                    "LA/LA officer: [\"enrolment\", \"enrolment\"]",
                    "New/SENCO New: [\"note\"]",
                ], "\(summary)")
            #expect(entries.allSatisfy { !$0.isRedacted && $0.rejection == nil && $0.hlc != nil })
            // Oldest first, and what was written is there.
            #expect(entries.map(\.hlc) == entries.map(\.hlc).sorted { ($0 ?? .zero) < ($1 ?? .zero) })
            let note = try #require(entries[1].writes.first?.fields.first { $0.field == "text" })
            #expect(note.value == .text(Self.tamperedText))
            let transfer = entries[3].writes.flatMap(\.fields).map(\.field)
            #expect(transfer.contains("leaving_date") && transfer.contains("school_id"))
            // The new school sees the same history.
            #expect(try area["New"].history(of: pupil.description).map(\.dot) == entries.map(\.dot))

            try la.erasePupil(pupil.description, reason: "retention", author: "LA officer")
            try area.gossip(rounds: 2)
            for name in ["LA", "New", "Trust", "Old"] {
                let after = try area[name].history(of: pupil.description)
                #expect(after.last?.writes.map(\.table) == ["erasure"], "\(name)")
                #expect(after.last?.author == "LA officer")
                #expect(
                    after.dropLast().allSatisfy { $0.isRedacted && $0.author == nil && $0.writes.isEmpty }, "\(name)")
                #expect(try area[name].auditVerify().isClean, "\(name)")
            }
            let after = try la.history(of: pupil.description)
            #expect(after.map(\.dot) == entries.map(\.dot) + [after.last!.dot])
            #expect(after.dropLast().map(\.siteName) == entries.map(\.siteName))
            #expect(after.dropLast().map(\.hlc) == entries.map(\.hlc))
        }
    }
}
