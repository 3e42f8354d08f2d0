import Foundation
import Testing

@testable import SENSync

/// The PostgreSQL script as text: COPY escaping, the pseudonymisation rule, and one small LA's
/// rows worked out by hand, with and without personal data.
struct PostgresExportTests {
    @Test func copyTextEscapesWhatWouldEndAValueARowOrTheData() {
        #expect(PostgresExport.copyText("plain text, 'quoted' and \"double\"") == "plain text, 'quoted' and \"double\"")
        #expect(PostgresExport.copyText("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re")
        // `\.` on a line of its own would end the data: its backslash is doubled.
        #expect(PostgresExport.copyText("\\.") == "\\\\.")
        #expect(PostgresExport.copyText("\\N") == "\\\\N")
        #expect(PostgresExport.copyText("nul\0gone") == "nulgone")
        #expect(PostgresExport.copyText("Zoë\r\n") == "Zoë\\r\\n")
    }

    @Test func cellsAreWrittenInTheirColumnsTypes() {
        let cost = ProvisionItem.Field.costPence.definition
        let flag = EHCPlan.Field.phaseTransferToPost16.definition
        let date = SupportPlan.Field.reviewDate.definition
        let title = SupportPlan.Field.title.definition
        let org = SupportPlan.Field.responsibleOrg.definition
        #expect(PostgresExport.cell(.integer(45_000), field: cost, includePersonalData: false) == "45000")
        #expect(PostgresExport.cell(.integer(1), field: flag, includePersonalData: false) == "t")
        #expect(PostgresExport.cell(.integer(0), field: flag, includePersonalData: false) == "f")
        #expect(PostgresExport.cell(.text("2026-01-15"), field: date, includePersonalData: false) == "2026-01-15")
        // A stored value that is not of the field's type is null, not a load that fails.
        #expect(PostgresExport.cell(.text("2026-13-01"), field: date, includePersonalData: false) == "\\N")
        #expect(PostgresExport.cell(.text("x"), field: cost, includePersonalData: false) == "\\N")
        #expect(PostgresExport.cell(nil, field: org, includePersonalData: true) == "\\N")
        #expect(PostgresExport.cell(.null, field: org, includePersonalData: true) == "\\N")
        #expect(PostgresExport.cell(.text("Oak\tfield"), field: org, includePersonalData: false) == "Oak\\tfield")
        #expect(PostgresExport.cell(.text("Ada's plan"), field: title, includePersonalData: false) == "\\N")
        #expect(PostgresExport.cell(.text("Ada's plan"), field: title, includePersonalData: true) == "Ada's plan")

        #expect(PostgresExport.type(of: .pence) == "bigint")
        #expect(PostgresExport.type(of: .flag) == "boolean")
        #expect(PostgresExport.type(of: .date) == "date")
        #expect(PostgresExport.type(of: .integer(-2...14)) == "integer")
        #expect(PostgresExport.type(of: .integer(0...5_000_000_000)) == "bigint")
        #expect(PostgresExport.type(of: .codes("census-sen-type")) == "text")
    }

    /// Every field a pseudonymised export leaves out, listed by hand from the declarations.
    @Test func thePersonalFieldsAreIdentitiesNamesAndFreeText() {
        let expected: [String: Set<String>] = [
            "pupil": ["upn", "forename", "surname", "date_of_birth", "former_upns"],
            "note": ["text", "recorded_by"],
            "support_plan": ["title", "responsible_person"],
            "plan_outcome": ["description"],
            "provision_item": ["description", "provider", "responsible_person"],
            "plan_review": ["summary", "attendees", "parent_view", "pupil_view", "progress"],
            "erasure": ["reason", "erased_by"],
            "concern": ["raised_by", "observations", "strategies_tried", "parent_view", "pupil_voice"],
            "concern_action": ["action", "owner"],
            "referral": ["reason", "referred_by", "agency_contact", "outcome"],
            "escalation": ["raised_by", "summary", "outcome"],
            "ehc_assessment": ["case_officer"],
            "ehc_exception": ["detail"],
            "ehc_plan": ["case_officer"],
            "ehc_section": ["content"],
            "review_progress": ["comment"],
        ]
        var found: [String: Set<String>] = [:]
        for kind in RecordSchema.kinds {
            let personal = Set(kind.fields.filter(\.isPersonal).map(\.name))
            if !personal.isEmpty { found[kind.name] = personal }
        }
        #expect(found == expected)
        // Free text is personal whatever its declaration says.
        let note = FieldDefinition(name: "x", label: "X", rule: .text(maxLength: 201))
        #expect(note.isPersonal)
        #expect(!FieldDefinition(name: "x", label: "X", rule: .text(maxLength: 200)).isPersonal)
    }

