import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The SEN part of a Common Transfer File (CTF): the pupils' identifiers, SEN provision history
/// and ranked needs, read from or written as CTF XML.
///
/// Only the elements listed in `Schemas/ctf/ctf-sen.md` are read; everything else a CTF carries
/// (addresses, contacts, attendance, assessments) is skipped and never kept. Field element names
/// come from the record kinds' declarations (``InterchangeNames/ctf``); the containers around
/// them are ``CTFDocument/Element``.
///
/// ```swift
/// let document = try CTFDocument(xml: Data(contentsOf: url))
/// for pupil in document.pupils where pupil.hasSENHistory { print(pupil.provision.count) }
/// let data = try document.xmlData()
/// ```
public struct CTFDocument: Sendable, Hashable {
    public var header: CTFHeader
    public var pupils: [CTFPupil]

    public init(header: CTFHeader, pupils: [CTFPupil]) {
        self.header = header
        self.pupils = pupils
    }

    /// The containers of a CTF's SEN data (DfE CTF specification, section 4.3); the elements that
    /// hold a field's value are named in the kinds' declarations.
    public enum Element {
        public static let file = "CTfile"
        public static let header = "Header"
        public static let documentName = "DocumentName"
        public static let version = "CTFversion"
        public static let dateTime = "DateTime"
        public static let documentQualifier = "DocumentQualifier"
        public static let supplierID = "SupplierID"
        public static let sourceSchool = "SourceSchool"
        public static let destSchool = "DestSchool"
        public static let lea = "LEA"
        public static let estab = "Estab"
        public static let urn = "URN"
        public static let schoolName = "SchoolName"
        public static let academicYear = "AcademicYear"
        public static let pupilData = "CTFpupilData"
        public static let pupil = "Pupil"
        public static let basicDetails = "BasicDetails"
        public static let senHistory = "SENhistory"
        public static let sen = "SEN"
        public static let senNeeds = "SENneeds"
        public static let senNeed = "SENneed"
    }

    /// Field elements, from the declarations (the single source of these names).
    enum Field {
        static let upn = ctf(Pupil.Field.upn)
        static let formerUPN = ctf(Pupil.Field.formerUPNs)
        static let surname = ctf(Pupil.Field.surname)
        static let forename = ctf(Pupil.Field.forename)
        static let dateOfBirth = ctf(Pupil.Field.dateOfBirth)
        static let startDate = ctf(SENEpisode.Field.startDate)
        static let provision = ctf(SENEpisode.Field.provision)
        static let need = ctf(SENNeedRecord.Field.need)
        static let rank = ctf(SENNeedRecord.Field.rank)
        static let needStartDate = ctf(SENNeedRecord.Field.startDate)
        static let needEndDate = ctf(SENNeedRecord.Field.endDate)

        static func ctf<F: KindField>(_ field: F) -> String { field.definition.interchange.ctf ?? field.rawValue }
    }

    /// The elements reading keeps (below the root); every other element is skipped with all it
    /// holds, so a CTF's addresses, contacts and attendance never reach memory as a tree.
    static let elementsRead: Set<String> = [
        Element.header, Element.documentName, Element.version, Element.dateTime, Element.documentQualifier,
        Element.supplierID, Element.sourceSchool, Element.destSchool, Element.lea, Element.estab, Element.urn,
        Element.schoolName,
        Element.academicYear, Element.pupilData, Element.pupil, Element.basicDetails, Element.senHistory,
        Element.sen, Element.senNeeds, Element.senNeed, Field.upn, Field.formerUPN, Field.surname, Field.forename,
        Field.dateOfBirth, Field.startDate, Field.provision, Field.need, Field.rank, Field.needStartDate,
        Field.needEndDate,
    ]
}

/// A CTF's `Header`: which file this is and where it came from.
public struct CTFHeader: Sendable, Hashable {
    public var documentName: String?
    /// `CTFversion`, such as `25.0` (the academic year it was made in).
    public var version: String?
    public var dateTime: String?
    public var documentQualifier: String?
    public var supplierID: String?
    public var sourceLEA: String?
    public var sourceEstab: String?
    public var sourceURN: String?
    public var sourceSchoolName: String?
    public var academicYear: String?
    /// `DestSchool`: the school the file is for (its LA number, establishment number and URN).
    public var destLEA: String?
    public var destEstab: String?
    public var destURN: String?

