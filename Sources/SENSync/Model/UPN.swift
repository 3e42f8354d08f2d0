import Foundation

/// A Unique Pupil Number: 13 characters, a check letter then 12 characters (DfE rule 1510).
///
/// Characters 2–4 are the issuing LA number, 5–8 the establishment, 9–10 the year, 11–13 a
/// serial; a temporary UPN ends in a letter. The check letter is
/// `Σ(value(char n) × n) mod 23` over characters 2–13, mapped into `ABCDEFGHJKLMNPQRTUVWXYZ`
/// (no I, O or S).
public struct UPN: Hashable, Sendable, CustomStringConvertible {
    /// The 13 characters, upper-case.
    public let value: String

    public var description: String { value }

    /// The 23 letters a UPN may use, in check-letter order.
    public static let letters: [Character] = Array("ABCDEFGHJKLMNPQRTUVWXYZ")

    /// Why a string is not a valid UPN, in the DfE's own words where it has them.
    public enum Problem: String, Error, Sendable {
        case missing = "UPN missing"
        case wrongLength = "UPN invalid (must be 13 characters)"
        case badFirstCharacter = "UPN invalid (character 1 must be a letter other than I, O or S)"
        case notNumeric = "UPN invalid (characters 2-12 not all numeric)"
        case badLastCharacter = "UPN invalid (character 13 not a recognised value)"
        case wrongCheckLetter = "UPN invalid (wrong check letter at character 1)"
        case unknownLA = "UPN invalid (characters 2-4 not a recognised LA code)"
    }

    /// DfE rule 1530: characters 2–4 must be a recognised LA number (`Schemas/codes/la-number.json`).
    /// Checked on local writes; UPNs arriving from other sites or old files are kept as they are.
    public var laProblem: Problem? {
        guard let known = Self.laNumbers else { return nil }
        return known.contains(laNumber) ? nil : .unknownLA
    }

    /// The DfE LA numbers (`Schemas/codes/la-number.json`), looked up once: every imported row
    /// checks one.
    private static let laNumbers: Set<String>? = CodeLists.named("la-number").map { Set($0.codes.map(\.code)) }

    /// Validates `string` (surrounding spaces ignored, letters upper-cased).
    public init(_ string: String) throws(Problem) {
        // Every valid UPN is ASCII: check its bytes (an import checks one per row). Anything else
        // takes the general path, which gives the same answers for every string.
        if let value = try Self.validatedASCII(string) {
            self.value = value
            return
        }
        let upper = string.trimmingCharacters(in: .whitespaces).uppercased()
        guard !upper.isEmpty else { throw .missing }
        let chars = Array(upper)
        guard chars.count == 13 else { throw .wrongLength }
        guard Self.letters.contains(chars[0]) else { throw .badFirstCharacter }
        guard chars[1...11].allSatisfy(\.isASCIIDigitCharacter) else { throw .notNumeric }
        guard chars[12].isASCIIDigitCharacter || Self.letters.contains(chars[12]) else { throw .badLastCharacter }
        guard Self.checkLetter(for: String(chars[1...])) == chars[0] else { throw .wrongCheckLetter }
        value = upper
    }

    /// The check letter for the 12 characters after it; `nil` if they are malformed.
    public static func checkLetter(for body: String) -> Character? {
        if body.utf8.count == 12, body.utf8.allSatisfy({ $0 < 0x80 }) {
            var bytes = Array(body.utf8)
            for i in bytes.indices { bytes[i] = asciiUppercased(bytes[i]) }
            return checkLetterIndex(bytes[...]).map { letters[$0] }
        }
        let chars = Array(body.uppercased())
        guard chars.count == 12 else { return nil }
        var sum = 0
        for (index, char) in chars.enumerated() {
            let weight = index + 2
            if let digit = char.wholeNumberValue, char.isASCII {
                sum += digit * weight
            } else if index == 11, let letterIndex = letters.firstIndex(of: char) {
                sum += letterIndex * weight
            } else {
                return nil
            }
        }
        return letters[sum % 23]
    }

    /// The UPN letters as ASCII bytes, in check-letter order.
    private static let letterBytes: [UInt8] = Array("ABCDEFGHJKLMNPQRTUVWXYZ".utf8)

    private static func asciiUppercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// The check letter's index in ``letters`` for 12 upper-case ASCII bytes; `nil` if malformed.
    private static func checkLetterIndex(_ body: ArraySlice<UInt8>) -> Int? {
        guard body.count == 12 else { return nil }
        var sum = 0
        for (offset, byte) in body.enumerated() {
            let weight = offset + 2
            if isDigit(byte) {
                sum += Int(byte - UInt8(ascii: "0")) * weight
            } else if offset == 11, let letterIndex = letterBytes.firstIndex(of: byte) {
                sum += letterIndex * weight
            } else {
                return nil
            }
        }
        return sum % 23
    }

    /// The validated, upper-cased UPN if `string` is ASCII; `nil` if it is not (the caller then
    /// takes the general path).
    private static func validatedASCII(_ string: String) throws(Problem) -> String? {
        let utf8 = string.utf8
        // Printable ASCII and tabs only: a line break or other control character takes the
        // general path ("\r\n" is one character there).
        guard utf8.allSatisfy({ (0x20..<0x7F).contains($0) || $0 == UInt8(ascii: "\t") }) else { return nil }
        // `CharacterSet.whitespaces` holds two ASCII characters: space and tab.
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var bytes = Array(utf8)
        while let last = bytes.last, isSpace(last) { bytes.removeLast() }
        let start = bytes.firstIndex { !isSpace($0) } ?? bytes.endIndex
        var chars = bytes[start...]
        guard !chars.isEmpty else { throw .missing }
        guard chars.count == 13 else { throw .wrongLength }
        for i in chars.indices { chars[i] = asciiUppercased(chars[i]) }
        let first = chars.first!
        let last = chars.last!
        guard letterBytes.contains(first) else { throw .badFirstCharacter }
        guard chars.dropFirst().dropLast().allSatisfy(isDigit) else { throw .notNumeric }
        guard isDigit(last) || letterBytes.contains(last) else { throw .badLastCharacter }
        guard let check = checkLetterIndex(chars.dropFirst()), letterBytes[check] == first else {
            throw .wrongCheckLetter
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// The issuing LA number (characters 2–4).
    public var laNumber: String { String(value.dropFirst().prefix(3)) }
    /// Whether this is a temporary UPN (ends in a letter).
    public var isTemporary: Bool { value.last.map { !$0.isNumber } ?? false }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