    @Test func theScriptReplacesOneLAsRowsInOneTransaction() throws {
        try withTemporaryDirectory { folder in
            let (area, ids) = try Self.area(folder)
            let path = folder.appendingPathComponent("northshire.sql").path
            let summary = try area.la.exportPostgres(to: path, asOf: CalendarDate("2026-01-05")!)
            #expect(summary.laCode == "999")
            #expect(summary.rows["pupil"] == 1 && summary.rows["note"] == 1 && summary.rows["obligations"] == 1)
            let script = try String(contentsOfFile: path, encoding: .utf8)
            let lines = script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.filter { $0 == "BEGIN;" }.count == 1)
            #expect(lines.filter { $0 == "COMMIT;" }.count == 1 && lines.last(where: { !$0.isEmpty }) == "COMMIT;")
            // Every table: created if missing, this LA's rows deleted, then copied.
            for table in PostgresExport.tables {
                #expect(lines.contains("CREATE TABLE IF NOT EXISTS sensync.\"\(table.name)\" ("))
                #expect(lines.contains("DELETE FROM sensync.\"\(table.name)\" WHERE \"la_code\" = '999';"))
                #expect(lines.contains { $0.hasPrefix("COPY sensync.\"\(table.name)\" (") })
            }
            let rows = Self.copyRows(script)
            let pupil = ids.pupil.description
            #expect(
                rows["pupil"] == [["999", pupil, pupil, "\\N", "\\N", "\\N", "\\N", "4", "N", "\\N", "\\N"]])
            // The note's text and author are left out; its area and the note it amends are not set.
            #expect(rows["note"]?.first?[3...5] == ["\\N", "\\N", "\\N"])
            #expect(rows["note"]?.first?.last == "\\N")
            #expect(
                rows["support_plan"] == [
                    [
                        "999", pupil, ids.plan.description, "\\N", "active", "2025-09-15", "2025-12-01", "Oakfield",
                        "\\N", "sen-support", "\\N",
                    ]
                ])
            #expect(
                rows["obligations"] == [
                    [
                        "999", pupil, ids.plan.description, "plan-review", "\\N", "2025-12-01", "Oakfield", "\\N",
                        "\\N", "f", "t",
                    ]
                ])
            #expect(rows["export_info"]?.first?[0] == "999")
            #expect(rows["export_info"]?.first?[2...3] == ["1", "\(RecordSchema.version)"])
            #expect(rows["export_info"]?.first?[4] == "2026-01-05")
            #expect(rows["export_info"]?.first?.last == "f")
            for personal in [syntheticUPN(9001), "Ada", "Example", "2016-04-01", "Worried", "Smith", "Ms Teacher"] {
                #expect(!script.contains(personal), "the pseudonymised script holds \(personal)")
            }

            // Only with the flag, and then escaped.
            let full = folder.appendingPathComponent("northshire-full.sql").path
            try area.la.exportPostgres(to: full, includePersonalData: true, asOf: CalendarDate("2026-01-05")!)
            let fullRows = Self.copyRows(try String(contentsOfFile: full, encoding: .utf8))
            #expect(
                fullRows["pupil"] == [
                    ["999", pupil, pupil, syntheticUPN(9001), "Ada", "Example", "2016-04-01", "4", "N", "\\N", "\\N"]
                ])
            #expect(fullRows["note"]?.first?[3] == "Worried about\\treading\\nand spelling \\\\ letters")
            #expect(fullRows["note"]?.first?.last == "J Smith (SENCO)")
            #expect(fullRows["obligations"]?.first?[4] == "Review the support plan \"Ada's reading plan\"")
            #expect(fullRows["export_info"]?.first?.last == "t")

            // Never over an existing file unless asked.
            #expect(throws: StoreError.self) { try area.la.exportPostgres(to: path) }
            try area.la.exportPostgres(to: path, replacing: true, asOf: CalendarDate("2026-01-05")!)
        }
    }

    @Test func onlyAnLAStoreWithItsCodeExports() throws {
        try withTemporaryDirectory { folder in
            let area = try TestArea(folder: folder)
            let school = try area.add("Oakfield", .maintainedSchool, urn: "100001")
            let path = folder.appendingPathComponent("x.sql").path
            let error = try #require(throws: StoreError.self) { try school.exportPostgres(to: path) }
            #expect(error.code == .invalidInput && error.message.contains("maintained school's store"))
            let noCode = try Store.inMemory(identity: SiteIdentity(id: .v7(), name: "LA", kind: .la))
            let missing = try #require(throws: StoreError.self) { try noCode.exportPostgres(to: path) }
            #expect(missing.message.contains("no three-digit DfE LA code"))
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        }
    }

    /// Northshire (LA 999) with Oakfield and one pupil, Ada (year 4, no SEN: `N`), who has a note (with a tab,
    /// a newline and a backslash) and a support plan whose review (2025-12-01) is overdue on
    /// 2026-01-05.
    static func area(_ folder: URL) throws -> (TestArea, (pupil: RecordID, plan: RecordID)) {
        let area = try TestArea(folder: folder)
        let oakfield = try area.add("Oakfield", .maintainedSchool, urn: "100001").identity.id
        let la = area.la
        let author = "J Smith (SENCO)"
        let pupil = try la.addPupil(
            NewPupil(
                upn: syntheticUPN(9001), forename: "Ada", surname: "Example", dateOfBirth: "2016-04-01", yearGroup: 4,
                school: oakfield, entryDate: "2025-09-01"), author: author)
        try la.addNote(
            pupil: syntheticUPN(9001), text: "Worried about\treading\nand spelling \\ letters", author: author)
        let plan = try la.addRecord(
            SupportPlan.self, pupil: syntheticUPN(9001),
            [
                .title: "Ada's reading plan", .startDate: "2025-09-15", .reviewDate: "2025-12-01",
                .responsibleOrg: "Oakfield", .responsiblePerson: "Ms Teacher",
            ], author: author)
        return (area, (pupil, plan))
    }

    /// Each table's COPY rows, split into cells.
    static func copyRows(_ script: String) -> [String: [[String]]] {
        var rows: [String: [[String]]] = [:]
        var table: String?
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            if let current = table {
                if line == "\\." {
                    table = nil
                } else {
                    rows[current, default: []].append(
                        line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init))
                }
            } else if line.hasPrefix("COPY sensync.\"") {
                let name = line.dropFirst("COPY sensync.\"".count).prefix { $0 != "\"" }
                table = String(name)
                rows[table!] = []
            }
        }
        return rows
    }
}
