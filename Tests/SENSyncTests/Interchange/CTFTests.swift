import Foundation
import Testing

@testable import SENSync

/// CTF SEN import and export: a synthetic file shaped as the DfE specification imports to
/// hand-worked records, historic codes are mapped and flagged, a re-import changes nothing, a
/// bad file changes nothing and names its line, and an export re-imports to the same SEN data.
struct CTFTests {
    // The fixture's pupils (Fixtures/ctf/synthetic-ctf-25.xml).
    static let ada = "P801200029001"  // new: A, P, K then E; three needs
    static let adaFormer = "W801200029005"
    static let ben = "D801200029002"  // no SEN history: skipped
    static let cara = "T801200029003"  // new: K, one need without dates
    static let dev = "U801200029104"  // in the store already under its former UPN
    static let devHere = "G801200029004"

    static func fixture() throws -> Data {
        let url = try #require(
            Bundle.module.url(forResource: "synthetic-ctf-25", withExtension: "xml", subdirectory: "Fixtures/ctf"))
        return try Data(contentsOf: url)
    }

    /// A school's store holding Dev under his former UPN, with no SEN records.
    func school(_ name: String = "Oakfield") throws -> (TestArea, Store) {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let store = try area.add(name, .maintainedSchool)
        try store.addPupil(
            NewPupil(upn: Self.devHere, forename: "Dev", surname: "Specimen", dateOfBirth: "2007-01-05"),
            author: "SENCO")
        return (area, store)
    }

    /// A large CTF reports its progress every few hundred pupils (it was silent however long it
    /// took); a small one reports nothing.
    @Test func aLargeCTFReportsItsProgress() throws {
        let (_, store) = try school()
        let fixture = String(decoding: try Self.fixture(), as: UTF8.self)
        let header = fixture[..<fixture.range(of: "<CTFpupilData>")!.upperBound]
        let count = Store.ctfProgressInterval * 2 + 1
        let pupils = (0..<count).map { n in
            """
            <Pupil><UPN>\(syntheticUPN(20_000 + n))</UPN><Surname>Example</Surname><Forename>Pupil</Forename>
            <DOB>2015-03-10</DOB><Sex>F</Sex><SENhistory><SEN><StartDate>2023-09-04</StartDate>
            <SENprovision>K</SENprovision></SEN></SENhistory></Pupil>
            """
        }
        let xml = header + pupils.joined(separator: "\n") + "</CTFpupilData></CTfile>\n"
        var reports: [String] = []
        let summary = try store.importCTF(Data(xml.utf8), author: "SENCO") { checked, total in
            reports.append("\(checked)/\(total)")
        }
        #expect(summary.count(.created) == count)
        #expect(reports == ["500/\(count)", "1000/\(count)"])
        reports = []
        try store.importCTF(try Self.fixture(), author: "SENCO") { checked, total in reports.append("\(checked)") }
        #expect(reports.isEmpty)
    }

    typealias Episode = (provision: String, start: String, end: String?, school: String?)
    typealias Need = (need: String, rank: Int64, start: String, end: String?)

    func episodes(_ store: Store, _ pupil: String) throws -> [Episode] {
        try store.records(SENEpisode.self, of: pupil).map {
            ($0.text(.provision) ?? "", $0.text(.startDate) ?? "", $0.text(.endDate), $0.text(.schoolID))
        }
    }

    func needs(_ store: Store, _ pupil: String) throws -> [Need] {
        try store.records(SENNeedRecord.self, of: pupil).map {
            ($0.text(.need) ?? "", $0.integer(.rank) ?? 0, $0.text(.startDate) ?? "", $0.text(.endDate))
        }.sorted { ($0.start, $0.rank) < ($1.start, $1.rank) }
    }

    func same(_ a: [Episode], _ b: [Episode]) -> Bool {
        a.count == b.count
            && zip(a, b).allSatisfy { $0.provision == $1.provision && $0.start == $1.start && $0.end == $1.end }
    }

    func same(_ a: [Need], _ b: [Need]) -> Bool {
        a.count == b.count
            && zip(a, b).allSatisfy {
                $0.need == $1.need && $0.rank == $1.rank && $0.start == $1.start && $0.end == $1.end
            }
    }

    // MARK: Import

    @Test func theSyntheticFileImportsToHandWorkedRecords() throws {
        let (_, store) = try school()
        let here = store.identity.id.description
        let summary = try store.importCTF(try Self.fixture(), author: "SENCO")

        #expect(summary.version == "25.0")
        #expect(summary.pupils.map(\.line) == [24, 77, 84, 103])
        #expect(summary.pupils.map(\.outcome) == [.created, .skipped, .created, .updated])
        #expect(summary.count(.created) == 2 && summary.count(.skipped) == 1 && summary.count(.updated) == 1)

        // Ada: new, enrolled here; each provision runs until the next starts.
        let ada = try store.pupil(Self.ada)
        #expect(ada.forename == "Ada" && ada.surname == "Example" && ada.dateOfBirth == "2008-03-10")
        #expect(ada.formerUPNs == [Self.adaFormer])
        #expect(ada.schools == [store.identity.id])
        #expect(ada.senStatus == "E" && ada.senNeeds == ["ASD", "SLCN"])
        let adaEpisodes = try episodes(store, Self.ada)
        #expect(
            same(
                adaEpisodes,
                [
                    ("K", "2013-09-02", "2014-04-22", here), ("K", "2014-04-22", "2015-09-01", here),
                    ("K", "2015-09-01", "2019-02-11", here), ("E", "2019-02-11", nil, here),
                ]))
        #expect(adaEpisodes.allSatisfy { $0.school == here })
        #expect(
            same(
                try needs(store, Self.ada),
                [
                    ("SLCN", 1, "2013-09-02", "2019-02-11"), ("ASD", 1, "2019-02-11", nil),
                    ("SLCN", 2, "2019-02-11", nil),
                ]))

        // Ben has no SEN history: not added.
        #expect(throws: StoreError.self) { try store.pupil(Self.ben) }

        // Cara: a need without dates starts with her current provision.
        #expect(same(try episodes(store, Self.cara), [("K", "2021-01-11", nil, here)]))
        #expect(same(try needs(store, Self.cara), [("SPLD", 1, "2021-01-11", nil)]))
        #expect(try store.pupil(Self.cara).senStatus == "K")

        // Dev: found by the former UPN the file gives; his UPN here is left as it is; an N ends
        // the statement; no provision is open, so his status stays N.
        let dev = try store.pupil(Self.devHere)
        #expect(dev.upn == Self.devHere && dev.senStatus == "N" && dev.senNeeds.isEmpty)
        #expect(same(try episodes(store, Self.devHere), [("E", "2012-10-01", "2016-03-01", here)]))
        #expect(same(try needs(store, Self.devHere), [("MLD", 1, "2012-10-01", "2016-03-01")]))
        #expect(try store.pupils().count == 3)
    }

    @Test func historicCodesAreMappedAndEachIsFlaggedWithANote() throws {
        let (_, store) = try school()
        let summary = try store.importCTF(try Self.fixture(), author: "SENCO")
        #expect(
            summary.historicCodes.map { "\($0.line) \($0.startDate) \($0.code)>\($0.recordedAs) \($0.noteAdded)" } == [
                "35 2013-09-02 A>K true", "39 2014-04-22 P>K true", "113 2012-10-01 S>E true",
            ])
        #expect(
            try store.notes(of: Self.ada).map(\.text) == [
                "Imported from a Common Transfer File: the SEN provision from 2013-09-02 was recorded there with the "
                    + "historic code A (School Action); SENSync records it as K (SEN support).",
                "Imported from a Common Transfer File: the SEN provision from 2014-04-22 was recorded there with the "
                    + "historic code P (School Action Plus); SENSync records it as K (SEN support).",
            ])
        let devNotes = try store.notes(of: Self.devHere)
        #expect(devNotes.count == 1)
        #expect(devNotes.first?.text.contains("historic code S (Statement); SENSync records it as E") == true)
        #expect(devNotes.first?.recordedBy == "SENCO")
        #expect(try store.notes(of: Self.cara).isEmpty)
    }

    @Test func importingTheSameFileAgainChangesNothing() throws {
        let (_, store) = try school()
        let first = try store.importCTF(try Self.fixture(), author: "SENCO")
        #expect(!first.isUnchanged)
        let digest = try store.digest()
        let again = try store.importCTF(try Self.fixture(), author: "SENCO")
        #expect(try store.digest() == digest)
        #expect(again.isUnchanged)
        #expect(again.pupils.map(\.outcome) == [.unchanged, .skipped, .unchanged, .unchanged])
        #expect(again.historicCodes.map(\.noteAdded) == [false, false, false])
    }

    @Test func aLaterFileEndsWhatItEndsAndAddsWhatIsNew() throws {
        let (_, store) = try school()
        try store.importCTF(try Self.fixture(), author: "SENCO")
        // Cara's next school moved her to an EHC plan with a new primary need.
        let later = String(decoding: try Self.fixture(), as: UTF8.self).replacingOccurrences(
            of: """
                        <SEN>
                          <StartDate>2021-01-11</StartDate>
                          <SENprovision>K</SENprovision>
                        </SEN>
                        <SENneeds>
                          <SENneed>
                            <SENtype>SPLD</SENtype>
                            <SENtypeRank>1</SENtypeRank>
                          </SENneed>
                """,
            with: """
                        <SEN>
                          <StartDate>2021-01-11</StartDate>
                          <SENprovision>K</SENprovision>
                        </SEN>
                        <SEN>
                          <StartDate>2025-11-03</StartDate>
                          <SENprovision>E</SENprovision>
                        </SEN>
                        <SENneeds>
                          <SENneed>
                            <SENtype>SPLD</SENtype>
                            <SENtypeRank>1</SENtypeRank>
                            <NeedStartDate>2021-01-11</NeedStartDate>
                            <NeedEndDate>2025-11-03</NeedEndDate>
                          </SENneed>
                          <SENneed>
                            <SENtype>SLD</SENtype>
                            <SENtypeRank>1</SENtypeRank>
                            <NeedStartDate>2025-11-03</NeedStartDate>
                          </SENneed>
                """)
        #expect(later != String(decoding: try Self.fixture(), as: UTF8.self))
        let summary = try store.importCTF(Data(later.utf8), author: "SENCO")
        let cara = try #require(summary.pupils.first { $0.line == 84 })
        #expect(cara.outcome == .updated)
        #expect((cara.episodesAdded, cara.episodesEnded, cara.needsAdded, cara.needsEnded) == (1, 1, 1, 1))
        #expect(
            same(
                try episodes(store, Self.cara), [("K", "2021-01-11", "2025-11-03", nil), ("E", "2025-11-03", nil, nil)])
        )
        #expect(
            same(try needs(store, Self.cara), [("SPLD", 1, "2021-01-11", "2025-11-03"), ("SLD", 1, "2025-11-03", nil)]))
        let record = try store.pupil(Self.cara)
        #expect(record.senStatus == "E" && record.senNeeds == ["SLD"])
        #expect(summary.pupils.filter { $0.outcome == .updated }.count == 1)
    }

    // MARK: All or nothing

    /// Imports `text`, expecting a ``CTFError`` with `code` at `line` naming `element`, and the
    /// store's digest unchanged.
    func refused(
        _ text: String, code: CTFError.Code, line: Int, element: String?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let (_, store) = try school()
        let digest = try store.digest()
        do {
            try store.importCTF(Data(text.utf8), author: "SENCO")
            Issue.record("imported", sourceLocation: sourceLocation)
        } catch let error as CTFError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.element == element, "\(error)", sourceLocation: sourceLocation)
            #expect(
                error.message.hasPrefix(element.map { "Line \(line), <\($0)>" } ?? "Line \(line)"), "\(error)",
                sourceLocation: sourceLocation)
            // No personal data from the file.
            for value in [Self.ada, Self.cara, Self.dev, "Example", "Test", "Specimen", "Ada", "Cara", "2014-11-30"] {
                #expect(!error.description.contains(value), "\(error)", sourceLocation: sourceLocation)
            }
        }
        #expect(try store.digest() == digest, sourceLocation: sourceLocation)
        #expect(try store.pupils().count == 1, sourceLocation: sourceLocation)
    }

    func fixtureText() throws -> String { String(decoding: try Self.fixture(), as: UTF8.self) }

    @Test func malformedXMLChangesNothingAndNamesTheLine() throws {
        // Cara's surname is not closed properly (line 86); the parser stops there.
        let text = try fixtureText().replacingOccurrences(
            of: "<Surname>Test</Surname>", with: "<Surname>Test</Surnam>")
        try refused(text, code: .malformed, line: 86, element: "Surname")
    }

    /// A CTF over 10 MB is read: FoundationXML's parser, given a whole file at once, failed any
    /// larger one at its last line as "not well-formed XML".
    @Test func aFileOverTenMegabytesIsRead() throws {
        let text = try fixtureText()
        #expect(text.contains("</CTfile>"))
        let padding = String(repeating: "<Padding>not read</Padding>\n", count: 420_000)
        let large = text.replacingOccurrences(of: "</CTfile>", with: padding + "</CTfile>")
        #expect(large.utf8.count > 11_000_000)
        let document = try CTFDocument(xml: Data(large.utf8))
        #expect(document.pupils.count == (try CTFDocument(xml: Data(text.utf8))).pupils.count)
    }

    /// Elements nested tens of thousands deep (a 600 KB file): the import crashed freeing the
    /// tree it built. Refused now once deeper than any CTF.
    @Test func elementsNestedTooDeeplyAreRefused() throws {
        let depth = 60_000
        let text =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile>" + String(repeating: "<a>", count: depth)
            + String(repeating: "</a>", count: depth) + "</CTfile>\n"
        try refused(text, code: .malformed, line: 2, element: nil)
    }

    @Test func aBadCodeInALaterPupilChangesNothingAndNamesTheLine() throws {
        // Ada (line 24) is valid; Cara's provision (line 93) is not a census code.
        var lines = try fixtureText().components(separatedBy: "\n")
        #expect(lines[92].contains("<SENprovision>K</SENprovision>"))
        lines[92] = lines[92].replacingOccurrences(of: ">K<", with: ">X<")
        try refused(lines.joined(separator: "\n"), code: .invalidValue, line: 93, element: "SENprovision")
    }

    @Test func aBadDateOrRankOrUPNNamesItsElement() throws {
        let text = try fixtureText()
        try refused(
            text.replacingOccurrences(of: "<DOB>2014-11-30</DOB>", with: "<DOB>2014-11-31</DOB>"), code: .invalidValue,
            line: 88, element: "DOB")
        try refused(
            text.replacingOccurrences(of: "<UPN>T801200029003</UPN>", with: "<UPN>A801200029003</UPN>"),
            code: .invalidValue, line: 85, element: "UPN")
        var lines = text.components(separatedBy: "\n")
        #expect(lines[97].contains("<SENtypeRank>1</SENtypeRank>"))
        lines[97] = lines[97].replacingOccurrences(of: ">1<", with: ">12<")
        try refused(lines.joined(separator: "\n"), code: .invalidValue, line: 98, element: "SENtypeRank")
    }

    /// An element a pupil has once, given twice: the second was dropped without a word (a
    /// second surname, a second SEN history with its needs). Refused at the second, naming the
    /// first's line.
    @Test func anElementGivenTwiceIsRefused() throws {
        let text = try fixtureText()
        try refused(
            text.replacingOccurrences(
                of: "<Surname>Test</Surname>", with: "<Surname>Test</Surname>\n<Surname>Other</Surname>"),
            code: .invalidValue, line: 87, element: "Surname")
        try refused(
            text.replacingOccurrences(of: "<DOB>2014-11-30</DOB>", with: "<DOB>2014-11-30</DOB><DOB></DOB>"),
            code: .invalidValue, line: 88, element: "DOB")
        var lines = text.components(separatedBy: "\n")
        #expect(lines[89].contains("<SENhistory>"))
        lines[88] +=
            "\n<SENhistory><SEN><StartDate>2020-01-11</StartDate><SENprovision>E</SENprovision></SEN></SENhistory>"
        try refused(lines.joined(separator: "\n"), code: .invalidValue, line: 91, element: "SENhistory")
    }

    @Test func aPupilWhoseRecordsBreakAStoreRuleChangesNothing() throws {
        // Dev already has a current rank-1 need here; the file gives him another (no end date).
        let (_, store) = try school()
        try store.addRecord(
            SENNeedRecord.self, pupil: Self.devHere, [.need: "SEMH", .rank: "1", .startDate: "2024-09-02"],
            author: "SENCO")
        let digest = try store.digest()
        let text = try fixtureText().replacingOccurrences(
            of: "<NeedEndDate>2016-03-01</NeedEndDate>\n", with: "")
        do {
            try store.importCTF(Data(text.utf8), author: "SENCO")
            Issue.record("imported")
        } catch let error as CTFError {
            #expect(error.code == .refused)
            #expect(error.line == 103 && error.element == "Pupil")
            #expect(error.message.contains("share a rank"), "\(error)")
        }
        // Ada and Cara, read before Dev, were not added either.
        #expect(try store.digest() == digest)
        #expect(try store.pupils().count == 1)
    }

    /// Every pupil with a problem is reported, not only the first: a file with a bad code in
    /// one pupil, a bad date in another and a third that breaks a store rule listed only the
    /// first, so the sending school corrected one and the next attempt failed on the next.
    @Test func everyPupilWithAProblemIsReported() throws {
        let (_, store) = try school()
        try store.addRecord(
            SENNeedRecord.self, pupil: Self.devHere, [.need: "SEMH", .rank: "1", .startDate: "2024-09-02"],
            author: "SENCO")
        let digest = try store.digest()
        var lines = try fixtureText().replacingOccurrences(of: "<NeedEndDate>2016-03-01</NeedEndDate>\n", with: "")
            .components(separatedBy: "\n")
        #expect(lines[36].contains("<SENprovision>A</SENprovision>") && lines[87].contains("<DOB>2014-11-30</DOB>"))
        lines[36] = lines[36].replacingOccurrences(of: ">A<", with: ">X<")
        lines[87] = lines[87].replacingOccurrences(of: "2014-11-30", with: "2014-11-31")
        do {
            try store.importCTF(Data(lines.joined(separator: "\n").utf8), author: "SENCO")
            Issue.record("imported")
        } catch let error as CTFError {
            #expect(error.message == "Nothing was imported: problems with 3 of the 4 pupil(s) in the file.")
            #expect(error.problems.map(\.line) == [37, 88, 103])
            #expect(error.problems.map(\.element) == ["SENprovision", "DOB", "Pupil"])
            #expect(error.problems.map(\.code) == [.invalidValue, .invalidValue, .refused])
            #expect(error.problemCount == 3)
            for value in [Self.ada, Self.cara, Self.dev, "Example", "Test", "Ada", "Cara", "2014-11-31"] {
                #expect(
                    !error.description.contains(value) && !error.problems.contains { $0.description.contains(value) })
            }
        }
        #expect(try store.digest() == digest)
        // One problem is reported as before, on its own.
        lines = try fixtureText().components(separatedBy: "\n")
        lines[87] = lines[87].replacingOccurrences(of: "2014-11-30", with: "2014-11-31")
        do {
            try store.importCTF(Data(lines.joined(separator: "\n").utf8), author: "SENCO")
            Issue.record("imported")
        } catch let error as CTFError {
            #expect(error.line == 88 && error.element == "DOB" && error.problems.isEmpty && error.problemCount == 1)
        }
        #expect(try store.digest() == digest)
    }

    /// Only the elements SENSync reads are kept while a CTF is read: the rest of a pupil (an
    /// address, contacts, attendance: most of a real CTF's bytes) was built into a tree in memory,
    /// about 17 times the file's size.
    @Test func onlyTheElementsReadAreKeptWhileReading() throws {
        let text = try fixtureText().replacingOccurrences(
            of: "<Sex>F</Sex>",
            with: "<Sex>F</Sex><Address><BS7666Address><Street>Kept Nowhere</Street></BS7666Address></Address>"
                + "<Attendance><TermlyAttendance><SessionsPossible>120</SessionsPossible></TermlyAttendance></Attendance>"
        )
        let root = try XMLNode.parse(.data(Data(text.utf8)))
        func names(_ node: XMLNode) -> [String] { [node.name] + node.children.flatMap(names) }
        func texts(_ node: XMLNode) -> [String] { [node.text] + node.children.flatMap(texts) }
        let kept = Set(names(root))
        for skipped in ["Address", "BS7666Address", "Street", "Attendance", "SessionsPossible", "Sex"] {
            #expect(!kept.contains(skipped), "\(skipped)")
        }
        #expect(!texts(root).contains { $0.contains("Kept Nowhere") })
        #expect(kept.isSuperset(of: ["UPN", "FormerUPN", "SENprovision", "SENtypeRank", "URN", "SchoolName"]))
        #expect(try CTFDocument(xml: Data(text.utf8)) == (try CTFDocument(xml: try Self.fixture())))
        // A bad element inside a skipped one is still named.
        let broken = text.replacingOccurrences(
            of: "<Street>Kept Nowhere</Street>", with: "<Street>Kept Nowhere</Stret>")
        #expect(throws: CTFError.self) { try CTFDocument(xml: Data(broken.utf8)) }
        do { _ = try CTFDocument(xml: Data(broken.utf8)) } catch { #expect(error.element == "Street", "\(error)") }
    }

    /// A UPN already here with another date of birth (a wrong UPN in the file or here) was
    /// matched all the same: the file's SEN data would have gone on another child's record.
    @Test func aUPNHeldHereWithAnotherDateOfBirthIsRefused() throws {
        var lines = try fixtureText().components(separatedBy: "\n")
        #expect(lines[106].contains("<DOB>2007-01-05</DOB>"))
        lines[106] = lines[106].replacingOccurrences(of: "2007-01-05", with: "2007-01-06")
        try refused(lines.joined(separator: "\n"), code: .refused, line: 103, element: "Pupil")
    }

    @Test func aFileThatIsNotACTFIsRefused() throws {
        // The root's name is the file's text (it could be anything): not repeated.
        try refused(
            "<?xml version=\"1.0\"?>\n<Message>\n  <Header/>\n</Message>\n", code: .notACTF, line: 2,
            element: nil)
        try refused(
            "<?xml version=\"1.0\"?>\n<CTfile>\n  <Header/>\n</CTfile>\n", code: .notACTF, line: 2, element: "CTfile")
    }

    /// A CTF for another school is imported (a pupil's SEN data is not refused), and the summary
    /// says how the file names that school, so the command can warn: it was silent.
    @Test func aCTFAddressedToAnotherSchoolSaysSo() throws {
        let area = try TestArea(folder: FileManager.default.temporaryDirectory)
        let store = try area.add("Oakfield", .maintainedSchool, urn: "100001")
        let text = try fixtureText()
        let other = text.replacingOccurrences(
            of: "<Estab>2001</Estab>\n    </DestSchool>",
            with: "<Estab>2001</Estab>\n      <URN>999999</URN>\n    </DestSchool>")
        #expect(other != text)
        #expect(try store.importCTF(Data(other.utf8), author: "SENCO").addressedElsewhere == "URN 999999")
        let mine = other.replacingOccurrences(of: "<URN>999999</URN>", with: "<URN>100001</URN>")
        #expect(try store.importCTF(Data(mine.utf8), author: "SENCO").addressedElsewhere == nil)
        let site = SiteIdentity(id: .v7(), name: "Oak", kind: .maintainedSchool, laCode: "801")
        #expect(CTFHeader(destLEA: "802").addressedElsewhere(than: site) == "LA 802")
        #expect(CTFHeader(destLEA: "801").addressedElsewhere(than: site) == nil)
        #expect(CTFHeader(destLEA: "MMM").addressedElsewhere(than: site) == nil)
        #expect(CTFHeader().addressedElsewhere(than: site) == nil)
    }

    /// A kept element's text is bounded (a 100 MB surname was read whole into memory, 333 MB,
    /// before it was refused); the same in a skipped element is not kept at all.
    @Test func aKeptElementWithPagesOfTextIsRefused() throws {
        let text = try fixtureText()
        let long = String(repeating: "x", count: 70_000)
        #expect(text.contains("<Surname>Example</Surname>"))
        try refused(
            text.replacingOccurrences(of: "<Surname>Example</Surname>", with: "<Surname>\(long)</Surname>"),
            code: .malformed, line: 26, element: "Surname")
    }

    /// A CTF's elements are in no XML namespace: elements in another are not the CTF's, whatever
    /// their names (a root `CTfile` in one was read as a CTF, and an `<x:UPN>` as the pupil's UPN).
    @Test func elementsInAnotherNamespaceAreNotRead() throws {
        let text = try fixtureText()
        try refused(
            text.replacingOccurrences(of: "<CTfile>", with: "<CTfile xmlns=\"urn:not:ctf\">"), code: .notACTF,
            line: 4, element: nil)
        let foreign = text.replacingOccurrences(
            of: "<UPN>P801200029001</UPN>", with: "<x:UPN xmlns:x=\"urn:other\">P801200029001</x:UPN>")
        #expect(foreign != text)
        let error = #expect(throws: CTFError.self) { try CTFDocument(xml: Data(foreign.utf8)) }
        #expect(error?.message.contains("UPN") == true, "\(String(describing: error))")
    }

    // MARK: Export

    @Test func anExportReimportsToTheSameSENData() throws {
        let (_, store) = try school()
        try store.importCTF(try Self.fixture(), author: "SENCO")
        let exported = try store.ctfDocument(for: Self.ada)
        let xml = exported.xmlData()
        let text = String(decoding: xml, as: UTF8.self)
        #expect(text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"))
        #expect(text.contains("<CTFversion>25.0</CTFversion>"))  // the test clock: January 2026
        #expect(text.contains("<SENprovision>K</SENprovision>") && !text.contains("<SENprovision>A</SENprovision>"))

        let (_, fresh) = try school("Elmwood")
        let summary = try fresh.importCTF(xml, author: "SENCO")
        #expect(summary.pupils.map(\.outcome) == [.created])
        #expect(summary.historicCodes.isEmpty)
        #expect(same(try episodes(fresh, Self.ada), try episodes(store, Self.ada)))
        #expect(same(try needs(fresh, Self.ada), try needs(store, Self.ada)))
        let before = try store.pupil(Self.ada)
        let after = try fresh.pupil(Self.ada)
        #expect(
            [after.upn, after.forename, after.surname, after.dateOfBirth, after.senStatus]
                == [before.upn, before.forename, before.surname, before.dateOfBirth, before.senStatus])
        #expect(after.senNeeds == before.senNeeds && after.formerUPNs == before.formerUPNs)
        // The second export is the first, pupil for pupil.
        #expect(try fresh.ctfDocument(for: Self.ada).pupils == exported.pupils)
    }

    @Test func anEpisodeThatEndedWithoutASuccessorIsExportedWithAnN() throws {
        let (_, store) = try school()
        try store.importCTF(try Self.fixture(), author: "SENCO")
        let dev = try #require(try store.ctfDocument(for: Self.devHere).pupils.first)
        #expect(dev.provision.map { "\($0.startDate) \($0.provision)" } == ["2012-10-01 E", "2016-03-01 N"])
        #expect(
            dev.needs.map { "\($0.need) \($0.rank) \($0.startDate) \($0.endDate?.description ?? "-")" } == [
                "MLD 1 2012-10-01 2016-03-01"
            ])
        let (_, fresh) = try school("Elmwood")
        try fresh.importCTF(try store.ctfDocument(for: Self.devHere).xmlData(), author: "SENCO")
        #expect(same(try episodes(fresh, Self.devHere), [("E", "2012-10-01", "2016-03-01", nil)]))
    }

    /// SEN support ended on the day an EHC plan's episode began (as the census problem's hint
    /// says to record it): the export gave K for that day and left the E out, so the receiving
    /// school recorded a pupil with a plan as on SEN support. An episode that ends the day it
    /// starts was never in force and is not exported.
    @Test func anEpisodeEndedTheDayItBeganGivesWayToTheOneThatBegan() throws {
        let (_, store) = try school()
        let pupil = try store.addPupil(
            NewPupil(upn: syntheticUPN(29_201), forename: "Finn", surname: "Same", dateOfBirth: "2015-06-01"),
            author: "SENCO")
        let support = try store.addRecord(
            SENEpisode.self, pupil: pupil.description, [.provision: "K", .startDate: "2024-02-29"], author: "SENCO")
        try store.updateRecord(SENEpisode.self, support.description, [.endDate: "2024-02-29"], author: "SENCO")
        try store.addRecord(
            SENEpisode.self, pupil: pupil.description, [.provision: "E", .startDate: "2024-02-29"], author: "SENCO")
        let exported = try #require(try store.ctfDocument(for: pupil.description).pupils.first)
        #expect(exported.provision.map { "\($0.startDate) \($0.provision)" } == ["2024-02-29 E"])
        let (_, fresh) = try school("Elmwood")
        try fresh.importCTF(try store.ctfDocument(for: pupil.description).xmlData(), author: "SENCO")
        #expect(try fresh.pupil(syntheticUPN(29_201)).senStatus == "E")
    }

    @Test func valuesAreEscapedByTheXMLWriter() throws {
        let pupil = CTFPupil(
            upn: Self.cara, surname: "O'Neil & <Sons>", forename: "Zoë", dateOfBirth: CalendarDate("2014-11-30"),
            provision: [CTFProvision(startDate: CalendarDate(year: 2021, month: 1, day: 11), provision: "K")],
            needs: [])
        let data = CTFDocument(header: CTFHeader(version: "25.0"), pupils: [pupil]).xmlData()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("&amp;") && text.contains("&lt;Sons&gt;"))
        let read = try CTFDocument(xml: data)
        #expect(read.pupils.first?.surname == "O'Neil & <Sons>" && read.pupils.first?.forename == "Zoë")
    }

    @Test func elementNamesComeFromTheDeclarations() {
        #expect(CTFDocument.Field.upn == "UPN" && CTFDocument.Field.dateOfBirth == "DOB")
        #expect(CTFDocument.Field.formerUPN == "FormerUPN")
        #expect(CTFDocument.Field.startDate == "StartDate" && CTFDocument.Field.provision == "SENprovision")
        #expect(CTFDocument.Field.need == "SENtype" && CTFDocument.Field.rank == "SENtypeRank")
        #expect(CTFDocument.Field.needStartDate == "NeedStartDate" && CTFDocument.Field.needEndDate == "NeedEndDate")
    }
}
