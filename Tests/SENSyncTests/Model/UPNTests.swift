import Foundation
import Testing

@testable import SENSync

/// UPN check letters against the vectors in `reference/sen-domain.md` §2.4 and §7.
struct UPNTests {
    /// §7.1, 7.2, 7.4, 7.5, 7.7: valid UPNs, permanent and temporary. The LA code is not checked
    /// (LA 950, 243, 900, 941 and 838 pass on their check letter alone).
    @Test(arguments: [
        "H801200001001", "G80120000101A", "B801200005001", "K80120002401T", "A950000178301",
        "H243278544154", "Q247962919251", "W428558133462", "R900400001001", "N94100002415Z", "N83840012307K",
    ])
    func acceptsValidUPN(_ raw: String) throws {
        let upn = try UPN(raw)
        #expect(upn.value == raw)
        #expect(UPN.checkLetter(for: String(raw.dropFirst())) == raw.first)
    }

    /// §7.6: one vector per check letter, including Y and Z (remainders 21 and 22, which a
    /// published validator mis-maps).
    static let perLetter = [
        "A801200019006", "B801200019026", "C801200019017", "D801200019008", "E801200019001", "F801200019019",
        "G801200019012", "H801200019003", "J801200019023", "K801200019014", "L801200019005", "M801200019025",
        "N801200019016", "P801200019007", "Q801200019000", "R801200019018", "T801200019009", "U801200019002",
        "V801200019022", "W801200019013", "X801200019004", "Y801200019024", "Z801200019015",
    ]

    @Test(arguments: perLetter)
    func eachCheckLetterVector(_ raw: String) throws {
        let upn = try UPN(raw)
        #expect(upn.value == raw)
        #expect(!upn.isTemporary)
        #expect(upn.laNumber == "801")
        // Every other letter in position 1 is a wrong check letter.
        for letter in UPN.letters where letter != raw.first {
            #expect(throws: UPN.Problem.wrongCheckLetter) { try UPN(String(letter) + raw.dropFirst()) }
        }
    }

    @Test func perLetterVectorsCoverEveryLetterOnce() {
        #expect(Self.perLetter.compactMap(\.first) == UPN.letters)
        #expect(String(UPN.letters) == "ABCDEFGHJKLMNPQRTUVWXYZ")
    }

    /// The worked examples' sums (§2.4): 53 → H, and 52 → G for the temporary UPN.
    @Test func workedExampleSums() {
        #expect(UPN.checkLetter(for: "801200001001") == UPN.letters[53 % 23])
        #expect(UPN.checkLetter(for: "80120000101A") == UPN.letters[52 % 23])
        #expect(UPN.checkLetter(for: "80120002401T") == UPN.letters[308 % 23])
    }

    @Test(arguments: [
        ("Z801200001001", UPN.Problem.wrongCheckLetter),  // §7.1
        ("A801200005001", .wrongCheckLetter),  // §7.4
        ("R247962919251", .wrongCheckLetter),  // §7.5, expected Q
        ("X428558133462", .wrongCheckLetter),  // §7.5, expected W
        ("H80120000101A", .wrongCheckLetter),  // temporary with the permanent UPN's letter
        ("", .missing),
        ("   ", .missing),
        ("H80120000100", .wrongLength),
        ("H8012000010011", .wrongLength),
        ("H801200001001 1", .wrongLength),
        ("I801200001001", .badFirstCharacter),
        ("O801200001001", .badFirstCharacter),
        ("S801200001001", .badFirstCharacter),
        ("1801200001001", .badFirstCharacter),
        ("G80120000101I", .badLastCharacter),
        ("G80120000101O", .badLastCharacter),
        ("G80120000101S", .badLastCharacter),
        ("G80120000101-", .badLastCharacter),
        ("H8012000X1001", .notNumeric),
        ("H80120000100A1", .wrongLength),
        ("H8012000010A1", .notNumeric),
        ("H８01200001001", .notNumeric),  // a full-width digit is not an ASCII digit
    ])
    func rejectsInvalidUPN(_ raw: String, _ problem: UPN.Problem) {
        #expect(throws: problem) { try UPN(raw) }
    }

