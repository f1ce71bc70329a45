// A thin SwiftUI shell over CarnetKit: every rule (validation, totals,
// merge, sync) lives in the tested layers below. Views only show and forward.
import CarnetKit
import Network
import SwiftUI
import UIKit

@MainActor
final class AppModel: ObservableObject {
    @Published var carnet: Carnet?
    @Published var loggedIn = false
    @Published var status: SyncStatus?
    @Published var error: String?
    /// Bumped when the SDK reports changed files: views reload.
    @Published var revision = 0
    private let monitor = NWPathMonitor()
    private let english = Locale.current.language.languageCode?.identifier == "en"

    func open() async {
        let dir = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("carnet").path
        do {
            let c = try await Carnet.open(dataDir: dir)
            carnet = c
            loggedIn = c.isLoggedIn
            if loggedIn { try c.startBackgroundSync() }
            Task { for await s in c.syncStatusStream { self.status = s } }
            Task { for await _ in c.changes { self.revision += 1 } }
            // Network back: retry the sync now rather than after the backoff.
            monitor.pathUpdateHandler = { path in
                if path.status == .satisfied { c.networkAvailable() }
            }
            monitor.start(queue: .global(qos: .utility))
        } catch {
            show(error)
        }
    }

    /// Runs an SDK call, showing a refusal's French (or English) message.
    func run<T>(_ body: (Carnet) async throws -> T) async -> T? {
        guard let c = carnet else { return nil }
        do {
            let value = try await body(c)
            error = nil
            return value
        } catch {
            show(error)
            return nil
        }
    }

    private func show(_ e: Error) {
        error = (e as? CarnetError)?.userMessage(english: english) ?? e.localizedDescription
    }

    func login(server: String, email: String, password: String) async {
        let ok = await run { c -> Bool in
            _ = try await c.login(server: server, email: email, password: password, deviceName: UIDevice.current.name)
            try c.startBackgroundSync()
            return true
        }
        loggedIn = ok ?? false
    }
}

@main
struct CarnetApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            RootView().environmentObject(model).task { await model.open() }
        }
    }
}

struct RootView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        if !model.loggedIn {
            LoginView()
        } else {
            TabView {
                NavigationStack { MyDayView() }.tabItem { Text("my_day") }
                NavigationStack { AccountsView() }.tabItem { Text("accounts") }
                NavigationStack { ConflictsView() }.tabItem { Text("conflicts") }
            }
            .safeAreaInset(edge: .top) { SyncIndicator() }
        }
    }
}

struct LoginView: View {
    @EnvironmentObject var model: AppModel
    @State private var server = "https://"
    @State private var email = ""
    @State private var password = ""

    var body: some View {
        Form {
            TextField("server", text: $server).textInputAutocapitalization(.never)
            TextField("email", text: $email).textInputAutocapitalization(.never).keyboardType(.emailAddress)
            SecureField("password", text: $password)
            Button("login") { Task { await model.login(server: server, email: email, password: password) } }
            if let e = model.error { Text(e).foregroundStyle(.red) }
        }
    }
}

struct SyncIndicator: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        if let s = model.status {
            HStack {
                switch s.phase {
                case .offline: Text("sync_offline")
                case .connecting: Text("sync_connecting")
                case .syncing: Text("sync_syncing")
                case .upToDate: Text("sync_up_to_date")
                }
                if s.pending > 0 { Text("pending \(Int(s.pending))") }
                if !s.rejected.isEmpty { Text("rejected \(s.rejected.count)").foregroundStyle(.red) }
            }
            .font(.footnote)
            .padding(4)
        }
    }
}

struct MyDayView: View {
    @EnvironmentObject var model: AppModel
    @State private var day: MyDay?

    var body: some View {
        List {
            if let day {
                Section("visits_today") {
                    ForEach(day.visits, id: \.action) { v in
                        NavigationLink(value: v.accountId) { Text("\(v.account) — \(v.subject)") }
                    }
                }
                Section("todo") {
                    if day.todo.isEmpty { Text("nothing_due") }
                    ForEach(day.todo, id: \.action) { t in
                        NavigationLink(value: t.accountId) {
                            VStack(alignment: .leading) {
                                Text("\(t.account) — \(t.subject)")
                                Text(t.due).font(.caption).foregroundStyle(t.overdue ? .red : .secondary)
                            }
                        }
                    }
                }
            }
        }
        .navigationTitle("my_day")
        .navigationDestination(for: String.self) { AccountView(id: $0) }
        .task(id: model.revision) { day = await model.run { try await $0.myDay() } }
    }
}

struct AccountsView: View {
    @EnvironmentObject var model: AppModel
    @State private var query = ""
    @State private var hits: [AccountSummary] = []

