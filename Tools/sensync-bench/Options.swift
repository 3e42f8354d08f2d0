import Foundation

/// Command-line options, parsed by hand (this target does not depend on ArgumentParser).
struct Options {
    var pupils = 2000
    var schools = 8
    var seed: UInt64 = 20_250_601
    var json = false
    var scaling = false
    var scalingFactor = 4
    var keep = false
    var repeats = 3
    var reportArea = false
    var importFiles = false
    var localWrites = false
    var writes = 300
    /// `--history N`: changes of history the school is given (0: not this mode).
    var history = 0

    static let usage = """
        USAGE: sensync-bench [--pupils N] [--schools N] [--seed S] [--repeat R] [--scaling] [--scaling-factor K] [--json] [--keep]
               sensync-bench --report-area [--pupils N] [--schools N] [--seed S] [--repeat R] [--json] [--keep]
               sensync-bench --import [--pupils N] [--seed S] [--repeat R] [--json] [--keep]
               sensync-bench --writes [--pupils N] [--writes-count W] [--scaling-factor K] [--seed S] [--json] [--keep]
               sensync-bench --history N [--pupils N] [--seed S] [--json] [--keep]

        Builds a synthetic area (an LA store and N school stores) on temporary files, then measures
        local writes, bundle create and apply, a raw-SQLite upsert baseline, bundle size against
        zlib-compressed JSON Lines, delta bundles, apply scaling and peak memory.

        OPTIONS:
          --pupils N          Pupils in the area (default 2000).
          --schools N         School stores (default 8; mixed academies and maintained schools).
          --seed S            Seed for the synthetic content (default 20250601).
          --repeat R          Apply the school bundles into R fresh LA stores, and run each raw
                              baseline R times; report the median (default 3).
          --scaling           Also build an area K times larger and measure its apply (merge throughput).
          --scaling-factor K  Size factor for --scaling (default 4).
          --report-area       Instead: measure `report area` at the LA of a large area (300 schools
                              and 15,000 SEN pupils unless --schools and --pupils say otherwise).
          --import            Instead: measure `sensync import` of a synthetic school MIS export
                              (10,000 pupils unless --pupils says otherwise) as JSON Lines and as
                              CSV, and of one twice the size, beside a raw SQLite insert of the
                              same rows.
          --writes            Instead: measure local writes (add, edit, delete; each its own
                              transaction) in a school store of N pupils (default 2000) and of K×
                              N, beside a raw single-row SQLite insert transaction.
          --writes-count W    How many of each write to time (default 300).
          --history N         Instead: give one school of N pupils (default 2000) N changes of
                              history (forename edits after its records), exchange full bundles
                              with the LA both ways, and time a bundle with nothing new each way
                              (goal: 50 ms at 1,000,000 changes).
          --json              Print the results as JSON on stdout instead of tables.
          --keep              Keep the temporary folder (its path is printed on stderr).
          -h, --help          Show this help.

        EXAMPLE:
          swift build -c release --product sensync-bench --scratch-path .build-bench
          .build-bench/release/sensync-bench --pupils 10000 --scaling
          .build-bench/release/sensync-bench --report-area
          .build-bench/release/sensync-bench --import
          .build-bench/release/sensync-bench --writes
          .build-bench/release/sensync-bench --history 1000000

        Progress goes to stderr; results to stdout. Exit code 0 on success, 1 if a step failed,
        2 for bad options.
        """

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws(Problem) -> Options {
        var options = Options()
        var rest = arguments[...]
        var sized = (pupils: false, schools: false)
        func value(_ flag: String, _ inline: String?) throws(Problem) -> String {
            if let inline { return inline }
            guard let next = rest.popFirst() else { throw Problem(description: "\(flag) needs a value.") }
            return next
        }
        func positive(_ flag: String, _ text: String) throws(Problem) -> Int {
            guard let n = Int(text), n > 0 else {
                throw Problem(description: "\(flag) must be a positive whole number, not '\(text)'.")
            }
            return n
        }
        while let argument = rest.popFirst() {
            var flag = argument
            var inline: String?
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                flag = String(argument[..<eq])
                inline = String(argument[argument.index(after: eq)...])
            }
            switch flag {
            case "--pupils":
                options.pupils = try positive(flag, try value(flag, inline))
                sized.pupils = true
            case "--schools":
                options.schools = try positive(flag, try value(flag, inline))
                sized.schools = true
            case "--report-area": options.reportArea = true
            case "--import": options.importFiles = true
            case "--writes": options.localWrites = true
            case "--writes-count": options.writes = try positive(flag, try value(flag, inline))
            case "--history": options.history = try positive(flag, try value(flag, inline))
            case "--seed":
                let text = try value(flag, inline)
                guard let seed = UInt64(text) else {
                    throw Problem(description: "--seed must be a whole number, not '\(text)'.")
                }
                options.seed = seed
            case "--scaling": options.scaling = true
            case "--scaling-factor":
                options.scalingFactor = try positive(flag, try value(flag, inline))
                options.scaling = true
            case "--repeat": options.repeats = try positive(flag, try value(flag, inline))
            case "--json": options.json = true
            case "--keep": options.keep = true
            case "-h", "--help": throw Problem(description: "")
            default: throw Problem(description: "Unknown option '\(argument)'.")
            }
        }
        if [options.reportArea, options.importFiles, options.localWrites, options.history > 0].filter({ $0 }).count > 1
        {
            throw Problem(
                description: "--report-area, --import, --writes and --history measure different things; give one.")
        }
        if options.importFiles && !sized.pupils { options.pupils = 10_000 }
        if options.reportArea {
            if !sized.pupils { options.pupils = 15_000 }
            if !sized.schools { options.schools = 300 }
        }
        guard options.pupils >= options.schools else {
            throw Problem(description: "--pupils must be at least --schools (every school needs a pupil).")
        }
        return options
    }
}
