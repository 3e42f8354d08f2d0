import Foundation
import SENSync
import Testing

@testable import SENSyncCommands

/// Every `--json` output spells an id one way, `pupilId`, as record fields (`schoolId`) and the
/// JSON Lines import (`planId`) do; Swift properties say `pupilID`. (`pupil show --json` gave
/// `schoolID` in its enrolments and `schoolId` in its records; `due` gave `pupilId` and
/// `conflicts` `pupilID`.) `CLI.run` checks every `--json` output the end-to-end tests read.
struct JSONOutputTests {
    @Test func anIdIsSpelledIdInEveryKey() {
        #expect(Terminal.jsonKey("pupilID") == "pupilId")
        #expect(Terminal.jsonKey("amendsNoteID") == "amendsNoteId")
        #expect(Terminal.jsonKey("newEpisodeIDs") == "newEpisodeIds")
        #expect(Terminal.jsonKey("sourceIDsSeen") == "sourceIdsSeen")
        #expect(Terminal.jsonKey("laIDByName") == "laIdByName")
        #expect(Terminal.jsonKey("schoolId") == "schoolId")
        #expect(Terminal.jsonKey("id") == "id")
    }

    @Test func keysThatAreDataPassUnchanged() {
        // Codes, names, dates and record ids used as dictionary keys.
        for key in ["ID", "SEMH", "MLD", "DAVID", "David ID", "2026-11-30", "01a22c7f-cc74-7dc2", "support_plan"] {
            #expect(Terminal.jsonKey(key) == key)
        }
        // An "ID" inside a word is not an id.
        #expect(Terminal.jsonKey("vIDeo") == "vIDeo")
        #expect(Terminal.jsonKey("formerUPNs") == "formerUPNs")
    }

    @Test func theEncoderAppliesItToStructsAndLeavesDictionaryDataAlone() throws {
        struct Item: Encodable {
            var pupilID = "p"
            var byCode = ["SEMH": 1]
        }
        let text = try Terminal.jsonText(Item())
        #expect(text.contains("\"pupilId\""))
        #expect(text.contains("\"SEMH\""))
        #expect(!text.contains("pupilID"))
    }

    /// Error codes are spelled one way whichever layer raised the error (the command layer said
    /// `invalidInput` where the library says `invalid-input`).
    @Test func errorCodesAreSpelledAsTheLibrarySpellsThem() throws {
        #expect(SENSyncExit.invalidInput.name == "invalid-input")
        #expect(SENSyncExit.notFound.name == "not-found")
        #expect(SENSyncExit.io.name == "io")
        try withCLI { cli in
            var area = try CLIArea.make(cli)
            try area.add("oak", kind: "maintained-school")
            let commandLayer = try cli.run(["due", "--within=-1", "--json"] + area.store("oak"))
            let library = try cli.run(
                ["retention", "run", "--years", "0", "--author", "A", "--json"] + area.store("oak"))
            for r in [commandLayer, library] {
                #expect(r.status == 2)
                let error = (r.json as? [String: Any])?["error"] as? [String: Any]
                #expect(error?["code"] as? String == "invalid-input", "\(r.stdout)")
            }
        }
    }

    /// A store made in a folder that does not exist: a file problem (13), not a bug (1).
    @Test func aStoreInAMissingFolderIsAFileProblem() throws {
        try withCLI { cli in
            let r = try cli.run(["init", "--store", cli.path("nowhere/x.sensync"), "--name", "Q", "--kind", "trust"])
            #expect(r.status == 13, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("folder exists"), "\(r.stderr)")
        }
    }

    /// A list of records is keyed by its kind's plural in lower camel case, as every other key
    /// (`ehc-assessment list --json` gave `EHC_needs_assessments`, `sen-episode`
    /// `provision_episodes`).
    @Test func aListOfRecordsIsKeyedInLowerCamelCase() throws {
        for kind in RecordSchema.kinds {
            #expect(
                kind.pluralKey.range(of: "^[a-z][A-Za-z]*$", options: .regularExpression) != nil, "\(kind.pluralKey)")
        }
        #expect(RecordSchema.kind("ehc_assessment")?.pluralKey == "ehcNeedsAssessments")
        #expect(RecordSchema.kind("review_progress")?.pluralKey == "outcomeProgress")
        try withCLI { cli in
            let oak = try oakWithAda(cli)
            let r = try cli.run(["sen-episode", "list", "--pupil", upn(1), "--json"] + oak)
            #expect((r.json as? [String: Any])?["provisionEpisodes"] != nil, "\(r.stdout)")
        }
    }

    @Test func theCheckOnEndToEndOutputFindsACapitalID() {
        #expect(CLI.keysSpellingIDInCapitals(["a": [["pupilID": 1, "schoolId": 2]], "SEMH": 3]) == ["pupilID"])
        #expect(CLI.keysSpellingIDInCapitals(["newEpisodeIDs": [], "ID": 1, "vIDeo": 2]) == ["newEpisodeIDs"])
    }
}
