import Foundation

/// Carnet for Swift apps: a rep's store, its sync, and streams for screens.
///
/// Every call is `async`: local reads and edits run off the caller's actor
/// (a UI must never touch the disk), network work on the library's own
/// threads. Errors are `CarnetError`s with a `reason` and a French
/// `reasonFr` for people.
public final class Carnet: @unchecked Sendable {
    /// The generated client, for anything this wrapper does not cover.
    public let client: CarnetClient

    private init(client: CarnetClient) {
        self.client = client
    }

    /// Opens (or prepares, before `login`) the store in `dataDir`.
    public static func open(dataDir: String) async throws -> Carnet {
        try await Task.detached { Carnet(client: try CarnetClient(dataDir: dataDir)) }.value
    }

    /// A store that never syncs (trial, demo); `user` is its admin.
    public static func createLocal(dataDir: String, user: String, company: String, name: String? = nil) async throws -> Carnet {
        try await Task.detached {
            Carnet(client: try CarnetClient.createLocal(dataDir: dataDir, user: user, name: name, company: company))
        }.value
    }

    private func local<T: Sendable>(_ body: @escaping @Sendable (CarnetClient) throws -> T) async throws -> T {
        let client = self.client
        return try await Task.detached { try body(client) }.value
    }

    public var isLoggedIn: Bool { client.isLoggedIn() }

    public func login(server: String, email: String, password: String, deviceName: String) async throws -> LoginInfo {
        try await client.login(server: server, email: email, password: password, deviceName: deviceName)
    }

    public func me() async throws -> Me { try await local { try $0.me() } }

    // MARK: settings

    public func stages() async throws -> [Stage] { try await local { try $0.stages() } }
    public func actionTypes() async throws -> [ActionType] { try await local { try $0.actionTypes() } }
    public func vatRates() async throws -> [String] { try await local { try $0.vatRates() } }
    public func products() async throws -> [Product] { try await local { try $0.products() } }

    // MARK: customer files

    public func searchAccounts(_ query: String = "", limit: Int = 50) async throws -> [AccountSummary] {
        try await local { try $0.searchAccounts(query: query, limit: UInt32(clamping: max(limit, 0))) }
    }
    public func accountFile(_ accountId: String) async throws -> AccountFile {
        try await local { try $0.accountFile(accountId: accountId) }
    }
    public func createAccount(_ account: NewAccount) async throws -> String {
        try await local { try $0.createAccount(account: account) }
    }
    /// Files this device holds that `account` would duplicate: warn before
    /// `createAccount`, offline too.
    public func duplicatesOf(_ account: NewAccount) async throws -> [DuplicateHit] {
        try await local { try $0.duplicatesOf(account: account) }
    }
    /// Confirms key fields are still right (`address`, `phone`, `email`,
    /// `roles`; all of them when empty).
    public func verifyAccount(_ accountId: String, fields: [String] = []) async throws {
        try await local { try $0.verifyAccount(accountId: accountId, fields: fields) }
    }
    /// My files with key fields not verified for over a year, visits first.
    public func accountsToCheck(limit: Int = 50) async throws -> [AccountToCheck] {
        try await local { try $0.accountsToCheck(limit: UInt32(clamping: max(limit, 0))) }
    }
    public func setAccountField(_ accountId: String, field: String, value: String) async throws {
        try await local { try $0.setAccountField(accountId: accountId, field: field, value: value) }
    }
    public func addContact(_ accountId: String, _ contact: NewContact) async throws -> String {
        try await local { try $0.addContact(accountId: accountId, contact: contact) }
    }
    public func setContactField(_ contactId: String, field: String, value: String) async throws {
        try await local { try $0.setContactField(contactId: contactId, field: field, value: value) }
    }
    public func addDeal(_ accountId: String, _ deal: NewDeal) async throws -> String {
        try await local { try $0.addDeal(accountId: accountId, deal: deal) }
    }
    public func setDealField(_ dealId: String, field: String, value: String) async throws {
        try await local { try $0.setDealField(dealId: dealId, field: field, value: value) }
    }
    public func addAction(_ accountId: String, _ action: NewAction) async throws -> String {
        try await local { try $0.addAction(accountId: accountId, action: action) }
    }
    public func completeAction(_ actionId: String, outcome: String? = nil, on: String? = nil) async throws {
        try await local { try $0.completeAction(actionId: actionId, outcome: outcome, on: on) }
    }
    public func logVisit(_ accountId: String, _ visit: VisitReport) async throws -> String {
        try await local { try $0.logVisit(accountId: accountId, visit: visit) }
    }
    public func addNote(_ accountId: String, _ body: String) async throws -> String {
        try await local { try $0.addNote(accountId: accountId, body: body) }
    }

