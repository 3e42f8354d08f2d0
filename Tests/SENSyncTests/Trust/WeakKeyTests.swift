import Foundation
import Testing

@testable import SENSync

/// An identity file whose keys are points of small order: an all-zero X25519 key makes every
/// section sealed to the site readable by anyone (the shared secret is zero whatever the sender's
/// key), and an Ed25519 key of small order lets anyone sign as the site (the identity point
/// verifies a signature of R = identity, S = 0 over any message). Both were accepted by
/// `directory add`; now the file is refused, as a file whose keys no site could have made.
struct WeakKeyTests {
    static func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map {
            UInt8(text.dropFirst($0).prefix(2), radix: 16)!
        }
    }

    /// Small-order Ed25519 encodings (the identity, the points of order 2, 4 and 8, and the
    /// same with the sign bit set or y at or above p), as libsodium's blocklist lists them.
    static let weakSigning = [
        String(repeating: "00", count: 32),
        "01" + String(repeating: "00", count: 31),
        "01" + String(repeating: "00", count: 30) + "80",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + String(repeating: "ff", count: 30) + "7f",
        "ed" + String(repeating: "ff", count: 30) + "7f",
        "ee" + String(repeating: "ff", count: 30) + "ff",
    ]

    /// Small-order X25519 u-coordinates (0, 1, the points of order 8, p − 1, p, p + 1).
    static let weakAgreement = [
        String(repeating: "00", count: 32),
        "01" + String(repeating: "00", count: 31),
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ec" + String(repeating: "ff", count: 30) + "7f",
        "ed" + String(repeating: "ff", count: 30) + "7f",
        "ee" + String(repeating: "ff", count: 30) + "7f",
    ]

    func identityFile(signing: [UInt8], agreement: [UInt8]) throws -> Data {
        let site = SiteIdentity(id: .v7(), name: "Rogue Primary", kind: .maintainedSchool, urn: "100009")
        return try PublicIdentity(site: site, keys: PublicKeys(signing: signing, agreement: agreement)).fileContents()
    }

    @Test func anIdentityWhoseKeysAreOfSmallOrderIsRefused() throws {
        let good = SiteKeys.generate().publicKeys
        // A well-made identity reads back.
        _ = try PublicIdentity(fileContents: try identityFile(signing: good.signing, agreement: good.agreement))
        for weak in Self.weakSigning {
            let error = #expect(throws: SecurityError.self, "signing \(weak)") {
                _ = try PublicIdentity(
                    fileContents: try identityFile(signing: Self.hex(weak), agreement: good.agreement))
            }
            #expect(error?.code == .identityInvalid)
            #expect(error?.message.contains("weak") == true, "\(error?.message ?? "")")
        }
        for weak in Self.weakAgreement {
            let error = #expect(throws: SecurityError.self, "agreement \(weak)") {
                _ = try PublicIdentity(fileContents: try identityFile(signing: good.signing, agreement: Self.hex(weak)))
            }
            #expect(error?.code == .identityInvalid)
        }
    }
}