    public init(
        documentName: String? = nil, version: String? = nil, dateTime: String? = nil, documentQualifier: String? = nil,
        supplierID: String? = nil, sourceLEA: String? = nil, sourceEstab: String? = nil, sourceURN: String? = nil,
        sourceSchoolName: String? = nil, academicYear: String? = nil, destLEA: String? = nil,
        destEstab: String? = nil, destURN: String? = nil
    ) {
        self.documentName = documentName
        self.version = version
        self.dateTime = dateTime
        self.documentQualifier = documentQualifier
        self.supplierID = supplierID
        self.sourceLEA = sourceLEA
        self.sourceEstab = sourceEstab
        self.sourceURN = sourceURN
        self.sourceSchoolName = sourceSchoolName
        self.academicYear = academicYear
        self.destLEA = destLEA
        self.destEstab = destEstab
        self.destURN = destURN
    }

    /// How the file names a school other than `site` as the one it is for (its URN, else its LA
    /// number), or `nil` when it names this site, names none, or says the school is not known
    /// (`MMM`, or `XXX` for a school outside England, as an MIS writes them).
    public func addressedElsewhere(than site: SiteIdentity) -> String? {
        if let urn = destURN, let mine = site.urn, urn != mine { return "URN \(urn)" }
        if let lea = destLEA, lea.allSatisfy(\.isNumber), let mine = site.laCode, lea != mine, destURN == nil {
            return "LA \(lea)"
        }
        return nil
    }
}

/// One `Pupil` of a CTF: identifiers and the SEN history.
public struct CTFPupil: Sendable, Hashable {
    public var upn: String
    public var formerUPNs: [String]
    public var surname: String?
    public var forename: String?
    public var dateOfBirth: CalendarDate?
    /// `SENhistory/SEN`, oldest first.
    public var provision: [CTFProvision]
    /// `SENhistory/SENneeds/SENneed`, by start date then rank.
    public var needs: [CTFNeed]
    /// The line of the `Pupil` element in the file read (0 for one made here).
    public var line: Int

    public init(
        upn: String, formerUPNs: [String] = [], surname: String?, forename: String?, dateOfBirth: CalendarDate?,
        provision: [CTFProvision], needs: [CTFNeed], line: Int = 0
    ) {
        self.upn = upn
        self.formerUPNs = formerUPNs
        self.surname = surname
        self.forename = forename
        self.dateOfBirth = dateOfBirth
        self.provision = provision
        self.needs = needs
        self.line = line
    }

    /// Whether the file gives any SEN provision or need for this pupil.
    public var hasSENHistory: Bool { !provision.isEmpty || !needs.isEmpty }
}

/// One `SEN` element: a census SEN provision from a date.
public struct CTFProvision: Sendable, Hashable {
    public var startDate: CalendarDate
    /// The census provision: E, K or N (a historic code already mapped).
    public var provision: String
    /// The historic code the file gave (S, A or P), which ``provision`` maps it to.
    public var historicCode: String?
    public var line: Int

    public init(startDate: CalendarDate, provision: String, historicCode: String? = nil, line: Int = 0) {
        self.startDate = startDate
        self.provision = provision
        self.historicCode = historicCode
        self.line = line
    }
}

/// One `SENneed` element: a ranked census SEN type and the dates it applied.
public struct CTFNeed: Sendable, Hashable {
    public var need: String
    public var rank: Int
    /// `NeedStartDate`; when the file has none, the start of the pupil's latest E or K provision.
    public var startDate: CalendarDate
    public var endDate: CalendarDate?
    public var line: Int

    public init(need: String, rank: Int, startDate: CalendarDate, endDate: CalendarDate? = nil, line: Int = 0) {
        self.need = need
        self.rank = rank
        self.startDate = startDate
        self.endDate = endDate
        self.line = line
    }
}

/// A CTF that cannot be read, or whose SEN data cannot be recorded. The message names the XML
/// line and element, never a value from the file: values are personal data.
public struct CTFError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// The file is not well-formed XML.
        case malformed = "ctf-malformed"
        /// The XML is not a CTF: its root is not `CTfile`, or it has no `CTFpupilData`.
        case notACTF = "ctf-not-a-ctf"
        /// An element is missing, or its value is not valid (a UPN, a date, a code, a rank).
        case invalidValue = "ctf-invalid-value"
        /// A pupil's SEN records would break a rule of the store (two current needs share a rank;
        /// the pupil is on roll elsewhere).
        case refused = "ctf-refused"
    }

    public var code: Code
    /// What went wrong, starting with the line and element.
    public var message: String
    /// What to do next.
    public var hint: String?
    /// The line of the XML file, when known.
    public var line: Int?
    /// The element, when known.
    public var element: String?
    /// When more than one pupil has a problem: each of them (at most ``maxListed``), in file
    /// order, and ``message`` counts them. Empty when this error is the file's only problem.
    public var problems: [CTFError] = []
    /// How many pupils have a problem (1 when this error is the only one).
    public var problemCount = 1
    /// The most problems one error lists.
    public static let maxListed = 100

    public init(_ code: Code, _ problem: String, line: Int?, element: String?, hint: String? = nil) {
        self.code = code
        self.line = line
        self.element = element
        self.hint = hint
        var place: [String] = []
        if let line { place.append("Line \(line)") }
        if let element { place.append("<\(element)>") }
        message = place.isEmpty ? problem : "\(place.joined(separator: ", ")): \(problem)"
    }

    public var description: String { hint.map { "\(message) \($0)" } ?? message }

    /// `found` (one problem per pupil, in file order) as one error: the problem itself when there
    /// is one, else an error counting them among the file's `pupils` and listing them.
    static func combining(_ found: [CTFError], pupils: Int) -> CTFError {
        guard found.count > 1 else { return found[0] }
        let code = found.allSatisfy { $0.code == found[0].code } ? found[0].code : .invalidValue
        var combined = CTFError(
            code, "Nothing was imported: problems with \(found.count) of the \(pupils) pupil(s) in the file.",
            line: nil, element: nil,
            hint: "Each problem above names its line and element; ask the sending school for a corrected file.")
        combined.problems = Array(found.prefix(maxListed))
        combined.problemCount = found.count
        return combined
    }
}

