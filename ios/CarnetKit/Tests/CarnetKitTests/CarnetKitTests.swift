import CarnetKit
import Foundation
import XCTest

final class CarnetKitTests: XCTestCase {
    private func today() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }

    func testOfflineEditsAreSavedReportedAndSurviveAReopen() async throws {
        let dir = try tempDir("carnet-offline")
        let day = today()
        let c = try await Carnet.createLocal(dataDir: dir, user: "rep@example.fr", company: "Acme SARL")
        let account = try await c.createAccount(NewAccount(name: "Boulangerie Martin", postcode: "75011", city: "Paris", phone: "01 43 55 66 77"))
        let contact = try await c.addContact(account, NewContact(name: "Jeanne Martin", role: "Gérante"))
        let deal = try await c.addDeal(account, NewDeal(title: "Four mixte", amount: "12 500", contact: contact))
        _ = try await c.addAction(account, NewAction(actionType: "call", subject: "Rappeler", due: day))
        _ = try await c.logVisit(account, VisitReport(
            subject: "Présentation gamme", outcome: "Devis demandé", contact: contact, deal: deal,
            followUp: NewAction(actionType: "visit", subject: "Remise du devis", due: day)))
        _ = try await c.addNote(account, "Parking difficile le matin")
        let quote = try await c.createQuote(account, NewQuote(deal: deal, contact: contact))
        _ = try await c.addQuoteLine(quote, NewQuoteLine(qty: "1", label: "Four mixte", unitPrice: "10000", vatRate: "20"))
        _ = try await c.addQuoteLine(quote, NewQuoteLine(qty: "2", label: "Formation", unitPrice: "250,50", vatRate: "20"))
        let q = try await c.quote(quote)
        XCTAssertEqual(q.totals.netCents, 1_050_100)
        XCTAssertEqual(q.totals.vatCents, 210_020)
        XCTAssertEqual(q.totals.grossCents, 1_260_120)
        let order = try await c.acceptQuote(quote)

        let file = try await c.accountFile(account)
        XCTAssertEqual(file.contacts.map(\.name), ["Jeanne Martin"])
        // Accepting the quote won its deal, for the order's amount.
        XCTAssertEqual(file.deals.first?.amountCents, 1_050_100)
        XCTAssertEqual(file.deals.first?.stage, "gagne")
        XCTAssertEqual(file.actions.count, 3)
        XCTAssertEqual(file.orders.map(\.id), [order])

        let myDay = try await c.myDay()
        XCTAssertEqual(Set(myDay.todo.map(\.subject)), ["Rappeler", "Remise du devis"])
        let todoPdf = try await c.todoPdf()
        XCTAssertEqual(String(decoding: todoPdf.prefix(5), as: UTF8.self), "%PDF-")
        XCTAssertEqual(myDay.visits.map(\.subject), ["Remise du devis"])
        let pipeline = try await c.pipeline()
        XCTAssertEqual(pipeline.openAmountCents, 0)
        let hits = try await c.searchAccounts("jeanne")
        XCTAssertEqual(hits.map(\.matchedContact), ["Jeanne Martin"])
        let history = try await c.history(account)
        XCTAssertTrue(history.contains { $0.changes.contains { $0.path == "account/name" } })

        await c.close()  // releases the store
        do {
            _ = try await c.searchAccounts()
            XCTFail("a closed client still reads")
        } catch CarnetError.NotLoggedIn {}
        let again = try await Carnet.open(dataDir: dir)
        let reread = try await again.accountFile(account)
        XCTAssertEqual(reread.account.phone, "01 43 55 66 77")
        XCTAssertEqual(reread.notes.count, 1)
    }

    func testATwinIsNamedBeforeCreatingItAndKeyFieldsAreConfirmedInOneCall() async throws {
        let c = try await Carnet.createLocal(dataDir: try tempDir("carnet-quality"), user: "rep@example.fr", company: "Acme SARL")
        let martin = try await c.createAccount(NewAccount(name: "Boulangerie Martin", postcode: "75011", phone: "01 43 55 66 77"))
        _ = try await c.addContact(martin, NewContact(name: "Jeanne Martin", role: "Gérante"))
        let hits = try await c.duplicatesOf(NewAccount(name: "BOULANGERIE MARTIN SARL", postcode: "75011"))
        XCTAssertEqual(hits.map(\.accountId), [martin])
        XCTAssertEqual(hits.first?.reasonLabel, "même nom et code postal")
        let byPhone = try await c.duplicatesOf(NewAccount(name: "Autre", phone: "+33 1 43 55 66 77"))
        XCTAssertEqual(byPhone.map(\.reason), ["phone"])
        let none = try await c.duplicatesOf(NewAccount(name: "Boulangerie Martin", postcode: "69003"))
        XCTAssertTrue(none.isEmpty)
        let toCheck = try await c.accountsToCheck()
        XCTAssertTrue(toCheck.isEmpty)
        try await c.verifyAccount(martin, fields: ["phone", "roles"])
        let file = try await c.accountFile(martin)
        XCTAssertEqual(file.account.verifiedPhone, today())
        XCTAssertEqual(file.contacts.first?.verifiedRole, today())
        XCTAssertNil(file.account.verifiedEmail)
        do {
            try await c.verifyAccount(martin, fields: ["pointure"])
            XCTFail("an unknown field was verified")
        } catch let CarnetError.Invalid(_, reasonFr) {
            XCTAssertTrue(reasonFr.contains("pointure"), reasonFr)
        }
    }

    func testRefusedInputSurfacesAsATypedSwiftErrorAndWritesNothing() async throws {
        let carnet = try await Carnet.createLocal(dataDir: try tempDir("carnet-errors"), user: "rep@example.fr", company: "Acme SARL")
        let id = try await carnet.createAccount(NewAccount(name: "Garage Dupont"))
        do {
            _ = try await carnet.createAccount(NewAccount(name: "Mauvais SIRET", siret: "12345678901234"))
            XCTFail("an invalid SIRET was accepted")
        } catch let CarnetError.Invalid(reason, reasonFr) {
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue(reasonFr.localizedCaseInsensitiveContains("siret"), reasonFr)
        }
        let all = try await carnet.searchAccounts()
        XCTAssertEqual(all.map(\.id), [id])
        do {
            _ = try await carnet.accountFile("not-a-document")
            XCTFail("a missing file was found")
        } catch CarnetError.NotFound {}
        do {
            try await carnet.syncNow()
            XCTFail("an offline-only store synced")
        } catch let e as CarnetError {
            guard case .NotLoggedIn = e else { return XCTFail("unexpected \(e)") }
            XCTAssertFalse(e.userMessage().isEmpty)
        }
    }

    func testLoginAndSyncAgainstARealServer() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-rep"))
        do {
            _ = try await carnet.login(server: server.url, email: alice, password: "wrong", deviceName: "test")
            XCTFail("a wrong password logged in")
        } catch CarnetError.Refused {}
        XCTAssertFalse(carnet.isLoggedIn)

        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPhone de test")
        try await carnet.syncNow()
        let accounts = try await carnet.searchAccounts(limit: 1000)
        XCTAssertFalse(accounts.isEmpty)
        XCTAssertEqual(carnet.syncStatus.phase, .upToDate)

        let target = accounts[0]
        try await carnet.setAccountField(target.id, field: "phone", value: "01 02 03 04 05")
        XCTAssertEqual(carnet.syncStatus.pending, 1)
        try await carnet.syncNow()
        XCTAssertEqual(carnet.syncStatus.pending, 0)

        let manager = try Cli()
        try manager.login(server.url, marc)
        try manager.run(["sync"])
        XCTAssertTrue(try manager.run(["account", "show", target.id, "--json"]).contains("01 02 03 04 05"))
    }

    func testAQuoteLeavesOnlyWithItsLegalMentionsAndReadsInFrench() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-quote"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPad devis")
        try await carnet.syncNow()
        let line = NewQuoteLine(qty: "2", label: "Révision", unitPrice: "80", vatRate: "20")
        // A new client without an address: refused, with the list.
        let bare = try await carnet.createAccount(NewAccount(name: "Client sans adresse", postcode: "75002", city: "Paris"))
        let refused = try await carnet.createQuote(bare)
        _ = try await carnet.addQuoteLine(refused, line)
        let missing = try await carnet.quoteMissingMentions(refused)
        XCTAssertTrue(missing.contains { $0.contains("adresse complète du client") }, "\(missing)")
        do {
            try await carnet.sendQuote(refused)
            XCTFail("a quote without its mentions was sent")
        } catch let CarnetError.Invalid(_, reasonFr) {
            XCTAssertTrue(reasonFr.contains("il manque"), reasonFr)
        }
        let draft = try await carnet.quote(refused)
        XCTAssertEqual(draft.statusLabel, "brouillon")
        // A demo client has them all (the demo company too): sent.
        let hits = try await carnet.searchAccounts(limit: 1000)
        let client = try XCTUnwrap(hits.first { $0.id != bare }).id
        let quote = try await carnet.createQuote(client)
        _ = try await carnet.addQuoteLine(quote, line)
        let none = try await carnet.quoteMissingMentions(quote)
        XCTAssertEqual(none, [])
        try await carnet.sendQuote(quote)
        let sent = try await carnet.quote(quote)
        XCTAssertEqual(sent.status, "sent")
        XCTAssertEqual(sent.statusLabel, "envoyé")
        // Its PDF, made on the device.
        let pdf = try await carnet.quotePdf(quote)
        XCTAssertEqual(String(decoding: pdf.prefix(5), as: UTF8.self), "%PDF-")
        XCTAssertGreaterThan(pdf.count, 1000)
        // Revised: v1 stays readable and linked; v2 is accepted.
        let v2 = try await carnet.reviseQuote(quote)
        let superseded = try await carnet.quote(quote)
        XCTAssertEqual(superseded.status, "superseded")
        let revision = try await carnet.quote(v2)
        XCTAssertEqual(revision.revises, quote)
        XCTAssertEqual(revision.revision, 2)
        // Accepted: its order and the customer file, as PDFs too.
        let order = try await carnet.acceptQuote(v2)
        let orderPdf = try await carnet.orderPdf(order)
        XCTAssertEqual(String(decoding: orderPdf.prefix(5), as: UTF8.self), "%PDF-")
        let filePdf = try await carnet.accountPdf(client)
        XCTAssertGreaterThan(filePdf.count, pdf.count / 2)
        try await carnet.syncNow()
        XCTAssertEqual(carnet.syncStatus.pending, 0)
    }

    func testAQuoteEmailedOfflineFromSwiftLeavesAfterSyncAndItsOutcomeComesBack() async throws {
        let sink = try MailSink()
        let server = try TestServer(mailPort: sink.port)
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-mail"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPad e-mail")
        try await carnet.syncNow()
        let hits = try await carnet.searchAccounts(limit: 1000)
        let client = try XCTUnwrap(hits.first).id
        let quote = try await carnet.createQuote(client)
        _ = try await carnet.addQuoteLine(quote, NewQuoteLine(qty: "1", label: "Étude Swift", unitPrice: "300", vatRate: "20"))
        // Offline: queued on the device, nothing has left.
        let id = try await carnet.emailQuote(quote, to: "client@example.com", message: "Bonjour depuis l'iPad.")
        let before = try await carnet.outbox()
        let queued = try XCTUnwrap(before.first { $0.id == id })
        XCTAssertEqual(queued.status, "queued")
        XCTAssertEqual(queued.statusLabel, "en attente d'envoi")
        XCTAssertEqual(sink.waitFor(0, containing: id).count, 0)
        try await carnet.syncNow()
        let got = sink.waitFor(1, containing: "Message-ID: <\(id)@demo.example>")
        XCTAssertEqual(got.count, 1)
        XCTAssertTrue(got.first?.contains("Bonjour depuis l'iPad.") ?? false)
        XCTAssertTrue(got.first?.contains("Content-Type: application/pdf") ?? false)
        // The outcome comes back with the next syncs.
        var sent = queued
        let deadline = Date().addingTimeInterval(20)
        while sent.status == "queued" && Date() < deadline {
            try await Task.sleep(nanoseconds: 200_000_000)
            try await carnet.syncNow()
            let now = try await carnet.outbox()
            sent = try XCTUnwrap(now.first { $0.id == id })
        }
        XCTAssertEqual(sent.status, "sent")
        XCTAssertEqual(sent.statusLabel, "envoyé")
        XCTAssertEqual(sent.messageId, "<\(id)@demo.example>")
        // A contact who refused prospecting email: refused here.
        let paul = try await carnet.addContact(client, NewContact(name: "Paul Refus", email: "paul@example.com"))
        try await carnet.setContactField(paul, field: "consent_email", value: "non")
        do {
            _ = try await carnet.emailQuote(quote, to: "paul@example.com")
            XCTFail("an opted-out contact was emailed")
        } catch let CarnetError.Invalid(_, reasonFr) {
            XCTAssertTrue(reasonFr.contains("Paul Refus") && reasonFr.contains("a refusé"), reasonFr)
        }
        XCTAssertEqual(sink.waitFor(1, containing: "paul@example.com").count, 0)
    }

    func testAPersonErasedOnTheServerLeavesTheAppsStoreAndItsOfflineEditSurvives() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try tempDir("carnet-erase")
        let carnet = try await Carnet.open(dataDir: dir)
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPhone RGPD")
        try await carnet.syncNow()
        let target = try await carnet.searchAccounts(limit: 1000)[0]
        let zoe = try await carnet.addContact(target.id, NewContact(name: "Zoé Quérard", email: "zoe.querard@exemple.fr"))
        try await carnet.syncNow()
        // Offline, an edit of the file; meanwhile the admin erases her.
        _ = try await carnet.addNote(target.id, "Commande prévue en janvier")
        try server.admin(["erase", zoe])
        try await carnet.syncNow()
        let file = try await carnet.accountFile(target.id)
        XCTAssertFalse(file.contacts.contains { $0.id == zoe })
        XCTAssertTrue(file.notes.contains { $0.body == "Commande prévue en janvier" })
        XCTAssertEqual(carnet.syncStatus.pending, 0)
        var holders: [String] = []
        let walker = FileManager.default.enumerator(atPath: dir)
        while let rel = walker?.nextObject() as? String {
            let path = "\(dir)/\(rel)"
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            for needle in ["Quérard", "querard"] where data.range(of: Data(needle.utf8)) != nil {
                holders.append(path)
            }
        }
        XCTAssertEqual(holders, [], "no file of the app's store names her")
    }

    func testLibraryDocumentsForTheRepDownloadAndOpenOffline() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let dir = try tempDir("carnet-lib-files")
        try Data("%PDF-1.7 tarifs Swift".utf8).write(to: URL(fileURLWithPath: "\(dir)/tarifs.pdf"))
        try Data("%PDF-1.7 Lyon".utf8).write(to: URL(fileURLWithPath: "\(dir)/lyon.pdf"))
        try server.admin(["library", "add", "\(dir)/tarifs.pdf", "--title", "Tarifs 2027"])
        try server.admin(["library", "add", "\(dir)/lyon.pdf", "--title", "Salon de Lyon", "--territory", "Lyon"])
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-lib"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPad documents")
        try await carnet.syncNow()
        let docs = try await carnet.library()
        XCTAssertEqual(docs.map(\.title), ["Tarifs 2027"])
        XCTAssertNil(docs.first?.localPath)
        let fetched = try await carnet.fetchLibrary()
        XCTAssertEqual(fetched, 1)
        let again = try await carnet.fetchLibrary()
        XCTAssertEqual(again, 0)
        let after = try await carnet.library()
        let path = try XCTUnwrap(after.first?.localPath)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "%PDF-1.7 tarifs Swift")
    }

    func testTheManagersDashboardWorksOfflineAgainstTheDemosTargets() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-marc"))
        _ = try await carnet.login(server: server.url, email: marc, password: demoPassword, deviceName: "iPad")
        try await carnet.syncNow()
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let lastMonth = utc.date(byAdding: .month, value: -1, to: Date())!
        let c = utc.dateComponents([.year, .month], from: lastMonth)
        let period = String(format: "%04d-%02d", c.year!, c.month!)
        let dash = try await carnet.dashboard(period: period, scope: alice)
        let orders = try XCTUnwrap(dash.figures.first { $0.indicator == "orders_value" })
        XCTAssertEqual(orders.unit, "money")
        XCTAssertEqual(orders.target, 2_000_000)
        let variance = try await carnet.variance(period: period, user: alice)
        XCTAssertEqual(orders.actual, variance.actualCents)
        XCTAssertEqual(orders.variance, orders.actual - 2_000_000)
        XCTAssertEqual(dash.chart.count, 12)
        XCTAssertEqual(dash.chart.last?.period, period)
    }

    func testAListenerReceivesAChangeMadeByASecondClient() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-live"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPad")
        try await carnet.syncNow()
        let target = try await carnet.searchAccounts(limit: 1)[0]

        let statuses = carnet.syncStatusStream
        try carnet.startBackgroundSync()
        _ = try await first(statuses, within: 30) { $0.phase == .upToDate && $0.background }

        let changes = carnet.changes  // subscribed now, before the edit
        let other = try Cli()
        try other.login(server.url, alice)
        try other.run(["sync"])
        try other.run(["account", "set", target.id, "city", "Vincennes"])
        try other.run(["sync"])
        let targetId = target.id
        _ = try await first(changes, within: 30) { $0.contains(targetId) }
        let file = try await carnet.accountFile(target.id)
        XCTAssertEqual(file.account.city, "Vincennes")

        await carnet.stopBackgroundSync()
        XCTAssertEqual(carnet.syncStatus.phase, .offline)
    }

    func testConcurrentEditsShowAsAConflictThatSwiftResolves() async throws {
        let server = try TestServer()
        defer { server.stop() }
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-conflict"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPhone")
        try await carnet.syncNow()
        let target = try await carnet.searchAccounts(limit: 1)[0]
        let other = try Cli()
        try other.login(server.url, alice)
        try other.run(["sync"])

        try await carnet.setAccountField(target.id, field: "phone", value: "01 11 11 11 11")
        try other.run(["account", "set", target.id, "phone", "02 22 22 22 22"])
        try other.run(["sync"])
        try await carnet.syncNow()

        let conflicts = try await carnet.conflicts()
        let conflict = try XCTUnwrap(conflicts.first { $0.doc == target.id && $0.field == "phone" })
        XCTAssertEqual(Set(conflict.values.map(\.value)), ["01 11 11 11 11", "02 22 22 22 22"])
        try await carnet.resolve(conflict, value: "01 11 11 11 11")
        let after = try await carnet.conflicts()
        XCTAssertFalse(after.contains { $0.doc == target.id })
        try await carnet.syncNow()
        try other.run(["sync"])
        XCTAssertTrue(try other.run(["account", "show", target.id, "--json"]).contains("01 11 11 11 11"))
    }

    func testBackgroundSyncGoesOfflineWhenTheServerDiesAndDeliversEditsOnceItIsBack() async throws {
        let server = try TestServer()
        let carnet = try await Carnet.open(dataDir: try tempDir("carnet-reconnect"))
        _ = try await carnet.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPhone")
        try await carnet.syncNow()
        let id = try await carnet.searchAccounts(limit: 1)[0].id
        let statuses = carnet.syncStatusStream
        try carnet.startBackgroundSync()
        _ = try await first(statuses, within: 30) { $0.phase == .upToDate }

        server.stop()
        let down = try await first(statuses, within: 30) { $0.phase == .offline }
        XCTAssertTrue(down.background)
        XCTAssertNotNil(down.lastError)
        try await carnet.setAccountField(id, field: "city", value: "Montreuil")
        XCTAssertEqual(carnet.syncStatus.pending, 1)

        let back = try TestServer(existing: server.data, listen: String(server.url.dropFirst("http://".count)))
        defer { back.stop() }
        carnet.networkAvailable()
        _ = try await first(statuses, within: 30) { $0.phase == .upToDate && $0.pending == 0 }
        let manager = try Cli()
        try manager.login(back.url, marc)
        try manager.run(["sync"])
        XCTAssertTrue(try manager.run(["account", "show", id, "--json"]).contains("Montreuil"))
        await carnet.stopBackgroundSync()
    }

    func testEditsMadeWhileTheServerIsDownAreKeptAcrossARestartAndSentLater() async throws {
        let server = try TestServer()
        let dir = try tempDir("carnet-down")
        let first = try await Carnet.open(dataDir: dir)
        _ = try await first.login(server: server.url, email: alice, password: demoPassword, deviceName: "iPhone")
        try await first.syncNow()
        let id = try await first.searchAccounts(limit: 1)[0].id
        server.stop()
        try await first.setAccountField(id, field: "website", value: "https://exemple.fr")
        do {
            try await first.syncNow()
            XCTFail("synced with the server down")
        } catch let CarnetError.Network(_, reasonFr) {
            XCTAssertFalse(reasonFr.isEmpty)
        }
        XCTAssertEqual(first.syncStatus.pending, 1)
        await first.close()

        let back = try TestServer(existing: server.data, listen: String(server.url.dropFirst("http://".count)))
        defer { back.stop() }
        let again = try await Carnet.open(dataDir: dir)
        XCTAssertEqual(again.syncStatus.pending, 1)
        try await again.syncNow()
        XCTAssertEqual(again.syncStatus.pending, 0)
        let manager = try Cli()
        try manager.login(back.url, marc)
        try manager.run(["sync"])
        XCTAssertTrue(try manager.run(["account", "show", id, "--json"]).contains("https://exemple.fr"))
    }
}
