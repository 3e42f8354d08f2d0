import Foundation

/// A pupil as the store currently sees them.
public struct PupilRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var upn: String?
    public var forename: String?
    public var surname: String?
    public var dateOfBirth: String?
    public var yearGroup: Int?
    public var senStatus: String?
    /// Need codes by rank.
    public var senNeeds: [String]
    /// Current enrolments' school site ids.
    public var schools: [SiteID]
    public var isDeleted: Bool
    /// UPNs this pupil had before (a temporary UPN replaced, a correction).
    public var formerUPNs: [String] = []

    /// "Surname, Forename".
    public var displayName: String { "\(surname ?? "?"), \(forename ?? "?")" }
}

/// A pupil's enrolment at a school.
public struct EnrolmentRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var pupilID: RecordID
    public var schoolID: SiteID?
    public var entryDate: String?
    public var leavingDate: String?
}

/// An early-identification note. Notes are never changed; a correction amends an earlier note.
public struct NoteRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var pupilID: RecordID
    public var text: String
    public var area: String?
    public var amendsNoteID: RecordID?
    public var recordedAt: String?
    public var recordedBy: String?
}

/// A support plan (assess–plan–do–review) with its outcomes, provision and reviews.
public struct SupportPlanRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var pupilID: RecordID
    public var title: String?
    public var status: String?
    public var startDate: String?
    public var reviewDate: String?
    public var responsibleOrg: String?
    public var responsiblePerson: String?
    public var outcomes: [OutcomeRecord]
    public var provision: [ProvisionRecord]
    public var reviews: [ReviewRecord]
}

/// An outcome sought by a plan.
public struct OutcomeRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var description: String?
    public var targetDate: String?
    public var status: String?
}

/// A provision item: what is delivered, by whom, how often, at what cost, and who is responsible.
public struct ProvisionRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var description: String?
    public var provider: String?
    public var frequency: String?
    public var responsibleOrg: String?
    public var responsiblePerson: String?
    public var costPence: Int64?
}

/// A plan review.
public struct ReviewRecord: Hashable, Sendable, Codable {
    public var id: RecordID
    public var heldOn: String?
    public var summary: String?
    public var decision: String?
    public var nextReviewDate: String?
}

/// What a new pupil record needs.
public struct NewPupil: Sendable {
    public var upn: String
    public var forename: String
    public var surname: String
    public var dateOfBirth: String
    public var yearGroup: Int?
    /// The school to enrol the pupil at. Defaults to this site when it is a school.
    public var school: SiteID?
    /// The enrolment's entry date. Defaults to today.
    public var entryDate: String?

    public init(
        upn: String, forename: String, surname: String, dateOfBirth: String, yearGroup: Int? = nil,
        school: SiteID? = nil, entryDate: String? = nil
    ) {
        self.upn = upn
        self.forename = forename
        self.surname = surname
        self.dateOfBirth = dateOfBirth
        self.yearGroup = yearGroup
        self.school = school
        self.entryDate = entryDate
    }
}

/// Fields to change on a pupil; `nil` leaves a field as it is.
public struct PupilUpdate: Sendable {
    public var upn: String?
    public var forename: String?
    public var surname: String?
    public var dateOfBirth: String?
    public var yearGroup: Int?
    public var senStatus: String?
    /// Comma-separated need codes by rank.
    public var senNeeds: String?

    public init(
        upn: String? = nil, forename: String? = nil, surname: String? = nil, dateOfBirth: String? = nil,
        yearGroup: Int? = nil, senStatus: String? = nil, senNeeds: String? = nil
    ) {
        self.upn = upn
        self.forename = forename
        self.surname = surname
        self.dateOfBirth = dateOfBirth
        self.yearGroup = yearGroup
        self.senStatus = senStatus
        self.senNeeds = senNeeds
    }

    public var isEmpty: Bool {
        [upn, forename, surname, dateOfBirth, senStatus, senNeeds].allSatisfy { $0 == nil } && yearGroup == nil
    }
}

/// What a new support plan needs.
public struct NewSupportPlan: Sendable {
    public var title: String
    public var startDate: String?
    public var reviewDate: String
    public var responsibleOrg: String?
    public var responsiblePerson: String?
    public var status: String

    public init(
        title: String, startDate: String? = nil, reviewDate: String, responsibleOrg: String? = nil,
        responsiblePerson: String? = nil, status: String = "active"
    ) {
        self.title = title
        self.startDate = startDate
        self.reviewDate = reviewDate
        self.responsibleOrg = responsibleOrg
        self.responsiblePerson = responsiblePerson
        self.status = status
    }
}

/// A provision item to add to a plan.
public struct NewProvision: Sendable {
    public var description: String
    public var provider: String?
    public var frequency: String?
    public var responsibleOrg: String?
    public var responsiblePerson: String?
    public var costPence: Int64?

    public init(
        description: String, provider: String? = nil, frequency: String? = nil, responsibleOrg: String? = nil,
        responsiblePerson: String? = nil, costPence: Int64? = nil
    ) {
        self.description = description
        self.provider = provider
        self.frequency = frequency
        self.responsibleOrg = responsibleOrg
        self.responsiblePerson = responsiblePerson
        self.costPence = costPence
    }
}

/// A review of a plan.
public struct NewReview: Sendable {
    public var heldOn: String
    public var summary: String
    public var decision: PlanDecision
    public var nextReviewDate: String?

    public init(heldOn: String, summary: String, decision: PlanDecision, nextReviewDate: String? = nil) {
        self.heldOn = heldOn
        self.summary = summary
        self.decision = decision
        self.nextReviewDate = nextReviewDate
    }
}

/// What a review decided.
public enum PlanDecision: String, Sendable, Codable, CaseIterable {
    case `continue`
    case modify
    /// Request an EHC needs assessment.
    case escalate
    /// Close the plan (support no longer needed).
    case close
}

/// Plan statuses.
public enum PlanStatus: String, Sendable, Codable, CaseIterable {
    case draft, active
    case review = "under-review"
    case closed
}

/// Where an early-identification note's concern lies.
public enum NoteArea: String, Sendable, Codable, CaseIterable {
    case communicationInteraction = "communication-interaction"
    case cognitionLearning = "cognition-learning"
    case semh
    case sensoryPhysical = "sensory-physical"
    case general
}
