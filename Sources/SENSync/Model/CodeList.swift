import Foundation

/// A versioned list of codes (needs, agencies, stages), loaded from `Schemas/codes/NAME.json`.
///
/// Each file names its source; DfE lists keep the DfE's codes, and census and SEN2 lists stay
/// apart where they differ.
public struct CodeList: Sendable, Hashable, Decodable {
    public struct Code: Sendable, Hashable, Decodable {
        public var code: String
        public var label: String
        /// The code this historic code maps to on import (CTF S/A/P).
        public var maps: String?
        /// The SEN2 code this code is reported as, where it has one.
        public var sen2: String?
        /// The broad area of need (CoP 6.28–6.35) a census SEN type falls under.
        public var broadArea: String?
    }

    public var list: String
    public var version: String
    public var source: String
    public var codes: [Code] { didSet { index = Self.index(of: codes) } }
    /// Lower-cased codes and labels to the first code that has them (an import looks one up per
    /// coded cell).
    /// `exact`: each code as written, to what the lower-cased lookup would find (most cells give
    /// the code as the list writes it: no trimming or lower-casing for those).
    private var index: (exact: [String: Int], byCode: [String: Int], byLabel: [String: Int])

    private enum CodingKeys: String, CodingKey { case list, version, source, codes }

    public init(list: String, version: String, source: String, codes: [Code]) {
        self.list = list
        self.version = version
        self.source = source
        self.codes = codes
        index = Self.index(of: codes)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            list: try container.decode(String.self, forKey: .list),
            version: try container.decode(String.self, forKey: .version),
            source: try container.decode(String.self, forKey: .source),
            codes: try container.decode([Code].self, forKey: .codes))
    }

    public static func == (lhs: CodeList, rhs: CodeList) -> Bool {
        (lhs.list, lhs.version, lhs.source, lhs.codes) == (rhs.list, rhs.version, rhs.source, rhs.codes)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(list)
        hasher.combine(version)
        hasher.combine(source)
        hasher.combine(codes)
    }

    private static func index(of codes: [Code]) -> (
        exact: [String: Int], byCode: [String: Int], byLabel: [String: Int]
    ) {
        var byCode: [String: Int] = [:]
        var byLabel: [String: Int] = [:]
        for (position, code) in codes.enumerated() {
            if byCode[code.code.lowercased()] == nil { byCode[code.code.lowercased()] = position }
            if byLabel[code.label.lowercased()] == nil { byLabel[code.label.lowercased()] = position }
        }
        var exact: [String: Int] = [:]
        for code in codes { exact[code.code] = byCode[code.code.lowercased()] }
        return (exact, byCode, byLabel)
    }

    /// The code matching `input` (case-insensitive, by code or by label).
    public func code(matching input: String) -> Code? {
        if let position = index.exact[input] { return codes[position] }
        let wanted = input.trimmingCharacters(in: .whitespaces).lowercased()
        return (index.byCode[wanted] ?? index.byLabel[wanted]).map { codes[$0] }
    }

    /// The label of `code`, or the code itself if the list does not have it.
    public func label(of code: String) -> String { codes.first { $0.code == code }?.label ?? code }

    /// The codes, comma-separated, for an error's hint.
    public var codeSummary: String { codes.map(\.code).joined(separator: ", ") }
}

/// The code lists this build ships.
public enum CodeLists {
    /// Every list, by name.
    public static let all: [String: CodeList] = load()

    /// The list named `name`.
    public static func named(_ name: String) -> CodeList? { all[name] }

    /// The label of `code` in the list named `list`, or the code itself if either is unknown.
    public static func label(_ list: String, _ code: String) -> String { named(list)?.label(of: code) ?? code }

    private static func load() -> [String: CodeList] {
        guard let directory = Bundle.module.url(forResource: "Codes", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        else { return [:] }
        var lists: [String: CodeList] = [:]
        for file in files where file.pathExtension == "json" {
            guard let data = try? Data(contentsOf: file),
                let list = try? JSONDecoder().decode(CodeList.self, from: data)
            else { continue }
            lists[list.list] = list
        }
        return lists
    }
}
