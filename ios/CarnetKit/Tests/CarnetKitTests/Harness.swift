import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

let demoPassword = "carnet-demo"
let alice = "alice@demo.carnet.fr"
let marc = "marc@demo.carnet.fr"

/// The directory with the host-built `carnet` and `carnet-server` binaries.
func binDir() throws -> URL {
    guard let dir = ProcessInfo.processInfo.environment["CARNET_BIN_DIR"] else {
        throw XCTSkip("CARNET_BIN_DIR not set") as Error
    }
    return URL(fileURLWithPath: dir)
}

func tempDir(_ prefix: String) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// A file to collect a child's output in (pipes and Foundation's Process
/// do not mix well on Linux: a full pipe blocks the child).
func outputFile(_ name: String) throws -> (URL, FileHandle) {
    let url = URL(fileURLWithPath: try tempDir(name)).appendingPathComponent("out")
    FileManager.default.createFile(atPath: url.path, contents: nil)
    return (url, try FileHandle(forWritingTo: url))
}

/// A real `carnet-server` with the demo tenant on a free loopback port.
final class TestServer {
    let process = Process()
    let url: String

    let data: String

    /// A new demo tenant on a free port, or (given `existing` data and a
    /// `listen` address) the same server restarted.
    init(existing: String? = nil, listen: String = "127.0.0.1:0", mailPort: Int? = nil) throws {
        data = try existing ?? tempDir("carnet-server")
        let running = URL(fileURLWithPath: data).appendingPathComponent("server.json")
        try? FileManager.default.removeItem(at: running)
        let exe = try binDir().appendingPathComponent("carnet-server")
        var command = existing == nil ? "demo" : "serve"
        if let port = mailPort {
            // The demo tenant, its outbox sent to a mail server on loopback.
            if existing == nil { try TestServer.admin(exe, data, ["demo", "--no-serve"]) }
            try TestServer.admin(exe, data, [
                "mail", "set", "--host", "127.0.0.1", "--port", "\(port)", "--security", "none",
                "--from", "Démo Carnet <devis@demo.example>", "--retry-secs", "1",
            ])
            command = "serve"
        }
        process.executableURL = exe
        process.arguments = ["--data", data, command, "--listen", listen]
        process.standardOutput = try outputFile("carnet-server-out").1
        process.standardError = FileHandle.standardError
        try process.run()
        // The server writes its address to server.json once it listens.
        let deadline = Date().addingTimeInterval(60)
        var found: String?
        while found == nil {
            if let bytes = try? Data(contentsOf: running),
               let json = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any],
               let addr = json["addr"] as? String {
                found = "http://\(addr)"
            } else if !process.isRunning || Date() > deadline {
                throw NSError(domain: "carnet", code: 1, userInfo: [NSLocalizedDescriptionKey: "carnet-server did not start"])
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        url = found!
    }

    /// An admin command on this server's data (through the running server).
    func admin(_ args: [String]) throws {
        try TestServer.admin(try binDir().appendingPathComponent("carnet-server"), data, args)
    }

    private static func admin(_ exe: URL, _ data: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = exe
        p.arguments = ["--data", data] + args
        p.standardOutput = try outputFile("carnet-server-admin").1
        p.standardError = FileHandle.standardError
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "carnet", code: 3, userInfo: [NSLocalizedDescriptionKey: "carnet-server \(args) failed"])
        }
    }

    func stop() {
        // SIGKILL: a child spawned from a Dispatch thread inherits its
        // blocked signals, so SIGTERM (Process.terminate) may never land.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// The SMTP server on loopback that `scripts/swift-test` starts outside the
/// chroot (`tests/smtp/sink.py` on Debian's aiosmtpd): its port, and the
/// folder where it stores each message it accepts as a `.eml` file.
struct MailSink {
    let port: Int
    let dir: String

    init() throws {
        let env = ProcessInfo.processInfo.environment
        guard let p = env["CARNET_SMTP_PORT"].flatMap(Int.init), let d = env["CARNET_SMTP_DIR"] else {
            throw NSError(domain: "carnet", code: 4, userInfo: [
                NSLocalizedDescriptionKey: "CARNET_SMTP_PORT and CARNET_SMTP_DIR not set: run scripts/swift-test",
            ])
        }
        port = p
        dir = d
    }

    /// The stored messages, in order.
    func messages() -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".eml") }.sorted()
        return names.compactMap { try? String(contentsOfFile: "\(dir)/\($0)", encoding: .utf8) }
    }

    /// The messages, once those holding `needle` are at least `n` (or after 20 s).
    func waitFor(_ n: Int, containing needle: String) -> [String] {
        let deadline = Date().addingTimeInterval(20)
        while messages().filter({ $0.contains(needle) }).count < n && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return messages().filter { $0.contains(needle) }
    }
}

/// The `carnet` CLI on its own store: a second device.
struct Cli {
    let store: String

    init() throws { store = try tempDir("carnet-cli") }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = try binDir().appendingPathComponent("carnet")
        p.arguments = ["--store", store] + args
        let (outUrl, out) = try outputFile("carnet-cli-out")
        let (errUrl, err) = try outputFile("carnet-cli-err")
        p.standardOutput = out
        p.standardError = err
        if let s = stdin {
            let inUrl = URL(fileURLWithPath: try tempDir("carnet-cli-in")).appendingPathComponent("in")
            try Data(s.utf8).write(to: inUrl)
            p.standardInput = try FileHandle(forReadingFrom: inUrl)
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        try p.run()
        p.waitUntilExit()
        let output = try String(contentsOf: outUrl, encoding: .utf8)
        guard p.terminationStatus == 0 else {
            let errors = (try? String(contentsOf: errUrl, encoding: .utf8)) ?? ""
            throw NSError(domain: "carnet", code: Int(p.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "carnet \(args) failed: \(errors)",
            ])
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func login(_ url: String, _ email: String) throws {
        try run(["login", url, "--email", email, "--password-stdin"], stdin: "\(demoPassword)\n")
    }
}

/// The first element of `stream` that satisfies `predicate`, or a failure
/// after `seconds`.
func first<T: Sendable>(_ stream: AsyncStream<T>, within seconds: Double, where predicate: @escaping @Sendable (T) -> Bool) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            for await item in stream where predicate(item) { return item }
            return nil
        }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            return nil
        }
        let result = try await group.next() ?? nil
        group.cancelAll()
        guard let found = result else {
            throw NSError(domain: "carnet", code: 2, userInfo: [NSLocalizedDescriptionKey: "timed out waiting"])
        }
        return found
    }
}