    @Test(arguments: [
        ("h801200001001", "H801200001001"), ("g80120000101a", "G80120000101A"), ("  k80120002401t ", "K80120002401T"),
    ])
    func lowerCaseAndSpacesAreAccepted(_ raw: String, _ expected: String) throws {
        #expect(try UPN(raw).value == expected)
    }

    @Test func temporaryUPNsAreRecognised() throws {
        #expect(try UPN("G80120000101A").isTemporary)
        #expect(try UPN("K80120002401T").isTemporary)
        #expect(try !UPN("H801200001001").isTemporary)
    }

    @Test func checkLetterRejectsMalformedBodies() {
        #expect(UPN.checkLetter(for: "80120000100") == nil)  // 11 characters
        #expect(UPN.checkLetter(for: "8012000010011") == nil)  // 13 characters
        #expect(UPN.checkLetter(for: "8012000A1001") == nil)  // a letter before position 13
        #expect(UPN.checkLetter(for: "80120000101I") == nil)  // I is not a UPN letter
    }

    @Test func syntheticUPNsAreValid() throws {
        for n in [0, 1, 42, 999, 9999] { _ = try UPN(syntheticUPN(n)) }
    }

    /// The byte-level check (every ASCII string) gives the same answer as the DfE rule applied
    /// character by character, for valid UPNs and for every kind of near miss.
    @Test func asciiCheckAgreesWithTheCharacterRule() {
        let seed: UInt64 = 20_261_129
        print("UPN equivalence seed \(seed)")
        var random = SeededGenerator(seed: seed)
        let pieces: [String] = [
            "0", "1", "5", "9", "A", "a", "H", "h", "I", "O", "S", "Z", "z", "T", " ", "\t", "\r\n", "\n", "-", "８",
            "\u{00A0}", "é",
        ]
        var tried = 0
        for _ in 0..<20_000 {
            var string: String
            if Bool.random(using: &random) {
                // A valid UPN, perhaps damaged in one place, perhaps padded or lower-cased.
                string = syntheticUPN(Int.random(in: 0..<100_000, using: &random))
                if Int.random(in: 0..<3, using: &random) == 0 {
                    var chars = Array(string)
                    chars[Int.random(in: 0..<chars.count, using: &random)] = Character(
                        pieces.randomElement(using: &random)!)
                    string = String(chars)
                }
                if Bool.random(using: &random) { string = string.lowercased() }
                if Bool.random(using: &random) { string = " " + string + "\t" }
            } else {
                string = (0..<Int.random(in: 0..<16, using: &random)).map { _ in pieces.randomElement(using: &random)! }
                    .joined()
            }
            tried += 1
            let expected = Result { () throws(UPN.Problem) in try Self.characterRule(string) }
            let actual = Result { () throws(UPN.Problem) in try UPN(string).value }
            #expect(actual == expected, "\(string.debugDescription) (seed \(seed))")
            let body = String(string.dropFirst())
            #expect(UPN.checkLetter(for: body) == Self.characterCheckLetter(body), "\(body.debugDescription)")
        }
        #expect(tried == 20_000)
    }

    /// DfE rules 1510 and the character checks, one character at a time (the reference).
    static func characterRule(_ string: String) throws(UPN.Problem) -> String {
        let upper = string.trimmingCharacters(in: .whitespaces).uppercased()
        guard !upper.isEmpty else { throw .missing }
        let chars = Array(upper)
        guard chars.count == 13 else { throw .wrongLength }
        guard UPN.letters.contains(chars[0]) else { throw .badFirstCharacter }
        guard chars[1...11].allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .notNumeric }
        guard (chars[12].isASCII && chars[12].isNumber) || UPN.letters.contains(chars[12]) else {
            throw .badLastCharacter
        }
        guard characterCheckLetter(String(chars[1...])) == chars[0] else { throw .wrongCheckLetter }
        return upper
    }

    static func characterCheckLetter(_ body: String) -> Character? {
        let chars = Array(body.uppercased())
        guard chars.count == 12 else { return nil }
        var sum = 0
        for (index, char) in chars.enumerated() {
            if let digit = char.wholeNumberValue, char.isASCII {
                sum += digit * (index + 2)
            } else if index == 11, let letterIndex = UPN.letters.firstIndex(of: char) {
                sum += letterIndex * (index + 2)
            } else {
                return nil
            }
        }
        return UPN.letters[sum % 23]
    }
}
