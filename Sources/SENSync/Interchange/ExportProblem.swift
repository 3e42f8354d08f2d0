import Foundation
import GRDB

/// A pupil's records that stop an export: what rule they break and what to do, naming the pupil by
/// record id only (never by name or UPN), so the message can be shown, pasted or logged.
///
/// An export with any problem is refused as a whole: a return filed with a wrong or missing row is
/// worse than one filed a day later, and the people who run it (SENCOs, LA officers) fix the records
/// and run it again.
public struct ExportProblem: Sendable, Hashable, CustomStringConvertible {
    /// The pupil whose records break the rule.
    public var pupil: RecordID
    /// What is wrong, in words the person fixing it can act on.
    public var message: String
    /// What to do next.
    public var hint: String?

    public init(pupil: RecordID, _ message: String, hint: String? = nil) {
        self.pupil = pupil
        self.message = message
        self.hint = hint
    }

    init(pupil: RecordID, _ violation: RecordRuleViolation) {
        self.init(pupil: pupil, violation.message, hint: violation.hint)
    }

    /// `pupil ID: message hint`, one line.
    public var description: String { "pupil \(pupil): \(message)\(hint.map { " \($0)" } ?? "")" }
}

extension KindField {
    /// The field's name in the school census (its declaration's `census:`).
    var censusName: String { definition.interchange.census ?? rawValue }
    /// The field's name in the SEN2 return (its declaration's `sen2:`).
    var sen2Name: String { definition.interchange.sen2 ?? rawValue }
}

extension KindRecord {
    /// Whether a dated record applies on `day`: it started on or before `day` and has not ended by
    /// then. An end date is the first day the record no longer applies (a provision episode ends on
    /// the day the next one starts; an enrolment ends on the day the pupil starts at the next
    /// school).
    func applies<F: KindField>(on day: CalendarDate, from start: F, to end: F) -> Bool {
        guard let started = values.date(start), started <= day else { return false }
        return values.date(end).map { $0 > day } ?? true
    }
}

extension Store {
    /// Every pupil's file with the kinds an export reads, the pupil's own record included.
    func exportFiles(kinds: Set<String>, in db: Database) throws -> [PupilFile] {
        try pupilFiles(kinds: kinds.union([Pupil.name]), in: db)
    }
}
