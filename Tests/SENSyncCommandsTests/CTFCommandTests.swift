import Foundation
import Testing

/// `sensync ctf import` and `ctf export` through the built binary: output, exit codes, a re-import
/// that changes nothing, a bad file that changes nothing, and an export that re-imports.
struct CTFCommandTests {
    /// The synthetic CTF the library tests use.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SENSyncTests/Fixtures/ctf/synthetic-ctf-25.xml")

    /// The part of a CTF after its header: the pupils.
    func pupilData(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return String(text[try #require(text.range(of: "<CTFpupilData>")).lowerBound...])
    }

    @Test func aCTFImportsOnceExportsAndReimports() throws {
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("Oakfield", kind: "maintained-school")
            try area.add("Elmwood", kind: "maintained-school")
            let author = ["--author", "SENCO"]
            let file = Self.fixture.path

            let first = try cli.run(["ctf", "import", file] + area.store("Oakfield") + author)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("CTF 25.0: 3 pupil(s) added, 0 updated, 0 unchanged, 1 without SEN history"))
            #expect(
                first.stdout.contains("line 35  historic code A from 2013-09-02 recorded as K; flagged with a note"))
            // The pupil by UPN, as the file gives them (a record id meant nothing to the SENCO).
            #expect(
                first.stdout.contains("line 24  pupil P801200029001  created: 4 episode(s) added"), "\(first.stdout)")
            let digest = try area.digest("Oakfield")

            let again = try cli.run(["ctf", "import", file] + area.store("Oakfield") + author)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("Nothing was changed."))
            #expect(try area.digest("Oakfield") == digest)
            let json = try cli.run(["ctf", "import", file, "--json"] + area.store("Oakfield") + author)
            let summary = try #require((json.json as? [String: Any])?["ctfImport"] as? [String: Any], "\(json.stdout)")
            let outcomes = (summary["pupils"] as? [[String: Any]])?.compactMap { $0["outcome"] as? String }
            #expect(outcomes == ["unchanged", "skipped", "unchanged", "unchanged"])
            #expect((summary["historicCodes"] as? [[String: Any]])?.first?["pupilId"] is String)

            // A wrong provision code: exit 2, the line and element on stderr, no values, nothing written.
            var lines = try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "\n")
            lines[92] = lines[92].replacingOccurrences(of: ">K<", with: ">X<")
            let bad = cli.path("bad.xml")
            try lines.joined(separator: "\n").write(toFile: bad, atomically: true, encoding: .utf8)
            let refused = try cli.run(["ctf", "import", bad] + area.store("Elmwood") + author)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("error: Line 93, <SENprovision>: Not a census SEN provision code."))
            #expect(!refused.stderr.contains("T801200029003") && !refused.stderr.contains("Cara"))
            #expect(
                try cli.run(["pupil", "list", "--json"] + area.store("Elmwood")).stdout.contains("T801200029003")
                    == false)
            // Two pupils with problems: both listed (each line and element), one error counting them.
            lines[36] = lines[36].replacingOccurrences(of: ">A<", with: ">Q<")
            try lines.joined(separator: "\n").write(toFile: bad, atomically: true, encoding: .utf8)
            let twice = try cli.run(["ctf", "import", bad] + area.store("Elmwood") + author)
            #expect(twice.status == 2)
            #expect(
                twice.stderr.contains("Line 37, <SENprovision>: Not a census SEN provision code."), "\(twice.stderr)")
            #expect(twice.stderr.contains("Line 93, <SENprovision>: Not a census SEN provision code."))
            #expect(
                twice.stderr.contains("error: Nothing was imported: problems with 2 of the 4 pupil(s) in the file."))
            #expect(!twice.stderr.contains("P801200029001") && !twice.stderr.contains("Ada"))

            // Export, re-import elsewhere, export again: the same pupil data.
            let out = cli.path("ada.xml")
            let exported = try cli.run(["ctf", "export", "P801200029001", "--out", out] + area.store("Oakfield"))
            #expect(exported.status == 0, "\(exported.stderr)")
            let text = try String(contentsOfFile: out, encoding: .utf8)
            #expect(text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile>"))
            #expect(text.contains("<SchoolName>Oakfield</SchoolName>"))
            let imported = try cli.run(["ctf", "import", out] + area.store("Elmwood") + author)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.contains("1 pupil(s) added"))
            let back = cli.path("ada-back.xml")
            #expect(try cli.run(["ctf", "export", "P801200029001", "--out", back] + area.store("Elmwood")).status == 0)
            #expect(try pupilData(back) == pupilData(out))

            // An existing --out file is kept unless --force.
            let kept = try cli.run(["ctf", "export", "P801200029001", "--out", out] + area.store("Oakfield"))
            #expect(kept.status == 13)

            let help = try cli.run(["ctf", "import", "--help"])
            #expect(help.stdout.contains("Example:") && help.stdout.contains("sensync ctf import"))
            #expect(try cli.run(["ctf", "export", "--help"]).stdout.contains("sensync ctf export"))
        }
    }
}