    // MARK: quotes and orders

    public func createQuote(_ accountId: String, _ quote: NewQuote = NewQuote()) async throws -> String {
        try await local { try $0.createQuote(accountId: accountId, quote: quote) }
    }
    public func addQuoteLine(_ quoteId: String, _ line: NewQuoteLine) async throws -> String {
        try await local { try $0.addQuoteLine(quoteId: quoteId, line: line) }
    }
    public func quote(_ quoteId: String) async throws -> Quote {
        try await local { try $0.quote(quoteId: quoteId) }
    }
    public func setQuoteStatus(_ quoteId: String, _ status: String) async throws {
        try await local { try $0.setQuoteStatus(quoteId: quoteId, status: status) }
    }
    /// Returns the new order's id.
    public func acceptQuote(_ quoteId: String) async throws -> String {
        try await local { try $0.acceptQuote(quoteId: quoteId) }
    }
    /// Revises the quote: a new draft with its lines, linked to it (which reads "superseded").
    public func reviseQuote(_ quoteId: String) async throws -> String {
        try await local { try $0.reviseQuote(quoteId: quoteId) }
    }
    /// Marks the quote sent once it carries every legal mention; otherwise
    /// throws `CarnetError.Invalid` listing what is missing (French in `reasonFr`).
    public func sendQuote(_ quoteId: String) async throws {
        try await local { try $0.sendQuote(quoteId: quoteId) }
    }
    /// The quote as a PDF made on the device, offline (French unless `english`).
    public func quotePdf(_ quoteId: String, english: Bool = false) async throws -> Data {
        try await local { try $0.quotePdf(quoteId: quoteId, english: english) }
    }
    /// Emails the quote, its PDF attached: the quote is marked sent (legal
    /// mentions checked) and the message waits in the outbox, offline too;
    /// the server sends it after the next sync and the outcome comes back in
    /// `outbox()`. A recipient who refused prospecting email throws
    /// `CarnetError.Invalid`. Returns the message's id.
    public func emailQuote(_ quoteId: String, to: String, message: String = "", english: Bool = false, attachments: [String] = []) async throws -> String {
        try await local { try $0.emailQuote(quoteId: quoteId, to: to, message: message, attachments: attachments, english: english) }
    }
    /// The library documents pushed for this user, with their file once downloaded.
    public func library() async throws -> [LibraryDoc] {
        try await local { try $0.library() }
    }
    /// Downloads the library documents not on the device yet (SHA-256 checked); returns how many.
    public func fetchLibrary() async throws -> UInt32 {
        try await client.fetchLibrary()
    }
    /// The outbox: every message of the files on this device, newest first.
    public func outbox() async throws -> [OutboxEmail] {
        try await local { try $0.outbox() }
    }
    /// An order as a PDF ("bon de commande") made on the device (French unless `english`).
    public func orderPdf(_ orderId: String, english: Bool = false) async throws -> Data {
        try await local { try $0.orderPdf(orderId: orderId, english: english) }
    }
    /// A customer file as a PDF to print ("dossier client") made on the device.
    public func accountPdf(_ accountId: String, english: Bool = false) async throws -> Data {
        try await local { try $0.accountPdf(accountId: accountId, english: english) }
    }
    /// What the quote still lacks before it can be sent, in French (empty: ready).
    public func quoteMissingMentions(_ quoteId: String) async throws -> [String] {
        try await local { try $0.quoteMissingMentions(quoteId: quoteId) }
    }

    // MARK: reports

