import Testing

@testable import SENSync

/// The census SEN status and need rules (`reference/sen-domain.md` §7.9–7.10, §7.14).
struct SENProfileTests {
    @Test(arguments: SENNeed.allCases)
    func everyNeedIsAPrimaryNeedForSENSupport(_ need: SENNeed) throws {
        let profile = try SENProfile(status: "K", needs: need.rawValue)
        #expect(profile.status == .senSupport)
        #expect(profile.needs == [need])
        #expect(profile.needsField == need.rawValue)
    }

    @Test(arguments: SENNeed.allCases)
    func everyNeedButNSAIsValidWithAnEHCPlan(_ need: SENNeed) throws {
        if need == .nsa {
            #expect(throws: SENProfile.Problem.nsaWithEHCPlan) { try SENProfile(status: "E", needs: need.rawValue) }
        } else {
            #expect(try SENProfile(status: "E", needs: need.rawValue).needs == [need])
        }
    }

    @Test func codeListsMatchTheCensus() {
        #expect(Set(SENStatus.allCases.map(\.rawValue)) == ["E", "K", "N"])
        #expect(
            Set(SENNeed.allCases.map(\.rawValue))
                == ["SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA", "DS"])
    }

    @Test(arguments: [
        (SENNeed.slcn, BroadArea.communicationAndInteraction), (.asd, .communicationAndInteraction),
        (.spld, .cognitionAndLearning), (.mld, .cognitionAndLearning), (.sld, .cognitionAndLearning),
        (.pmld, .cognitionAndLearning), (.semh, .socialEmotionalMentalHealth), (.hi, .sensoryPhysical),
        (.vi, .sensoryPhysical), (.msi, .sensoryPhysical), (.pd, .sensoryPhysical),
    ])
    func broadAreas(_ need: SENNeed, _ area: BroadArea) {
        #expect(need.broadArea == area)
    }

    @Test func needsWithoutABroadArea() {
        #expect(SENNeed.oth.broadArea == nil)
        #expect(SENNeed.nsa.broadArea == nil)
        #expect(SENNeed.ds.broadArea == nil)
    }

    @Test func rankedNeedsKeepTheirOrder() throws {
        let profile = try SENProfile(status: "e", needs: " slcn, ASD ,semh,")
        #expect(profile.status == .ehcPlan)
        #expect(profile.needs == [.slcn, .asd, .semh])
        #expect(profile.needsField == "SLCN,ASD,SEMH")
    }

    @Test func noSENHasNoNeeds() throws {
        let profile = try SENProfile(status: "N", needs: "")
        #expect(profile.status == SENStatus.none)
        #expect(profile.needs.isEmpty)
        #expect(profile.needsField == "")
    }

    @Test(arguments: [
        ("E", "", SENProfile.Problem.statusWithoutPrimaryNeed(.ehcPlan)),
        ("K", "", .statusWithoutPrimaryNeed(.senSupport)),
        ("K", " , ", .statusWithoutPrimaryNeed(.senSupport)),
        ("N", "ASD", .needsWithoutStatus),
        ("N", "NSA", .needsWithoutStatus),
        ("E", "NSA", .nsaWithEHCPlan),
        ("E", "ASD,NSA", .nsaWithEHCPlan),
        ("K", "ASD,asd", .duplicateNeed(.asd)),
        ("K", "SPLD,MLD,SPLD", .duplicateNeed(.spld)),
        ("X", "ASD", .unknownStatus("X")),
        ("", "", .unknownStatus("")),
        ("EHC", "ASD", .unknownStatus("EHC")),
        ("K", "ADHD", .unknownNeed("ADHD")),
        ("K", "ASD,dyslexia", .unknownNeed("DYSLEXIA")),
    ])
    func rejectsInvalidProfiles(_ status: String, _ needs: String, _ problem: SENProfile.Problem) {
        #expect(throws: problem) { try SENProfile(status: status, needs: needs) }
    }

    @Test func typedInitialiserAppliesTheSameRules() {
        #expect(throws: SENProfile.Problem.duplicateNeed(.asd)) {
            try SENProfile(status: .senSupport, needs: [.asd, .hi, .asd])
        }
        #expect(throws: SENProfile.Problem.needsWithoutStatus) { try SENProfile(status: .none, needs: [.hi]) }
        #expect(throws: SENProfile.Problem.nsaWithEHCPlan) { try SENProfile(status: .ehcPlan, needs: [.nsa]) }
        #expect(throws: SENProfile.Problem.statusWithoutPrimaryNeed(.ehcPlan)) {
            try SENProfile(status: .ehcPlan, needs: [])
        }
    }

    @Test func problemsNameNoPersonalDataAndSayWhatToDo() {
        let unknown = SENProfile.Problem.unknownNeed("ADHD").description
        #expect(unknown.contains("SPLD") && unknown.contains("DS"))
        #expect(SENProfile.Problem.nsaWithEHCPlan.description.contains("(K)"))
    }
}
