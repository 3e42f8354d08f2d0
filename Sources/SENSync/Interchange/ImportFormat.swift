import Foundation

/// What `sensync import` reads from a school's MIS export: which record kinds, and the name each
/// field has as a CSV column heading and as a JSON Lines key.
///
/// Everything here derives from the kinds' declarations (`Model/Kinds/`): a field's CSV heading is
/// its MIS name (`csv:`) where it has one, else its census or CTF name, else its label; its JSON
/// key is ``FieldDefinition/jsonKey``. `Schemas/import/` documents the result and a test pins it.
public enum ImportFormat {
    /// The `format` a JSON Lines file may name on an optional first line.
    public static let formatName = "sensync-import"
    /// The version of the formats described here.
    public static let version = 1

    /// The kinds a file may carry, in the order a pupil's rows are best given (parents first).
    public static let kinds: [KindSpec] = [
        Pupil.spec, Enrolment.spec, SENEpisode.spec, SENNeedRecord.spec, Concern.spec, SupportPlan.spec,
        ProvisionItem.spec, Referral.spec,
    ]

    /// The importable kind `name` names: its table name, noun or plural, in any case, with
    /// spaces, dashes or underscores (`sen_need`, `needs`, `SEN needs` are one kind).
    public static func kind(named name: String) -> KindSpec? {
        let wanted = normalized(name)
        return kinds.first { kind in
            [kind.name, kind.noun, kind.plural].contains { normalized($0) == wanted }
                || normalized(kind.name + "s") == wanted
        }
    }

    /// The heading of the column holding the source's own id for a record.
    public static let idHeading = "ID"
    /// The JSON key of the source's own id.
    public static let idKey = "id"
    /// The JSON key naming the kind of the record on a line.
    public static let kindKey = "kind"
    /// The heading (and JSON key, `upn`) that says which pupil a row is about.
    public static let upnHeading = "UPN"

    /// One field a file may give for a kind.
    public struct Column: Sendable {
        /// The field, as the kind declares it.
        public let field: FieldDefinition
        /// Its CSV column heading.
        public let heading: String
        /// Its key in a JSON Lines object.
        public let key: String
        /// For a reference to another imported record (a provision item's plan): that kind. The
        /// file gives the source's id of that record.
        public let references: KindSpec?
        /// Set for the pupil's entry date at this school (a pupil row's `EntryDate`): not a field
        /// of the pupil but of the enrolment a new pupil gets here.
        public let isEntryDate: Bool

        /// Whether a file heading (or key) names this column: case, spaces and punctuation aside,
        /// the heading, the key, the field's name or its label.
        public func matches(_ heading: String) -> Bool {
            let wanted = ImportFormat.normalized(heading)
            return [self.heading, key, field.name, field.label].contains { ImportFormat.normalized($0) == wanted }
        }
    }

    /// The columns a file may give for `kind`, in declaration order. The UPN (which pupil) and the
    /// source's id are not among them: every kind has those.
    public static func columns(of kind: KindSpec) -> [Column] {
        var columns: [Column] = []
        for field in kind.fields {
            var referenced: KindSpec?
            if case .reference(let table) = field.rule {
                // Only references to a kind a file can carry can be given (by the source's id).
                guard let target = kinds.first(where: { $0.name == table }) else { continue }
                referenced = target
            }
            let importable =
                !field.isSystem
                || (kind.name == Enrolment.name && field.name != Enrolment.Field.schoolID.rawValue)
            guard importable else { continue }
            if kind.name == Pupil.name && field.name == Pupil.Field.upn.rawValue { continue }
            let key = referenced != nil && !field.jsonKey.hasSuffix("Id") ? field.jsonKey + "Id" : field.jsonKey
            let heading =
                referenced.map { "\($0.noun.capitalized) ID" }
                ?? field.interchange.csv ?? field.interchange.census ?? field.interchange.ctf ?? field.label
            columns.append(
                Column(field: field, heading: heading, key: key, references: referenced, isEntryDate: false))
        }
        if kind.name == Pupil.name, let entry = Enrolment.spec.field(Enrolment.Field.entryDate.rawValue) {
            columns.append(
                Column(
                    field: entry, heading: entry.interchange.ctf ?? entry.label, key: entry.jsonKey, references: nil,
                    isEntryDate: true))
        }
        return columns
    }

    /// Lower case, letters and digits only: how headings and kind names are compared.
    static func normalized(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }
}
