import Foundation
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

    @Test func theCheckOnEndToEndOutputFindsACapitalID() {
        #expect(CLI.keysSpellingIDInCapitals(["a": [["pupilID": 1, "schoolId": 2]], "SEMH": 3]) == ["pupilID"])
        #expect(CLI.keysSpellingIDInCapitals(["newEpisodeIDs": [], "ID": 1, "vIDeo": 2]) == ["newEpisodeIDs"])
    }
}