    public func myDay() async throws -> MyDay { try await local { try $0.myDay() } }
    public func todo(until: String? = nil, everyone: Bool = false) async throws -> [TodoItem] {
        try await local { try $0.todo(until: until, everyone: everyone) }
    }
    /// The to-do list as a PDF made on the device (French unless `english`).
    public func todoPdf(until: String? = nil, everyone: Bool = false, english: Bool = false) async throws -> Data {
        try await local { try $0.todoPdf(until: until, everyone: everyone, english: english) }
    }
    public func pipeline(everyone: Bool = false) async throws -> Pipeline {
        try await local { try $0.pipeline(everyone: everyone) }
    }
    public func forecast(months: Int = 6, everyone: Bool = false) async throws -> Forecast {
        try await local { try $0.forecast(months: UInt32(clamping: max(months, 1)), everyone: everyone) }
    }
    public func variance(period: String, user: String? = nil) async throws -> TargetReport {
        try await local { try $0.variance(period: period, user: user) }
    }
    /// The dashboard of `period` for `scope`: `nil`/`"me"`, `"everyone"`, or a user's email.
    public func dashboard(period: String, scope: String? = nil) async throws -> Dashboard {
        try await local { try $0.dashboard(period: period, scope: scope) }
    }
    public func commission(period: String, user: String? = nil) async throws -> Commission {
        try await local { try $0.commission(period: period, user: user) }
    }

    // MARK: conflicts and history

    public func conflicts() async throws -> [Conflict] { try await local { try $0.conflicts() } }
    public func resolve(_ conflict: Conflict, value: String) async throws {
        try await local { try $0.resolveConflict(doc: conflict.doc, path: conflict.path, value: value) }
    }
    public func history(_ accountId: String) async throws -> [HistoryEntry] {
        try await local { try $0.history(accountId: accountId) }
    }

    // MARK: sync

    /// Syncs and returns once up to date; throws `CarnetError.Network` offline.
    public func syncNow() async throws { try await client.syncNow() }
    public func startBackgroundSync() throws { try client.startBackgroundSync() }
    public func stopBackgroundSync() async { await client.stopBackgroundSync() }
    /// Stops sync and releases the store; later calls throw `NotLoggedIn`.
    public func close() async { await client.shutdown() }
    /// From the platform's reachability callback: retry now.
    public func networkAvailable() { client.networkAvailable() }
    public var syncStatus: SyncStatus { client.syncStatus() }
    public func revert(_ docId: String) async throws { try await local { try $0.revert(doc: docId) } }

    /// The sync indicator: the current status at once, then every change;
    /// a slow reader sees the latest status, never a backlog.
    public var syncStatusStream: AsyncStream<SyncStatus> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = client.addSyncStatusListener(listener: StatusRelay(continuation))
            continuation.onTermination = { [client] _ in _ = client.removeListener(id: id) }
        }
    }

    /// Ids of customer files that changed (here or from the server).
    public var changes: AsyncStream<[String]> {
        AsyncStream(bufferingPolicy: .bufferingNewest(256)) { continuation in
            let id = client.addChangeListener(listener: ChangeRelay(continuation))
            continuation.onTermination = { [client] _ in _ = client.removeListener(id: id) }
        }
    }
}

private final class StatusRelay: SyncStatusListener, @unchecked Sendable {
    let continuation: AsyncStream<SyncStatus>.Continuation
    init(_ continuation: AsyncStream<SyncStatus>.Continuation) { self.continuation = continuation }
    func onStatus(status: SyncStatus) throws { continuation.yield(status) }
}

private final class ChangeRelay: ChangeListener, @unchecked Sendable {
    let continuation: AsyncStream<[String]>.Continuation
    init(_ continuation: AsyncStream<[String]>.Continuation) { self.continuation = continuation }
    func onChanged(docs: [String]) throws { continuation.yield(docs) }
}

extension CarnetError {
    /// The message to show: French first, English on request.
    public func userMessage(english: Bool = false) -> String {
        switch self {
        case let .Invalid(reason, reasonFr), let .NotFound(reason, reasonFr),
             let .NotLoggedIn(reason, reasonFr), let .Storage(reason, reasonFr),
             let .Network(reason, reasonFr), let .Refused(reason, reasonFr),
             let .Protocol(reason, reasonFr), let .Listener(reason, reasonFr):
            return english ? reason : reasonFr
        }
    }
}