    var body: some View {
        List(hits, id: \.id) { a in
            NavigationLink(value: a.id) {
                VStack(alignment: .leading) {
                    Text(a.matchedContact.map { "\(a.name) (\($0))" } ?? a.name)
                    Text("\(a.postcode ?? "") \(a.city ?? "")").font(.caption)
                }
            }
        }
        .searchable(text: $query, prompt: Text("search"))
        .navigationTitle("accounts")
        .navigationDestination(for: String.self) { AccountView(id: $0) }
        .task(id: "\(query)#\(model.revision)") {
            hits = await model.run { try await $0.searchAccounts(query, limit: 200) } ?? []
        }
    }
}

struct AccountView: View {
    @EnvironmentObject var model: AppModel
    let id: String
    @State private var file: AccountFile?
    @State private var subject = ""
    @State private var outcome = ""
    @State private var quoteId: String?

    var body: some View {
        List {
            if let f = file {
                Section {
                    Text(f.account.name).font(.title2)
                    Text([f.account.postcode, f.account.city, f.account.phone].compactMap { $0 }.joined(separator: " · "))
                }
                Section("contacts") { ForEach(f.contacts, id: \.id) { Text("\($0.name) \($0.role ?? "")") } }
                Section("deals") {
                    ForEach(f.deals, id: \.id) { Text("\($0.title) · \($0.stage) · \(money($0.amountCents, $0.currency))") }
                }
                Section("actions") {
                    ForEach(f.actions, id: \.id) { a in
                        Text("\(a.due ?? "") \(a.subject) \(a.doneOn == nil ? "" : "✓")")
                    }
                }
                Section("notes") { ForEach(f.notes, id: \.id) { Text($0.body) } }
                Section("visit_report") {
                    TextField("subject", text: $subject)
                    TextField("outcome", text: $outcome, axis: .vertical).lineLimit(3...8)
                    Button("save") {
                        Task {
                            let report = VisitReport(subject: subject, outcome: outcome)
                            if await model.run({ try await $0.logVisit(id, report) }) != nil {
                                subject = ""
                                outcome = ""
                            }
                        }
                    }
                }
                Section("quotes") {
                    ForEach(f.quotes, id: \.id) { q in Text("\(q.number) · \(q.status) · \(money(q.totals.grossCents, q.currency))") }
                    if let q = quoteId {
                        QuoteEditor(quoteId: q)
                    } else {
                        Button("new_quote") { Task { quoteId = await model.run { try await $0.createQuote(id) } } }
                    }
                }
            }
            if let e = model.error { Text(e).foregroundStyle(.red) }
        }
        .task(id: model.revision) { file = await model.run { try await $0.accountFile(id) } }
    }
}

struct QuoteEditor: View {
    @EnvironmentObject var model: AppModel
    let quoteId: String
    @State private var quote: Quote?
    @State private var label = ""
    @State private var qty = "1"
    @State private var price = ""

    var body: some View {
        if let q = quote {
            Text(q.number)
            ForEach(q.lines, id: \.id) { l in Text("\(l.label) × \(l.qty) = \(money(l.netCents, q.currency))") }
            Text("total_net") + Text(" \(money(q.totals.netCents, q.currency))")
            Text("total_gross") + Text(" \(money(q.totals.grossCents, q.currency))")
        }
        TextField("label", text: $label)
        TextField("qty", text: $qty).keyboardType(.decimalPad)
        TextField("unit_price", text: $price).keyboardType(.decimalPad)
        Button("add_line") {
            Task {
                let line = NewQuoteLine(qty: qty, label: label, unitPrice: price)
                if await model.run({ try await $0.addQuoteLine(quoteId, line) }) != nil {
                    label = ""
                    price = ""
                }
            }
        }
        .task(id: model.revision) { quote = await model.run { try await $0.quote(quoteId) } }
    }
}

struct ConflictsView: View {
    @EnvironmentObject var model: AppModel
    @State private var conflicts: [Conflict] = []

    var body: some View {
        List(conflicts, id: \.path) { c in
            Section("\(c.record) · \(c.field)") {
                ForEach(c.values, id: \.value) { v in
                    HStack {
                        Text("\(v.value) — \(v.author ?? "")")
                        Spacer()
                        Button("keep") { Task { _ = await model.run { try await $0.resolve(c, value: v.value) } } }
                    }
                }
            }
        }
        .navigationTitle("conflicts")
        .task(id: model.revision) { conflicts = await model.run { try await $0.conflicts() } ?? [] }
    }
}

private func money(_ cents: Int64, _ currency: String) -> String {
    (Double(cents) / 100).formatted(.currency(code: currency).locale(Locale(identifier: "fr_FR")))
}