// MARK: - Reading

/// An element of the XML read, with the line it starts on.
struct XMLNode: Sendable {
    var name: String
    var line: Int
    var text = ""
    var children: [XMLNode] = []

    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    var value: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Reads `source` into a tree with FoundationXML's `XMLParser`, which reports the line each
    /// element starts on: the root, and below it only elements named in
    /// ``CTFDocument/elementsRead`` whose parent was kept (the rest is checked as XML and skipped).
    /// A file is read in parts, never whole. External entities are never resolved.
    static func parse(_ source: CTFSource) throws(CTFError) -> XMLNode {
        // Both checks before libxml2 sees the file, in one pass over it. libxml2 under
        // FoundationXML can crash switching to some encodings (UTF-7 did, twice, found by
        // fuzzing); a CTF is UTF-8, so a file that does not plainly start as UTF-8 is refused.
        // FoundationXML calls strlen on the null data of a processing instruction without any
        // (`<?pi?>`), found by fuzzing; an entity declared in a document type could hold one (and
        // entities can multiply a small file). A CTF has neither.
        var isUTF8: Bool?
        var scanner = UnusedMarkupScanner()
        try source.forEachPart { part in
            if isUTF8 == nil { isUTF8 = startsAsUTF8(Data(part.prefix(259))) }
            if isUTF8 == true { scanner.scan(part) }
        }
        guard isUTF8 != false else {
            throw CTFError(
                .malformed,
                "The file is not in UTF-8 (the text encoding a CTF must use), or its XML declaration is damaged.",
                line: 1, element: nil, hint: "Export the CTF again from the sending school's MIS.")
        }
        if let line = scanner.found {
            throw CTFError(
                .malformed,
                "The file holds XML a CTF does not use (a document type, or a processing instruction without data).",
                line: line, element: nil, hint: "Export the CTF again from the sending school's MIS.")
        }
        if let line = scanner.tooManyAttributes {
            throw CTFError(
                .malformed,
                "An element has more than \(UnusedMarkupScanner.maxAttributes) attributes; a CTF's elements have a few at most.",
                line: line, element: nil,
                hint: "This is not a Common Transfer File: export the CTF again from the sending school's MIS.")
        }
        // From a stream: given the whole file at once, FoundationXML's parser fails any file over
        // 10 MB at its end ("not well-formed"); fed in parts it reads it.
        let parser = XMLParser(stream: try source.stream())
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse(), builder.error == nil, let root = builder.root else {
            if builder.tooDeep {
                throw CTFError(
                    .malformed,
                    "The file's elements are nested more than \(TreeBuilder.maxDepth) deep; a CTF's are nested a few levels.",
                    line: max(builder.error?.line ?? parser.lineNumber, 1), element: nil,
                    hint: "This is not a Common Transfer File: export the CTF again from the sending school's MIS.")
            }
            if builder.tooLong {
                throw CTFError(
                    .malformed,
                    "An element's text is longer than \(TreeBuilder.maxText / 1024) KiB; a CTF's values are a few words.",
                    line: max(builder.error?.line ?? parser.lineNumber, 1), element: builder.error?.element,
                    hint:
                        "This is not a Common Transfer File as its MIS writes one: export the CTF again from the sending school's MIS."
                )
            }
            // The parser's own message can quote the file's text; give the place only.
            throw CTFError(
                .malformed, "The file is not well-formed XML.",
                line: max(builder.error?.line ?? parser.lineNumber, 1), element: builder.error?.element,
                hint: "Export the CTF again from the sending school's MIS; check it is the whole file.")
        }
        return root
    }

