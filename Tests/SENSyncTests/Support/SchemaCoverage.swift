import Foundation

@testable import SENSync

/// What the multi-replica property suites create and edit, derived from the declared kinds: every
/// kind that can be changed (not pupils, enrolments, notes or erasures, which have their own
/// steps) is created, and edited concurrently on two of its own fields.
enum SchemaCoverage {
    static let ownSteps: Set<String> = ["pupil", "enrolment", "note", "erasure"]

    static var creatableKinds: [String] {
        RecordSchema.kinds.filter {
            !$0.isAppendOnly && !ownSteps.contains($0.name) && $0.name != "support_plan" && $0.name != "provision_item"
        }
        .map(\.name)
    }

    /// Two fields per kind, skipping references (they name other records): few fields, so
    /// concurrent edits collide often.
    static var editableFields: [String: [FieldSpec]] {
        var map: [String: [FieldSpec]] = [:]
        for kind in RecordSchema.kinds where creatableKinds.contains(kind.name) {
            let fields = kind.fields.filter {
                if case .reference = $0.rule { return false }
                return true
            }
            map[kind.name] = fields.prefix(2).map { FieldSpec($0.name, $0.rule.wireType) }
        }
        return map
    }
}
