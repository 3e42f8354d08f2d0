import Foundation

// What people read names a site by the name its reader's store knows for it; the id is only for
// a site it knows no name for (and for JSON, where ids are what scripts match on).

extension SiteID {
    /// The site's name as `name` gives it, else "site" and its id.
    public func named(by name: (SiteID) -> String?) -> String {
        name(self) ?? "site \(self)"
    }
}

extension Dot {
    /// "change 6 of Oakfield Primary", or "change 6 of site …" (its id) where `name` knows no name.
    public func described(naming name: (SiteID) -> String?) -> String {
        "change \(seq) of \(site.named(by: name))"
    }
}

extension String {
    /// The string with its first character upper-cased, to start a sentence.
    var capitalizingFirst: String { prefix(1).uppercased() + dropFirst() }
}
