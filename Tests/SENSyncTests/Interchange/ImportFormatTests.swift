import Foundation
import Testing

@testable import SENSync

/// The import formats are derived from the kinds' declarations; the committed documents in
/// `Schemas/import/` are pinned to what the code accepts.
@Suite struct ImportFormatTests {
    @Test(arguments: ["columns.md", "line.schema.json"])
    func committedDocumentMatchesTheDeclarations(_ name: String) throws {
        let generated = name == "columns.md" ? ImportFormat.columnsDocument() : try ImportFormat.jsonSchema()
        let file = repositoryRoot.appendingPathComponent("Schemas/import/\(name)")
        if regenerateFixtures {
            try generated.write(to: file, atomically: true, encoding: .utf8)
            print("regenerated \(file.path)")
        }
        #expect(try String(contentsOf: file, encoding: .utf8) == generated)
    }

    @Test(arguments: ImportFormat.kinds.map(\.name))
    func everyFieldAPersonGivesHasOneColumn(_ name: String) throws {
        let kind = try #require(RecordSchema.kind(name))
        let columns = ImportFormat.columns(of: kind)
        // Headings and keys are unique, and none is taken by the UPN or the source's id.
        let headings = columns.map { ImportFormat.normalized($0.heading) }
        #expect(Set(headings).count == headings.count)
        #expect(Set(columns.map(\.key)).count == columns.count)
        #expect(!headings.contains("upn") && !headings.contains("id"))
        // Every required field a person gives can be given (the pupil's UPN is the UPN column).
        for field in kind.fields where field.isRequired && !field.isSystem && field.name != "upn" {
            #expect(columns.contains { $0.field.name == field.name }, "\(field.name)")
        }
        // A kind is found by its table name, its plural and a file named after either.
        #expect(ImportFormat.kind(named: kind.name)?.name == name)
        #expect(ImportFormat.kind(named: kind.plural)?.name == name)
        #expect(ImportFormat.kind(named: kind.name + "s")?.name == name)
        // ... and by its noun in any case and spacing.
        #expect(ImportFormat.kind(named: kind.noun.uppercased())?.name == name)
        #expect(
            ImportFormat.kind(named: " " + kind.plural.replacingOccurrences(of: " ", with: "-") + " ")?.name == name)
        #expect(ImportFormat.kind(named: kind.name + "x") == nil)
    }

    @Test func headingsMatchWhateverTheirCaseAndSpacing() throws {
        let dob = try #require(ImportFormat.columns(of: Pupil.spec).first { $0.field.name == "date_of_birth" })
        for heading in ["DOB", "dob", "Date of birth", "date_of_birth", "dateOfBirth", " D.O.B "] {
            #expect(dob.matches(heading), "\(heading)")
        }
        #expect(!dob.matches("Date"))
    }
}
