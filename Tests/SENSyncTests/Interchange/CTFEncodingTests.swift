import Foundation
import Testing

@testable import SENSync

/// A CTF is UTF-8. Found by fuzzing (`Tools/fuzz.sh`, target `ctf`): a file declaring
/// `encoding="UTF-7"` made libxml2 (under FoundationXML's push parser) dereference a null
/// pointer, so `sensync ctf import` crashed instead of refusing the file.
@Suite struct CTFEncodingTests {
    @Test func aDeclaredEncodingOtherThanUTF8IsRefusedBeforeParsing() throws {
        let url = try #require(
            Bundle.module.url(forResource: "declared-utf7", withExtension: "xml", subdirectory: "Fixtures/ctf"))
        let data = try Data(contentsOf: url)
        #expect {
            try CTFDocument(xml: data)
        } throws: { error in
            (error as? CTFError)?.code == .malformed && (error as? CTFError)?.line == 1
        }
    }

    @Test(arguments: ["UTF-8", "utf-8", "Utf8"])
    func utf8IsAcceptedHoweverItIsSpelt(_ name: String) throws {
        let xml = "<?xml version=\"1.0\" encoding=\"\(name)\"?>\n<CTfile><CTFpupilData/></CTfile>\n"
        #expect(try CTFDocument(xml: Data(xml.utf8)).pupils.isEmpty)
    }

    /// Found by fuzzing after the check above: a declaration that does not close within its first
    /// 256 bytes hid its encoding from the check, and libxml2 still switched to UTF-7 and crashed.
    @Test func aDeclarationThatDoesNotCloseIsRefusedBeforeParsing() throws {
        let xml =
            "<?xml version=\"1.0\" encoding=\"UTF-7\"" + String(repeating: "x", count: 300)
            + "?>\n<CTfile><CTFpupilData/></CTfile>\n"
        let error = #expect(throws: CTFError.self) { try CTFDocument(xml: Data(xml.utf8)) }
        #expect(error?.code == .malformed && error?.line == 1)
        let found = try #require(
            Bundle.module.url(
                forResource: "unclosed-declaration-utf7", withExtension: "xml", subdirectory: "Fixtures/ctf"))
        #expect(throws: CTFError.self) { try CTFDocument(xml: try Data(contentsOf: found)) }
    }

    /// Found by fuzzing: a processing instruction with no data (`<?pi?>`) made FoundationXML call
    /// `strlen` on a null pointer, wherever it stood, and an entity declared in a document type
    /// could hold one. A CTF has neither a document type nor processing instructions.
    @Test(arguments: [
        "<?xm?>\0}}}", "<CTfile><?pi?><CTFpupilData/></CTfile>", "<CTfile><CTFpupilData/></CTfile><??>",
        "<!DOCTYPE CTfile [<!ENTITY e \"<?pi?>\">]><CTfile>&e;</CTfile>",
    ])
    func anEmptyProcessingInstructionOrADocumentTypeIsRefusedBeforeParsing(_ xml: String) throws {
        let error = #expect(throws: CTFError.self) { try CTFDocument(xml: Data(xml.utf8)) }
        #expect(error?.code == .malformed)
    }

    @Test func aProcessingInstructionWithDataIsParsedAsBefore() throws {
        let xml = "<?xml version=\"1.0\"?>\n<CTfile><?mis export=\"1\"?><CTFpupilData/></CTfile>\n"
        #expect(try CTFDocument(xml: Data(xml.utf8)).pupils.isEmpty)
    }

    /// libxml2 guesses UTF-16, UCS-4 and EBCDIC from a file's first bytes and switches to them
    /// whatever the declaration says; a CTF is UTF-8 (a UTF-8 byte-order mark is fine).
    @Test(
        arguments: [
            [0xFE, 0xFF, 0x00, 0x3C], [0xFF, 0xFE, 0x3C, 0x00], [0x00, 0x3C, 0x00, 0x3F], [0x3C, 0x00, 0x3F, 0x00],
            [0x00, 0x00, 0x00, 0x3C], [0x4C, 0x6F, 0xA7, 0x94],
        ] as [[UInt8]])
    func anotherEncodingGuessedFromTheFirstBytesIsRefused(_ start: [UInt8]) throws {
        let data = Data(start + Array("xml version='1.0'?>\n<CTfile><CTFpupilData/></CTfile>\n".utf8))
        #expect(throws: CTFError.self) { try CTFDocument(xml: data) }
    }

    /// An element with more attributes than any CTF's is refused before parsing: libxml2 compares
    /// each attribute's name with every other's, so a root with 600,000 of them ran for minutes.
    /// A value may hold `=` and `>` in its quotes; 64 attributes are still read.
    @Test func anElementWithThousandsOfAttributesIsRefusedBeforeParsing() throws {
        func ctf(_ attributes: Int) -> Data {
            let list = (0..<attributes).map { "a\($0)=\"x=>'\"" }.joined(separator: " ")
            return Data("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile \(list)><CTFpupilData/></CTfile>\n".utf8)
        }
        #expect(try CTFDocument(xml: ctf(UnusedMarkupScanner.maxAttributes)).pupils.isEmpty)
        for count in [UnusedMarkupScanner.maxAttributes + 1, 100_000] {
            let error = #expect(throws: CTFError.self) { try CTFDocument(xml: ctf(count)) }
            #expect(error?.message.contains("more than 64 attributes") == true, "\(String(describing: error))")
            #expect(error?.line == 2)
        }
    }

    @Test func aUTF8ByteOrderMarkIsAccepted() throws {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CTfile><CTFpupilData/></CTfile>\n"
        #expect(try CTFDocument(xml: Data([0xEF, 0xBB, 0xBF] + Array(xml.utf8))).pupils.isEmpty)
    }

    @Test(arguments: ["UTF-7", "UTF-16", "ISO-8859-1", "EBCDIC-US"])
    func otherDeclaredEncodingsAreRefused(_ name: String) throws {
        let xml = "<?xml version='1.0' encoding='\(name)'?>\n<CTfile><CTFpupilData/></CTfile>\n"
        #expect(throws: CTFError.self) { try CTFDocument(xml: Data(xml.utf8)) }
    }

    /// The pre-check reads a file a part at a time (a large CTF was read whole into memory first):
    /// fed in parts of any size it finds what the whole-file scan it replaced found, at the same
    /// line. Random texts of the markup's own bytes, fixed seeds.
    @Test func theMarkupCheckFindsTheSameInPartsAsWhole() {
        /// The whole-file scan as it was before (at each `<`, look ahead).
        func whole(_ bytes: [UInt8]) -> Int? {
            var line = 1
            var i = 0
            while i < bytes.count {
                if bytes[i] == 0x0A { line += 1 }
                guard bytes[i] == UInt8(ascii: "<"), i + 1 < bytes.count else {
                    i += 1
                    continue
                }
                if bytes[i + 1] == UInt8(ascii: "!") {
                    let word = bytes[(i + 2)...].prefix(7)
                    if word.elementsEqual("DOCTYPE".utf8) || word.prefix(6).elementsEqual("ENTITY".utf8) { return line }
                } else if bytes[i + 1] == UInt8(ascii: "?") {
                    var j = i + 2
                    while j < bytes.count, ![0x20, 0x09, 0x0A, 0x0D, 0x3F, 0x3E].contains(bytes[j]) { j += 1 }
                    if j < bytes.count, bytes[j] == UInt8(ascii: "?") { return line }
                }
                i += 1
            }
            return nil
        }
        let pieces = ["<", "!", "?", ">", " ", "\n", "a", "<!DOCTYPE", "<!ENTITY", "<!DOCTYP", "<!ENTIT", "<?", "?>"]
            .map { Array($0.utf8) }
        var found = 0
        for seed in UInt64(0x5CA9_0000)..<UInt64(0x5CA9_0000 + 3000) {
            var rng = SplitMix64(seed: seed)
            var bytes: [UInt8] = []
            for _ in 0..<(1 + rng.below(40)) { bytes += pieces[rng.below(pieces.count)] }
            let expected = whole(bytes)
            if expected != nil { found += 1 }
            var whole = UnusedMarkupScanner()
            bytes.withUnsafeBytes { whole.scan($0) }
            #expect(whole.found == expected, "seed \(String(seed, radix: 16))")
            var scanner = UnusedMarkupScanner()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + rng.below(6))
                bytes[start..<end].withUnsafeBytes { scanner.scan($0) }
                start = end
            }
            #expect(scanner.found == expected, "seed \(String(seed, radix: 16)) in parts")
        }
        // Both kinds of text were drawn: with markup to find and without.
        #expect(found > 300 && found < 2700, "\(found)")
    }

    /// A CTF read from its file, a part at a time, is the same document as read from memory, and
    /// imports to the same records.
    @Test func aCTFReadFromItsFileInPartsIsTheSameDocument() throws {
        let url = try #require(
            Bundle.module.url(forResource: "synthetic-ctf-25", withExtension: "xml", subdirectory: "Fixtures/ctf"))
        #expect(try CTFDocument(contentsOf: url) == CTFDocument(xml: Data(contentsOf: url)))
        let (_, store) = try CTFTests().school()
        let (_, other) = try CTFTests().school("Elmwood")
        let summary = try store.importCTF(contentsOf: url, author: "SENCO")
        #expect(try other.importCTF(Data(contentsOf: url), author: "SENCO").pupils.count == summary.pupils.count)
        #expect(try store.pupils().count == other.pupils().count)
        #expect(summary.count(.created) == 2 && summary.count(.updated) == 1)
        // A file that is not there is a CTF error, not a crash.
        #expect(throws: CTFError.self) {
            try CTFDocument(contentsOf: url.deletingLastPathComponent().appendingPathComponent("none.xml"))
        }
    }
}