    /// Whether `data` starts as UTF-8 does, as far as libxml2 would judge the encoding: after an
    /// optional UTF-8 byte-order mark, its first four bytes are printable ASCII or white space
    /// (libxml2 guesses UTF-16, UCS-4 and EBCDIC from zero bytes, other byte-order marks and
    /// EBCDIC letters there), and an XML declaration, if it has one, ends within its first 256
    /// bytes and names UTF-8 or no encoding.
    static func startsAsUTF8(_ data: Data) -> Bool {
        var start = ArraySlice(data.prefix(259))
        if start.starts(with: [0xEF, 0xBB, 0xBF]) { start = start.dropFirst(3) }
        guard start.prefix(4).allSatisfy({ (0x20...0x7E).contains($0) || [0x09, 0x0A, 0x0D].contains($0) }) else {
            return false
        }
        guard start.starts(with: Array("<?xml".utf8)) else { return true }
        let bytes = Array(start)
        guard let end = (0..<max(bytes.count - 1, 0)).first(where: { bytes[$0] == 0x3F && bytes[$0 + 1] == 0x3E })
        else {
            return false
        }
        let declaration = String(decoding: bytes[..<end], as: UTF8.self)
        guard let key = declaration.range(of: "encoding") else { return true }
        let rest = declaration[key.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return false }
        return ["utf-8", "utf8"].contains(String(rest.dropFirst().prefix { $0 != quote }).lowercased())
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [XMLNode] = []
        /// The names of the skipped elements open now, outermost first.
        var skipped: [String] = []
        var root: XMLNode?
        /// Where the first error was met: the line, and the element open there.
        var error: (line: Int, element: String?)?
        /// Set when elements were nested deeper than ``maxDepth``: the tree is not built further
        /// (freeing a tree tens of thousands deep overflowed the stack: found by a crafted file).
        var tooDeep = false
        static let maxDepth = 64
        /// Set when a kept element's text passed ``maxText`` bytes.
        var tooLong = false
        static let maxText = 64 << 10

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
        ) {
            // Skipped elements count too: a CTF is a few levels deep whatever it holds.
            guard stack.count + skipped.count < Self.maxDepth else {
                tooDeep = true
                if error == nil { error = (parser.lineNumber, nil) }
                parser.abortParsing()
                return
            }
            // A CTF's elements are in no namespace: one in another is not the CTF's, whatever its
            // name (a root `CTfile` in one was read as a CTF, an `<x:UPN>` as the pupil's UPN).
            let name = (namespaceURI ?? "").isEmpty ? elementName : "{\(namespaceURI ?? "")}\(elementName)"
            guard skipped.isEmpty, stack.isEmpty || CTFDocument.elementsRead.contains(name) else {
                skipped.append(name)
                return
            }
            stack.append(XMLNode(name: name, line: parser.lineNumber))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard skipped.isEmpty, !stack.isEmpty else { return }
            keep(string, parser)
        }

        func parser(_ parser: XMLParser, foundCDATA block: Data) {
            guard skipped.isEmpty, !stack.isEmpty else { return }
            keep(String(decoding: block, as: UTF8.self), parser)
        }

        /// Adds text to the element being kept, up to ``maxText`` bytes: a CTF's values are a few
        /// words, and a 100 MB surname took 333 MB of memory before it was refused.
        private func keep(_ text: String, _ parser: XMLParser) {
            // An element holding others is a container: its text (the white space between them,
            // the whole file's for the root) is no value, and is not kept.
            guard stack[stack.count - 1].children.isEmpty else { return }
            guard stack[stack.count - 1].text.utf8.count + text.utf8.count <= Self.maxText else {
                tooLong = true
                if error == nil { error = (parser.lineNumber, stack.last?.name) }
                parser.abortParsing()
                return
            }
            stack[stack.count - 1].text += text
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
            if error == nil { error = (parser.lineNumber, skipped.last ?? stack.last?.name) }
            parser.abortParsing()
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
        ) {
            guard skipped.popLast() == nil else { return }
            guard let node = stack.popLast() else { return }
            if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
        }
    }
}

extension CTFDocument {
    /// Reads a CTF's header and its pupils' SEN data, checking every value read.
    ///
    /// - Throws: ``CTFError`` naming the line and element of the problem, or, when more than one
    ///   pupil has one, listing each (``CTFError/problems``).
    public init(xml data: Data) throws(CTFError) {
        try self.init(.data(data))
    }

    /// Reads the CTF at `url` as ``init(xml:)`` does, a part at a time: memory follows the SEN
    /// data in it, not the file's size.
    public init(contentsOf url: URL) throws(CTFError) {
        try self.init(.file(url))
    }

    private init(_ source: CTFSource) throws(CTFError) {
        let read = try Self.read(source)
        guard read.problems.isEmpty else { throw CTFError.combining(read.problems, pupils: read.pupilCount) }
        self = read.document
    }

