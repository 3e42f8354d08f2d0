import Testing

@testable import SENSync

/// Finding a code by what a person or a file wrote.
struct CodeListTests {
    static let list = CodeList(
        list: "test", version: "1", source: "synthetic",
        codes: [
            .init(code: "ASD", label: "Autistic Spectrum Disorder"),
            .init(code: "OTH", label: "Other difficulty/disability"),
            .init(code: "asd", label: "A later duplicate, never matched by its code"),
            .init(code: "MLD", label: "oth"),
        ])

    @Test func aCodeMatchesByCodeOrLabelWhateverTheCase() {
        #expect(Self.list.code(matching: "asd")?.label == "Autistic Spectrum Disorder")
        #expect(Self.list.code(matching: " ASD\t")?.code == "ASD")
        #expect(Self.list.code(matching: "autistic spectrum DISORDER")?.code == "ASD")
        #expect(Self.list.code(matching: "nothing like it") == nil)
        #expect(Self.list.code(matching: "") == nil)
    }

    /// A code wins over another code's label; among equals, the first in the list.
    @Test func codesWinOverLabelsAndEarlierOverLater() {
        #expect(Self.list.code(matching: "OTH")?.code == "OTH")
        #expect(Self.list.code(matching: "oth")?.code == "OTH")
        #expect(Self.list.code(matching: "a later duplicate, never matched by its code")?.code == "asd")
    }

    /// Changing the codes changes what matches.
    @Test func theLookupFollowsTheCodes() {
        var list = Self.list
        list.codes = [.init(code: "VI", label: "Vision impairment")]
        #expect(list.code(matching: "asd") == nil)
        #expect(list.code(matching: "vision impairment")?.code == "VI")
        #expect(list == CodeList(list: "test", version: "1", source: "synthetic", codes: list.codes))
    }

    /// Every shipped list finds each of its codes by code and by label.
    @Test func everyShippedCodeIsFound() {
        #expect(!CodeLists.all.isEmpty)
        for list in CodeLists.all.values {
            for code in list.codes {
                #expect(list.code(matching: code.code.lowercased())?.code.lowercased() == code.code.lowercased())
                #expect(list.code(matching: code.label) != nil, "\(list.list): \(code.label)")
            }
        }
    }
}
