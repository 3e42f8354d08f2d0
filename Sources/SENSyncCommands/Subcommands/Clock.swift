import ArgumentParser
import Foundation
import SENSync

extension SENSyncCommand {
    struct Clock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clock",
            abstract: "Check this computer's clock against the stamps received, or say that it is right.",
            discussion: HelpText.fitted(
                """
                Before it records a change, a site compares this computer's clock with the newest \
                bundle it has received. If it applied that bundle more than the clock guard (a day, \
                by default) after the bundle was made, either the bundle took that long to arrive or \
                this clock is fast, and changes stamped by a fast clock are refused by every other \
                site; so local writes are refused until the clock is put right (it then reads \
                earlier than when it applied the bundle) or someone says it is right with \
                `sensync clock confirm`. A newer bundle is checked again.
                """),
            subcommands: [Check.self, Confirm.self], defaultSubcommand: Check.self)
    }
}

extension SENSyncCommand.Clock {
    struct Check: ParsableCommand, JSONOutputting {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Show this computer's clock beside the newest bundle received and this site's latest stamp.",
            discussion: HelpText.fitted(
                """
                Example:
                  sensync clock check --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        struct JSON: Encodable {
            struct Bundle: Encodable {
                var sender: String
                var madeAt: String
                var appliedAt: String
                var minutesLate: UInt64
            }

            var now: String
            var newestBundle: Bundle?
            var latestOwnStamp: String?
            var confirmedAt: String?
            var writesRefused: Bool
            var message: String?
            var ownStampsAheadMinutes: UInt64?
        }

        func run() throws {
            let store = try storeOptions.openForReading()
            let check = try store.clockCheck()
            let stamp = { (ms: UInt64) in HLC(milliseconds: ms, counter: 0).description }
            let own = check.latestOwnStamp.rawValue == 0 ? nil : check.latestOwnStamp.description
            if output.json {
                try Terminal.printJSON(
                    JSON(
                        now: stamp(check.now),
                        newestBundle: check.newestBundle.map {
                            JSON.Bundle(
                                sender: $0.sender, madeAt: stamp($0.madeAt), appliedAt: stamp($0.appliedAt),
                                minutesLate: $0.minutesAhead)
                        }, latestOwnStamp: own, confirmedAt: check.confirmedAt, writesRefused: check.doubt != nil,
                        message: check.doubt.map { "\($0.message) \($0.hint)" },
                        ownStampsAheadMinutes: check.ownStampsAheadMinutes))
                return
            }
            Terminal.print("This computer's clock:   \(stamp(check.now))")
            if let newest = check.newestBundle {
                Terminal.print("Newest bundle received:  from \(newest.sender), made \(stamp(newest.madeAt))")
                Terminal.print(
                    "                         applied \(stamp(newest.appliedAt)) by this clock (\(ClockDoubt.span(newest.minutesAhead)) later)"
                )
            } else {
                Terminal.print("Newest bundle received:  none yet")
            }
            Terminal.print("This site's latest stamp: \(own ?? "none yet")")
            if let confirmed = check.confirmedAt { Terminal.print("Said to be right:        \(confirmed)") }
            Terminal.print()
            if let doubt = check.doubt {
                Terminal.print("Local writes are refused. \(doubt.message) \(doubt.hint)")
            } else if let minutes = check.ownStampsAheadMinutes {
                Terminal.print(
                    "This site's latest change is stamped \(ClockDoubt.span(minutes)) ahead of this clock: it was set back after writing with a fast clock. Other sites refuse those changes until their clocks catch up, or until they accept them with `sensync bundle apply --accept-clock-ahead \"\(store.identity.name)\"`."
                )
            } else {
                Terminal.print("Nothing received suggests that this clock is wrong.")
            }
        }
    }

    struct Confirm: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "confirm",
            abstract: "Say that this computer's clock is right, so local writes go on.",
            discussion: HelpText.fitted(
                """
                For when the newest bundle took long to arrive (or its sender's clock is slow) and \
                this computer's date and time are right. Check them first: changes stamped by a \
                fast clock are refused by every other site. A bundle received later is checked \
                again.

                Example:
                  sensync clock confirm --store oakfield.sensync
                """))

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let store = try storeOptions.open()
            if let cleared = try store.confirmClock() {
                Terminal.print(
                    "Recorded that this computer's clock is right although \(cleared.sender)'s bundle arrived \(ClockDoubt.span(cleared.minutesAhead)) after it was made. Local writes go on."
                )
            } else {
                Terminal.print(
                    "Recorded that this computer's clock is right (nothing received had suggested otherwise).")
            }
        }
    }
}