    /// The file's header and every pupil that could be read, and a problem for each that could
    /// not (in file order). Throws only for a file that cannot be read as a CTF at all.
    static func read(_ source: CTFSource) throws(CTFError) -> (
        document: CTFDocument, problems: [CTFError], pupilCount: Int
    ) {
        let root = try XMLNode.parse(source)
        guard root.name == Element.file else {
            throw CTFError(
                .notACTF, "The file's root element is not <\(Element.file)>, so it is not a Common Transfer File.",
                // Its name is the file's text, not a CTF element's: not repeated.
                line: root.line, element: nil, hint: "Check you chose the CTF (an .xml file from the MIS).")
        }
        guard let pupilData = try Self.single(root, Element.pupilData) else {
            throw CTFError(
                .notACTF, "The file has no <\(Element.pupilData)>, so it holds no pupils.", line: root.line,
                element: root.name, hint: "Check you chose the CTF (an .xml file from the MIS).")
        }
        let header = try Self.header(from: root.child(Element.header))
        let nodes = pupilData.children(Element.pupil)
        var pupils: [CTFPupil] = []
        var problems: [CTFError] = []
        var seen: [String: Int] = [:]
        for node in nodes {
            let pupil: CTFPupil
            do { pupil = try Self.pupil(from: node) } catch {
                problems.append(error)
                continue
            }
            if let earlier = seen[pupil.upn] {
                problems.append(
                    CTFError(
                        .invalidValue, "This pupil has the same UPN as the pupil at line \(earlier).", line: node.line,
                        element: Element.pupil,
                        hint: "A CTF lists each pupil once; ask the sending school for a new file."))
                continue
            }
            seen[pupil.upn] = node.line
            pupils.append(pupil)
        }
        return (
            CTFDocument(header: header, pupils: pupils), problems, nodes.count
        )
    }

    /// The header's text, checked as a pupil's is: `ctf import` prints the version.
    private static func header(from node: XMLNode?) throws(CTFError) -> CTFHeader {
        guard let node else { return CTFHeader() }
        func text(_ node: XMLNode?, _ name: String) throws(CTFError) -> String? {
            guard let found = node?.child(name), !found.value.isEmpty else { return nil }
            return try Self.text((found.value, found.line), name, max: 100)
        }
        let source = node.child(Element.sourceSchool)
        let destination = node.child(Element.destSchool)
        return CTFHeader(
            documentName: try text(node, Element.documentName), version: try text(node, Element.version),
            dateTime: try text(node, Element.dateTime), documentQualifier: try text(node, Element.documentQualifier),
            supplierID: try text(node, Element.supplierID), sourceLEA: try text(source, Element.lea),
            sourceEstab: try text(source, Element.estab), sourceURN: try text(source, Element.urn),
            sourceSchoolName: try text(source, Element.schoolName),
            academicYear: try text(source, Element.academicYear), destLEA: try text(destination, Element.lea),
            destEstab: try text(destination, Element.estab), destURN: try text(destination, Element.urn))
    }

    /// The child `name` of `parent`, one a parent has at most once: given twice, one of the two
    /// would be dropped without a word (a second surname, a second SEN history with its needs).
    private static func single(_ parent: XMLNode, _ name: String) throws(CTFError) -> XMLNode? {
        let found = parent.children(name)
        guard found.count > 1 else { return found.first }
        throw CTFError(
            .invalidValue, "Given twice in one <\(parent.name)> (see line \(found[0].line)).", line: found[1].line,
            element: name, hint: "A <\(parent.name)> has one <\(name)>; ask the sending school for a corrected file.")
    }

    /// The element's text, or `nil` when it is absent or empty.
    private static func optional(_ parent: XMLNode, _ name: String) throws(CTFError) -> (value: String, line: Int)? {
        guard let node = try single(parent, name), !node.value.isEmpty else { return nil }
        return (node.value, node.line)
    }

    private static func required(_ parent: XMLNode, _ name: String) throws(CTFError) -> (value: String, line: Int) {
        guard let found = try optional(parent, name) else {
            throw CTFError(
                .invalidValue, "<\(name)> is missing or empty.", line: parent.line, element: parent.name,
                hint: "Every <\(parent.name)> needs a <\(name)>; ask the sending school for a corrected file.")
        }
        return found
    }

    private static func date(_ found: (value: String, line: Int), _ name: String) throws(CTFError) -> CalendarDate {
        guard let date = CalendarDate(found.value) else {
            throw CTFError(
                .invalidValue, "Not a date.", line: found.line, element: name,
                hint: "CTF dates are written YYYY-MM-DD.")
        }
        return date
    }

