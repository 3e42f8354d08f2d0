import Foundation
import Testing

@testable import SENSync

/// Retention: SEN files are kept to date of birth + 31 years. `runRetention` at the LA erases the
/// pupils past it, and the erasure replicates to the schools that held them.
struct ScopeRetentionTests {
    @Test func pupilsPastDateOfBirthPlus31YearsAreErasedEverywhere() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)  // today is 2026-01-05
            try area.add("Trust", .trust)
            try area.add("Academy", .academy, trust: "Trust")
            try area.add("School", .maintainedSchool)
            try area.distributeDirectory()
            let school = area["School"]
            func add(_ n: Int, born: String, at store: Store) throws -> RecordID {
                let id = try store.addPupil(
                    NewPupil(upn: syntheticUPN(8100 + n), forename: "Former\(n)", surname: "Pupil", dateOfBirth: born),
                    author: "SENCO")
                try store.addNote(pupil: id.description, text: "retention note \(n)", author: "SENCO")
                return id
            }
            let born32YearsAgo = try add(1, born: "1994-01-05", at: school)
            let born30YearsAgo = try add(2, born: "1996-01-05", at: school)
            let thirtyFirstBirthdayTomorrow = try add(3, born: "1995-01-06", at: school)
            let academy32 = try add(4, born: "1993-09-01", at: area["Academy"])
            try area.gossip(rounds: 2)
            #expect(try area.la.pupils().count == 4)

            #expect(try area.la.retentionYears() == 31)
            #expect(try area.la.retentionDue(years: 31) == [born32YearsAgo, academy32].sorted())
            let erased = try area.la.runRetention(author: "LA records officer")
            #expect(Set(erased) == [born32YearsAgo, academy32])
            #expect(
                try area.la.runRetention(author: "LA records officer").isEmpty,
                "retention runs again without erasing twice")
            try area.gossip(rounds: 3)

            for name in area.names {
                let store = area[name]
                let kept = try store.pupilsWithRecords()
                #expect(kept.isDisjoint(with: [born32YearsAgo, academy32]), "\(name) still holds an erased pupil")
                #expect(
                    try store.changeBodiesByPupil()[born32YearsAgo] == nil
                        && store.changeBodiesByPupil()[academy32] == nil)
                #expect(try store.auditVerify().isClean, "\(name)")
            }
            // Each store that held an erased pupil keeps the erasure record, with its reason.
            #expect(try area.la.erasedPupils() == [born32YearsAgo, academy32])
            #expect(try school.erasedPupils() == [born32YearsAgo])
            #expect(try area["Academy"].erasedPupils() == [academy32])
            #expect(try area["Trust"].erasedPupils() == [academy32])
            let proof = try #require(try area.la.recordRowsByPupil()[born32YearsAgo]?.first)
            #expect(proof.table == "erasure" && proof.text.contains("date of birth + 31 years"))
            // The others are untouched.
            #expect(try school.pupilsWithRecords() == [born30YearsAgo, thirtyFirstBirthdayTomorrow])
            #expect(try school.notes(of: born30YearsAgo.description).map(\.text) == ["retention note 2"])
            #expect(try area.la.pupilsWithRecords() == [born30YearsAgo, thirtyFirstBirthdayTomorrow])
        }
    }

    @Test func aShorterRetentionPeriodIsHonoured() throws {
        try withTemporaryDirectory { dir in
            let area = try ScopeArea(folder: dir)
            try area.add("School", .maintainedSchool)
            try area.distributeDirectory()
            let pupil = try area["School"].addPupil(
                NewPupil(upn: syntheticUPN(8201), forename: "Short", surname: "Retention", dateOfBirth: "2000-01-01"),
                author: "SENCO")
            try area.send("School", "LA")
            #expect(try area.la.runRetention(author: "LA").isEmpty)
            try area.la.setRetentionYears(25)
            #expect(try area.la.runRetention(author: "LA") == [pupil])
            try area.send("LA", "School")
            #expect(try area["School"].erasedPupils() == [pupil])
            #expect(try area["School"].pupilsWithRecords().isEmpty)
            #expect(throws: StoreError.self) { try area.la.setRetentionYears(0) }
        }
    }
}
