import Foundation

/// One enrolment of a pupil, as scope rules see it.
public struct EnrolmentFact: Hashable, Sendable {
    public var school: SiteID
    public var entryDate: String?
    public var leavingDate: String?
    public var isDeleted: Bool

    public init(school: SiteID, entryDate: String?, leavingDate: String?, isDeleted: Bool = false) {
        self.school = school
        self.entryDate = entryDate
        self.leavingDate = leavingDate
        self.isDeleted = isDeleted
    }

    /// Current on `today`: not deleted and not yet left. An enrolment that starts in the future
    /// already counts, so the new school has the history before the pupil arrives.
    public func isCurrent(on today: CalendarDate) -> Bool {
        guard !isDeleted else { return false }
        guard let leaving = leavingDate.flatMap(CalendarDate.init) else { return true }
        return leaving > today
    }
}

/// Who may see which pupil. The only place these rules live.
///
/// - The LA sees every pupil in its area.
/// - A school (maintained or academy) sees the pupils currently enrolled with it.
/// - A trust sees the pupils currently enrolled at its academies (trust membership comes from the
///   LA's signed directory).
/// - A pupil who moves school: the new school sees their whole history; the old school stops
///   receiving anything about them, and forgets them once the LA holds everything it had.
///
/// Relays apply the same rules for the site they are sending to, so forwarding never widens
/// anyone's view.
public enum ScopePolicy {
    /// Whether `site` may see a pupil with these enrolments.
    public static func isEntitled(
        _ site: SiteIdentity, enrolments: [EnrolmentFact], directory: AreaDirectory?, today: CalendarDate
    ) -> Bool {
        switch site.kind {
        case .la:
            return true
        case .maintainedSchool, .academy:
            return enrolments.contains { $0.school == site.id && $0.isCurrent(on: today) }
        case .trust:
            guard let directory else { return false }
            return enrolments.contains { $0.isCurrent(on: today) && directory.entry($0.school)?.trust == site.id }
        }
    }

    /// Whether `origin` was entitled to write about a pupil, judged only from the change: the
    /// schools the pupil had been enrolled at in its causal past (or that it enrols the pupil at
    /// itself), `schoolsSeen`, and trust membership at the directory version its author held. A
    /// change from a site that was not is rejected on apply, the same at every store.
    public static func couldHaveBeenEntitled(
        _ origin: SiteIdentity, schoolsSeen: Set<SiteID>, directory: AreaDirectory?, atVersion version: UInt64
    ) -> Bool {
        switch origin.kind {
        case .la:
            return true
        case .maintainedSchool, .academy:
            return schoolsSeen.contains(origin.id)
        case .trust:
            guard let directory else { return false }
            return schoolsSeen.contains { directory.entry($0)?.trust(atVersion: version) == origin.id }
        }
    }

    /// Whether `site` is the school of an enrolment (or, for a trust, the trust of the academy).
    /// Such a site receives the change that ends that enrolment, so it learns the pupil has left
    /// and can forget them, though it no longer sees anything else about them.
    public static func isParty(_ site: SiteIdentity, toEnrolmentAt school: SiteID, directory: AreaDirectory?) -> Bool {
        switch site.kind {
        case .la: return true
        case .maintainedSchool, .academy: return school == site.id
        case .trust: return directory?.entry(school)?.trust == site.id
        }
    }

    /// Whether `site` must receive a pupil's erasure: every site that may ever have held the pupil
    /// (the LA, each school they were ever enrolled at, and every trust those schools were ever in).
    public static func receivesErasure(_ site: SiteIdentity, schoolsEver: Set<SiteID>, directory: AreaDirectory?)
        -> Bool
    {
        switch site.kind {
        case .la: return true
        case .maintainedSchool, .academy: return schoolsEver.contains(site.id)
        case .trust:
            return schoolsEver.contains { school in
                directory?.entry(school)?.memberships.contains { $0.trust == site.id } ?? false
            }
        }
    }

    /// Whether `sender` may pass on a change of `origin` about a pupil. Every change is checked
    /// against its origin's signature wherever it comes from; this rule limits which pupils a site
    /// can push anyone's changes about. The origin, the LA and the origin's trust (which relays
    /// everything its academies make) may carry any change; any other site only changes about a
    /// pupil it has had: one enrolled at it, or (for a trust) at an academy that was ever in it
    /// (`schoolsEver`: every enrolment of the pupil the receiver knows of).
    public static func mayCarry(
        _ sender: SiteIdentity, changeFrom origin: SiteID, schoolsEver: Set<SiteID>, directory: AreaDirectory?
    ) -> Bool {
        if sender.id == origin { return true }
        if sender.kind == .trust,
            directory?.entry(origin)?.memberships.contains(where: { $0.trust == sender.id }) == true
        {
            return true
        }
        return receivesErasure(sender, schoolsEver: schoolsEver, directory: directory)
    }
}