    private static func text(_ found: (value: String, line: Int)?, _ name: String, max: Int) throws(CTFError)
        -> String?
    {
        guard let found else { return nil }
        guard found.value.count <= max else {
            throw CTFError(
                .invalidValue, "Longer than \(max) characters.", line: found.line, element: name,
                hint: "SENSync keeps at most \(max) characters here; correct it in the sending MIS.")
        }
        // A character reference brings in what every other write refuses (a line break, a C1
        // control, a text-direction override): kept, `pupil show` printed it, and `ctf export`
        // refused the pupil it had imported. One rule with `Check.requirePrintable`; the
        // character is named by its code, never the text.
        if let unsafe = found.value.unicodeScalars.first(where: \.isUnsafeInText) {
            throw CTFError(
                .invalidValue,
                "Holds a character that cannot be recorded (\(String(format: "U+%04X", unsafe.value)), a control character, line break, invisible space or text-direction override).",
                line: found.line, element: name,
                hint: "Ask the sending school to correct it in their MIS and send the file again.")
        }
        return found.value
    }

    static func pupil(from node: XMLNode) throws(CTFError) -> CTFPupil {
        let upnFound = try required(node, Field.upn)
        let upn: UPN
        do { upn = try UPN(upnFound.value) } catch {
            throw CTFError(
                .invalidValue, "Not a valid UPN: \(error.rawValue).", line: upnFound.line, element: Field.upn,
                hint: "Check the UPN in the sending school's MIS.")
        }
        // FormerUPN sits in BasicDetails; some files put it beside UPN.
        var formerUPNs: [String] = []
        for former in node.children(Field.formerUPN)
            + (try single(node, Element.basicDetails)?.children(Field.formerUPN) ?? [])
        where !former.value.isEmpty {
            let value = former.value.uppercased()
            guard value.count == 13, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw CTFError(
                    .invalidValue, "Not a UPN (13 letters and digits).", line: former.line, element: Field.formerUPN,
                    hint: "Check the former UPN in the sending school's MIS.")
            }
            if value != upn.value && !formerUPNs.contains(value) { formerUPNs.append(value) }
        }
        let surname = try text(try optional(node, Field.surname), Field.surname, max: 100)
        let forename = try text(try optional(node, Field.forename), Field.forename, max: 100)
        let dob = try optional(node, Field.dateOfBirth).map { found throws(CTFError) in
            try date(found, Field.dateOfBirth)
        }
        var provision: [CTFProvision] = []
        var needs: [CTFNeed] = []
        if let history = try single(node, Element.senHistory) {
            for sen in history.children(Element.sen) {
                provision.append(try Self.provision(from: sen))
            }
            provision.sort { $0.startDate < $1.startDate }
            var unique: [CTFProvision] = []
            for entry in provision {
                if let same = unique.last(where: { $0.startDate == entry.startDate }) {
                    guard same.provision == entry.provision else {
                        throw CTFError(
                            .invalidValue, "Two SEN provisions start on the same day (see line \(same.line)).",
                            line: entry.line, element: Element.sen,
                            hint: "Ask the sending school which provision applied from that day.")
                    }
                    continue
                }
                unique.append(entry)
            }
            provision = unique
            // A need without dates belongs to the provision the pupil has now.
            let current = provision.last { $0.provision != SENStatus.none.rawValue }?.startDate
            for need in try single(history, Element.senNeeds)?.children(Element.senNeed) ?? [] {
                let read = try Self.need(from: need, defaultStart: current)
                if !needs.contains(where: {
                    $0.need == read.need && $0.rank == read.rank && $0.startDate == read.startDate
                }) {
                    needs.append(read)
                }
            }
            needs.sort { ($0.startDate, $0.rank, $0.need) < ($1.startDate, $1.rank, $1.need) }
            let open = needs.filter { $0.endDate == nil }
            for (i, need) in open.enumerated() {
                if let other = open[..<i].first(where: { $0.rank == need.rank || $0.need == need.need }) {
                    throw CTFError(
                        .invalidValue,
                        other.rank == need.rank
                            ? "Two current needs share rank \(need.rank) (see line \(other.line))."
                            : "The same need is current twice (see line \(other.line)).",
                        line: need.line, element: Element.senNeed,
                        hint: "Give each current need its own rank, or an end date (<\(Field.needEndDate)>).")
                }
            }
        }
        return CTFPupil(
            upn: upn.value, formerUPNs: formerUPNs, surname: surname, forename: forename, dateOfBirth: dob,
            provision: provision, needs: needs, line: node.line)
    }

    private static func provision(from node: XMLNode) throws(CTFError) -> CTFProvision {
        let start = try date(try required(node, Field.startDate), Field.startDate)
        let code = try required(node, Field.provision)
        let wanted = code.value.uppercased()
        if let census = CodeLists.named("census-sen-provision")?.codes.first(where: { $0.code == wanted }) {
            return CTFProvision(startDate: start, provision: census.code, line: node.line)
        }
        if let historic = CodeLists.named("ctf-historic-sen-provision")?.codes.first(where: { $0.code == wanted }),
            let mapped = historic.maps
        {
            return CTFProvision(startDate: start, provision: mapped, historicCode: historic.code, line: node.line)
        }
        throw CTFError(
            .invalidValue, "Not a census SEN provision code.", line: code.line, element: Field.provision,
            hint: "Use E, K or N (or the historic S, A or P, which are mapped).")
    }

    private static func need(from node: XMLNode, defaultStart: CalendarDate?) throws(CTFError) -> CTFNeed {
        let type = try required(node, Field.need)
        guard let code = CodeLists.named("census-sen-type")?.codes.first(where: { $0.code == type.value.uppercased() })
        else {
            throw CTFError(
                .invalidValue, "Not a census SEN type.", line: type.line, element: Field.need,
                hint: "Use one of: \(CodeLists.named("census-sen-type")?.codeSummary ?? "the census SEN types").")
        }
        let rankFound = try required(node, Field.rank)
        guard case .integer(let range) = SENNeedRecord.Field.rank.definition.rule, let rank = Int64(rankFound.value),
            range.contains(rank)
        else {
            throw CTFError(
                .invalidValue, "Not a rank SENSync keeps.", line: rankFound.line, element: Field.rank,
                hint: "Ranks are whole numbers from 1 (the primary need) to 9.")
        }
        let start = try optional(node, Field.needStartDate).map { found throws(CTFError) in
            try date(found, Field.needStartDate)
        }
        let end = try optional(node, Field.needEndDate).map { found throws(CTFError) in
            try date(found, Field.needEndDate)
        }
        guard let startDate = start ?? defaultStart else {
            throw CTFError(
                .invalidValue,
                "The need has no <\(Field.needStartDate)>, and the pupil has no E or K provision to date it from.",
                line: node.line, element: Element.senNeed,
                hint: "Ask the sending school for the need's start date or the pupil's SEN provision.")
        }
        let need = CTFNeed(need: code.code, rank: Int(rank), startDate: startDate, endDate: end, line: node.line)
        var values = KindValues([
            SENNeedRecord.Field.need.rawValue: .text(need.need),
            SENNeedRecord.Field.startDate.rawValue: .text(startDate.description),
        ])
        if let end { values[SENNeedRecord.Field.endDate.rawValue] = .text(end.description) }
        do { try SENNeedRecord.check(values) } catch {
            throw CTFError(.invalidValue, error.message, line: node.line, element: Element.senNeed, hint: error.hint)
        }
        return need
    }
}

