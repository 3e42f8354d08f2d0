import Foundation
import Testing

/// The HTML area report in a real headless browser (Debian's chromium): the page loads with no
/// console errors, the key figures are on the rendered page, it prints on A4, and a screenshot is
/// saved to `.build/report-screenshots/`. Without a browser these tests are skipped, unless
/// `SENSYNC_REQUIRE_BROWSER=1` (set by `.ci/run`), when a missing browser fails them.
struct BrowserReportTests {
    /// The browser: `SENSYNC_CHROMIUM`, or the first of chromium, chromium-browser, google-chrome on PATH.
    static let browser: String? = {
        let env = ProcessInfo.processInfo.environment
        if let path = env["SENSYNC_CHROMIUM"] { return path }
        let folders = (env["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return "\(folder)/\(name)"
            }
        }
        return nil
    }()
    static let required = ProcessInfo.processInfo.environment["SENSYNC_REQUIRE_BROWSER"] == "1"
    static let runnable = browser != nil || required

    static let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/report-screenshots")

    struct Run {
        var status: Int32
        var stderr: String
        /// Console messages the page produced (errors, failed loads, uncaught exceptions).
        var console: [String] {
            stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") }
        }
    }

    /// Runs the browser headless on `arguments`, killing it after two minutes.
    static func chromium(_ arguments: [String]) throws -> Run {
        let browser = try #require(Self.browser, "No chromium on PATH: install Debian's chromium (`.ci/run` does).")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--enable-logging=stderr", "--v=0",
            ] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = DispatchTime.now() + .seconds(120)
        DispatchQueue.global().asyncAfter(deadline: deadline) { if process.isRunning { process.terminate() } }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A tool from poppler-utils on the page's PDF (`pdftotext`, `pdfinfo`), or nil without it.
    static func poppler(_ tool: String, _ arguments: [String]) throws -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/\(tool)") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test(.enabled(if: runnable)) func theDemosAreaReportRendersWithTheKeyFiguresAndPrintsOnA4() throws {
        try withCLI { cli in
            let demo = try cli.run(["demo", "--dir", cli.path("demo")])
            #expect(demo.status == 0, "\(demo.stderr)")
            let page = cli.path("demo/area-report.html")
            #expect(demo.stdout.contains("Wrote \(page)"), "the demo says where its report is")
            let la = ["--store", cli.path("demo/northshire-la.sensync")]
            let figures = try #require(try cli.run(["report", "area", "--format", "json"] + la).json as? [String: Any])
            let headline = try #require(figures["headline"] as? [String: Int])
            let schools = try #require(figures["schools"] as? [[String: Any]])

            let url = URL(fileURLWithPath: page).absoluteString
            try FileManager.default.createDirectory(at: Self.screenshots, withIntermediateDirectories: true)
            let screenshot = Self.screenshots.appendingPathComponent("area-report.png")
            try? FileManager.default.removeItem(at: screenshot)
            let shot = try Self.chromium([
                "--hide-scrollbars", "--window-size=1240,1754", "--screenshot=\(screenshot.path)", url,
            ])
            #expect(shot.status == 0)
            #expect(shot.console.isEmpty, "console messages: \(shot.console)")
            let png = try Data(contentsOf: screenshot)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "a real screenshot")

            // The page as the browser printed it: A4, with the figures on it.
            let pdf = cli.path("area-report.pdf")
            let printed = try Self.chromium(["--no-pdf-header-footer", "--print-to-pdf=\(pdf)", url])
            #expect(printed.status == 0)
            #expect(printed.console.isEmpty, "console messages: \(printed.console)")
            let kept = Self.screenshots.appendingPathComponent("area-report.pdf")
            try? FileManager.default.removeItem(at: kept)
            try FileManager.default.copyItem(atPath: pdf, toPath: kept.path)
            if let info = try Self.poppler("pdfinfo", [pdf]) {
                #expect(info.contains("(A4)"), "printed on A4: \(info)")
            } else {
                #expect(!Self.required, "pdfinfo (poppler-utils) is needed to check the printed page")
            }
            let text = try Self.poppler("pdftotext", [pdf, "-"]) ?? ""
            if !text.isEmpty || Self.required {
                let words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                for label in ["Pupils", "SEN support", "EHC plans", "Duties overdue", "Referrals waiting"] {
                    #expect(words.contains(label), "the page shows \(label)")
                }
                let tokens = Set(text.split(whereSeparator: { $0.isWhitespace || $0 == "(" || $0 == ")" }))
                for key in ["pupils", "senSupport", "ehcPlans", "overdueDuties", "referralsWaiting"] {
                    let value = try #require(headline[key])
                    #expect(tokens.contains(Substring(String(value))), "the page shows \(key) = \(value)")
                }
                for school in schools {
                    let name = try #require(school["name"] as? String)
                    #expect(words.contains(name), "the page names \(name)")
                    if let roll = school["roll"] as? Int {
                        #expect(tokens.contains(Substring(String(roll))), "the page shows \(name)'s roll")
                    }
                }
            }
        }
    }

    /// The console check catches what it is meant to: a page with a script error and a missing image.
    @Test(.enabled(if: runnable)) func aBrokenPageIsCaught() throws {
        try withCLI { cli in
            let page = cli.path("broken.html")
            try Data(
                "<!DOCTYPE html><html lang=en><title>x</title><img src=missing.png alt=x><script>nothing.here()</script>"
                    .utf8
            ).write(to: URL(fileURLWithPath: page))
            let run = try Self.chromium(["--dump-dom", URL(fileURLWithPath: page).absoluteString])
            #expect(!run.console.isEmpty)
        }
    }
}
