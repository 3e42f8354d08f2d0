import Foundation

/// A site's public identity, as exported for the directory: who it is and its public keys.
///
/// Written by `sensync identity export` and confirmed out of band by its ``fingerprint``.
public struct PublicIdentity: Hashable, Sendable {
    public var site: SiteIdentity
    public var keys: PublicKeys

    public init(site: SiteIdentity, keys: PublicKeys) {
        self.site = site
        self.keys = keys
    }

    /// Binary form, also what the fingerprint and the directory signature cover.
    func encode(into w: inout BinaryWriter) {
        w.write(contentsOf: site.id.bytes)
        w.writeString(site.kind.rawValue)
        w.writeString(site.name)
        w.writeString(site.urn ?? "")
        w.writeString(site.laCode ?? "")
        w.write(contentsOf: keys.signing)
        w.write(contentsOf: keys.agreement)
    }

    static func decode(from r: inout BinaryReader) throws(DecodingFailure) -> PublicIdentity {
        let id = SiteID(unchecked: Array(try r.readBytes(16)))
        guard let kind = SiteKind(rawValue: try r.readString(limit: 64)) else {
            throw DecodingFailure("unknown site kind")
        }
        let name = try r.readString(limit: 1024)
        let urn = try r.readString(limit: 64)
        let la = try r.readString(limit: 64)
        let signing = Array(try r.readBytes(32))
        let agreement = Array(try r.readBytes(32))
        return PublicIdentity(
            site: SiteIdentity(
                id: id, name: name, kind: kind, urn: urn.isEmpty ? nil : urn, laCode: la.isEmpty ? nil : la),
            keys: PublicKeys(signing: signing, agreement: agreement))
    }

    /// SHA-256 of the identity, shown as ten groups of four hex digits for reading aloud.
    public var fingerprint: String {
        var w = BinaryWriter()
        w.write(contentsOf: Array("SENSync identity v1\u{0}".utf8))
        encode(into: &w)
        let hex = Digest32.sha256(w.bytes).hex.uppercased()
        return stride(from: 0, to: 40, by: 4).map { i in
            String(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 4)])
        }.joined(separator: " ")
    }

    // MARK: File form

    private struct FileForm: Codable {
        var format: String
        var id: String
        var name: String
        var kind: String
        var urn: String?
        var laCode: String?
        var signingKey: String
        var agreementKey: String
        var fingerprint: String?
    }

    /// The identity file's JSON.
    public func fileContents() throws -> Data {
        let form = FileForm(
            format: "sensync-identity/1", id: site.id.description, name: site.name, kind: site.kind.rawValue,
            urn: site.urn,
            laCode: site.laCode, signingKey: Data(keys.signing).base64EncodedString(),
            agreementKey: Data(keys.agreement).base64EncodedString(), fingerprint: fingerprint)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(form)
    }

    /// Reads an identity file.
    public init(fileContents data: Data) throws {
        guard let form = try? JSONDecoder().decode(FileForm.self, from: data), form.format == "sensync-identity/1",
            let id = SiteID(form.id), let kind = SiteKind(rawValue: form.kind),
            let signing = Data(base64Encoded: form.signingKey), signing.count == 32,
            let agreement = Data(base64Encoded: form.agreementKey), agreement.count == 32
        else {
            throw SecurityError(
                .identityInvalid, "This is not a SENSync identity file.",
                hint: "Ask the site to run `sensync identity export` again.")
        }
        self.init(
            site: SiteIdentity(id: id, name: form.name, kind: kind, urn: form.urn, laCode: form.laCode),
            keys: PublicKeys(signing: Array(signing), agreement: Array(agreement)))
        guard keys.isStrong else {
            throw SecurityError(
                .identityInvalid,
                "This identity file's keys are weak (points of small order), so no site could have made them.",
                hint: "Ask the site to run `sensync identity export` again from its own store.")
        }
        if let claimed = form.fingerprint, claimed != fingerprint {
            throw SecurityError(
                .identityInvalid, "The identity file's fingerprint does not match its contents.",
                hint: "The file was altered; ask for it again.")
        }
    }
}