// MARK: - Writing

extension CTFDocument {
    /// The document as CTF XML (UTF-8, indented), written with FoundationXML's `XMLDocument` so
    /// every value is escaped. Elements without a value are left out.
    public func xmlData() -> Data {
        func element(_ name: String, _ value: String?) -> XMLElement? {
            value.map { XMLElement(name: name, stringValue: $0) }
        }
        func container(_ name: String, _ children: [XMLElement?]) -> XMLElement {
            let element = XMLElement(name: name)
            for child in children.compactMap({ $0 }) { element.addChild(child) }
            return element
        }
        let source = [
            element(Element.lea, header.sourceLEA), element(Element.estab, header.sourceEstab),
            element(Element.urn, header.sourceURN), element(Element.schoolName, header.sourceSchoolName),
            element(Element.academicYear, header.academicYear),
        ]
        let headerElement = container(
            Element.header,
            [
                element(Element.documentName, header.documentName), element(Element.version, header.version),
                element(Element.dateTime, header.dateTime),
                element(Element.documentQualifier, header.documentQualifier),
                element(Element.supplierID, header.supplierID),
                source.contains { $0 != nil } ? container(Element.sourceSchool, source) : nil,
            ])
        let pupilElements = pupils.map { pupil in
            var history: [XMLElement] = pupil.provision.map { entry in
                container(
                    Element.sen,
                    [
                        element(Field.startDate, entry.startDate.description),
                        element(Field.provision, entry.provision),
                    ])
            }
            if !pupil.needs.isEmpty {
                history.append(
                    container(
                        Element.senNeeds,
                        pupil.needs.map { need in
                            container(
                                Element.senNeed,
                                [
                                    element(Field.need, need.need), element(Field.rank, String(need.rank)),
                                    element(Field.needStartDate, need.startDate.description),
                                    element(Field.needEndDate, need.endDate?.description),
                                ])
                        }))
            }
            return container(
                Element.pupil,
                [
                    element(Field.upn, pupil.upn), element(Field.surname, pupil.surname),
                    element(Field.forename, pupil.forename),
                    element(Field.dateOfBirth, pupil.dateOfBirth?.description),
                    pupil.formerUPNs.isEmpty
                        ? nil
                        : container(Element.basicDetails, pupil.formerUPNs.map { element(Field.formerUPN, $0) }),
                    history.isEmpty ? nil : container(Element.senHistory, history),
                ])
        }
        let root = container(Element.file, [headerElement, container(Element.pupilData, pupilElements)])
        // The declaration is written here so it reads the same on every platform (libxml2 and
        // Apple's writer spell the encoding and `standalone` differently).
        return Data(
            ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root.xmlString(options: [.nodePrettyPrint]) + "\n").utf8)
    }
}

