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

    @Test(arguments: ["UTF-7", "UTF-16", "ISO-8859-1", "EBCDIC-US"])
    func otherDeclaredEncodingsAreRefused(_ name: String) throws {
        let xml = "<?xml version='1.0' encoding='\(name)'?>\n<CTfile><CTFpupilData/></CTfile>\n"
        #expect(throws: CTFError.self) { try CTFDocument(xml: Data(xml.utf8)) }
    }
}
