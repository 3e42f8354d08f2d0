import Foundation
import Testing

@testable import SENSync

extension CTFTests {
    /// A name holding a line break, a C1 control or a text-direction override (written as a
    /// character reference) was stored as it was: `pupil show` printed it and `ctf export` then
    /// refused the pupil it had imported. The file is refused as any other write would refuse
    /// the name, by line and element.
    @Test(arguments: [
        ("<Forename>Cara</Forename>", "<Forename>Ca&#xA;ra</Forename>", 87, "Forename"),
        ("<Forename>Cara</Forename>", "<Forename>Ca&#x9B;ra</Forename>", 87, "Forename"),
        ("<Surname>Test</Surname>", "<Surname>&#x202E;Test</Surname>", 86, "Surname"),
        ("<Surname>Example</Surname>", "<Surname>Exa&#xD;mple</Surname>", 26, "Surname"),
    ])
    func aNameHoldingACharacterThatCannotBeRecordedIsRefused(
        replacing: String, with unsafe: String, line: Int, element: String
    ) throws {
        let text = try fixtureText()
        #expect(text.contains(replacing))
        try refused(
            text.replacingOccurrences(of: replacing, with: unsafe), code: .invalidValue, line: line, element: element)
    }

    /// The header's text was kept unchecked, and `ctf import` printed the file's CTFversion on the
    /// terminal: a control character or text-direction override there (or a version of any
    /// length) went to the screen as it was. Checked as the pupils' text is.
    @Test(arguments: [
        ("<CTFversion>25.0</CTFversion>", "<CTFversion>25.0&#x9B;2J</CTFversion>", 7, "CTFversion"),
        ("<CTFversion>25.0</CTFversion>", "<CTFversion>&#x202E;25.0</CTFversion>", 7, "CTFversion"),
        (
            "<SchoolName>Synthetic Primary</SchoolName>",
            "<SchoolName>\(String(repeating: "Long ", count: 30))</SchoolName>", 15, "SchoolName"
        ),
    ])
    func headerTextThatCannotBeShownIsRefused(replacing: String, with unsafe: String, line: Int, element: String)
        throws
    {
        let text = try fixtureText()
        #expect(text.contains(replacing))
        try refused(
            text.replacingOccurrences(of: replacing, with: unsafe), code: .invalidValue, line: line, element: element)
    }
}