// MARK: - Reading in parts

/// Where a CTF's bytes come from: memory, or a file read in parts (a CTF is mostly what SENSync
/// does not keep, so a large one is never held whole).
enum CTFSource {
    case data(Data)
    case file(URL)

    /// How much of a file is read at a time.
    static let partSize = 1 << 16

    static let unreadable = CTFError(
        .malformed, "The file could not be read.", line: nil, element: nil,
        hint: "Check the path and that you can read the file.")

    /// Calls `body` with each part of the bytes in order.
    func forEachPart(_ body: (UnsafeRawBufferPointer) -> Void) throws(CTFError) {
        switch self {
        case .data(let data): data.withUnsafeBytes(body)
        case .file(let url):
            do {
                let handle = try FileHandle(forReadingFrom: url)
                defer { try? handle.close() }
                while let part = try handle.read(upToCount: Self.partSize), !part.isEmpty {
                    part.withUnsafeBytes(body)
                }
            } catch { throw Self.unreadable }
        }
    }

    func stream() throws(CTFError) -> InputStream {
        switch self {
        case .data(let data): return InputStream(data: data)
        case .file(let url):
            guard let stream = InputStream(url: url) else { throw Self.unreadable }
            return stream
        }
    }
}

/// Finds, a part at a time, the line of the first `<!DOCTYPE`, `<!ENTITY` or processing
/// instruction with no data (`<?name?>`: after `<?`, a `?` before any white space or `>`), inside
/// a comment too (a CTF has none of them).
/// A `<?` is judged on the line it starts on (a line break ends it), and the two `<!` words are
/// judged by the last nine bytes read, so markup split across two parts is found as in one.
struct UnusedMarkupScanner {
    private(set) var found: Int?
    /// The line of a start tag with more than ``maxAttributes`` attributes: libxml2 checks each
    /// attribute's name against every other, so 600,000 of them took minutes; a CTF's elements
    /// have at most a few.
    private(set) var tooManyAttributes: Int?
    static let maxAttributes = 64
    private var line = 1
    /// Inside a start tag (after `<` and a name's first character, up to `>`): the attributes seen
    /// (their `=` outside quotes) and the quote a value is in, if any.
    private var inStartTag = false
    private var attributes = 0
    private var quote: UInt8?
    /// The last eight bytes read, the latest in the low byte, and the one read before them.
    private var last8: UInt64 = 0
    private var ninth: UInt8 = 0
    /// The line of a `<?` whose name is being read, if one is.
    private var instruction: Int?

    private static func word(_ text: String) -> UInt64 { text.utf8.reduce(0) { $0 << 8 | UInt64($1) } }
    private static let doctype = word("!DOCTYPE")
    private static let entity = word("<!ENTITY")

    mutating func scan(_ bytes: UnsafeRawBufferPointer) {
        guard found == nil, tooManyAttributes == nil else { return }
        for byte in bytes {
            let afterLessThan = last8 & 0xFF == UInt64(UInt8(ascii: "<"))
            if inStartTag {
                if let open = quote {
                    if byte == open { quote = nil }
                } else {
                    switch byte {
                    case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = byte
                    case UInt8(ascii: ">"): inStartTag = false
                    case UInt8(ascii: "="):
                        attributes += 1
                        if attributes > Self.maxAttributes {
                            tooManyAttributes = line
                            return
                        }
                    default: break
                    }
                }
            } else if afterLessThan, ![UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "?")].contains(byte) {
                inStartTag = true
                attributes = 0
                quote = nil
            }
            ninth = UInt8(truncatingIfNeeded: last8 >> 56)
            last8 = last8 << 8 | UInt64(byte)
            if let start = instruction {
                switch byte {
                case UInt8(ascii: "?"):
                    found = start
                    return
                case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ">"): instruction = nil
                default: break
                }
            } else if afterLessThan, byte == UInt8(ascii: "?") {
                instruction = line
            }
            if last8 == Self.entity || (last8 == Self.doctype && ninth == UInt8(ascii: "<")) {
                found = line
                return
            }
            if byte == 0x0A { line += 1 }
        }
    }
}
