package fr.carnet.app

// A thin shell over the Carnet SDK: every rule (validation, totals, merge,
// sync) lives in the tested layers below. Screens only show and forward.

import android.net.ConnectivityManager
import android.net.Network
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import fr.carnet.ffi.AccountFile
import fr.carnet.ffi.AccountSummary
import fr.carnet.ffi.CarnetException
import fr.carnet.ffi.Conflict
import fr.carnet.ffi.MyDay
import fr.carnet.ffi.NewQuote
import fr.carnet.ffi.NewQuoteLine
import fr.carnet.ffi.Quote
import fr.carnet.ffi.SyncPhase
import fr.carnet.ffi.SyncStatus
import fr.carnet.ffi.VisitReport
import fr.carnet.sdk.Carnet
import fr.carnet.sdk.userMessage
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.emptyFlow
import kotlinx.coroutines.flow.flatMapLatest
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.launch
import java.util.Locale

class CarnetViewModel : ViewModel() {
    val carnet = MutableStateFlow<Carnet?>(null)
    val loggedIn = MutableStateFlow(false)
    val error = MutableStateFlow<String?>(null)
    private val english = Locale.getDefault().language == "en"

    @OptIn(kotlinx.coroutines.ExperimentalCoroutinesApi::class)
    val status: StateFlow<SyncStatus?> = carnet
        .flatMapLatest { it?.syncStatusFlow ?: emptyFlow() }
        .stateIn(viewModelScope, SharingStarted.Eagerly, null)

    fun open(dir: String) = viewModelScope.launch {
        val c = Carnet.open(dir)
        carnet.value = c
        loggedIn.value = c.isLoggedIn
        if (c.isLoggedIn) c.startBackgroundSync()
    }

    /** Runs an SDK call, showing a refusal's French (or English) message. */
    fun <T> run(block: suspend Carnet.() -> T, done: (T) -> Unit = {}) = viewModelScope.launch {
        val c = carnet.value ?: return@launch
        try {
            done(c.block())
            error.value = null
        } catch (e: CarnetException) {
            error.value = e.userMessage(english)
        }
    }

    fun login(server: String, email: String, password: String) = run({
        login(server, email, password, android.os.Build.MODEL)
        startBackgroundSync()
    }) { loggedIn.value = true }

    override fun onCleared() {
        carnet.value?.close()
    }
}

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            val vm: CarnetViewModel = viewModel()
            LaunchedEffect(Unit) { vm.open(filesDir.resolve("carnet").path) }
            // Network back: retry the sync at once rather than after backoff.
            LaunchedEffect(Unit) {
                getSystemService(ConnectivityManager::class.java).registerDefaultNetworkCallback(
                    object : ConnectivityManager.NetworkCallback() {
                        override fun onAvailable(network: Network) {
                            vm.carnet.value?.networkAvailable()
                        }
                    },
                )
            }
            MaterialTheme { App(vm) }
        }
    }
}

private enum class Tab { Day, Accounts, Conflicts }

@Composable
fun App(vm: CarnetViewModel) {
    val loggedIn by vm.loggedIn.collectAsState()
    val error by vm.error.collectAsState()
    if (!loggedIn) return LoginScreen(vm)
    var tab by remember { mutableStateOf(Tab.Day) }
    var openAccount by remember { mutableStateOf<String?>(null) }
    Scaffold(
        topBar = { SyncIndicator(vm) },
        bottomBar = {
            NavigationBar {
                NavigationBarItem(tab == Tab.Day, { tab = Tab.Day; openAccount = null }, {}, label = { Text(stringResource(R.string.my_day)) })
                NavigationBarItem(tab == Tab.Accounts, { tab = Tab.Accounts; openAccount = null }, {}, label = { Text(stringResource(R.string.accounts)) })
                NavigationBarItem(tab == Tab.Conflicts, { tab = Tab.Conflicts; openAccount = null }, {}, label = { Text(stringResource(R.string.conflicts)) })
            }
        },
    ) { padding ->
        Column(Modifier.padding(padding).padding(12.dp)) {
            error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            val account = openAccount
            when {
                account != null -> AccountScreen(vm, account) { openAccount = null }
                tab == Tab.Day -> MyDayScreen(vm) { openAccount = it }
                tab == Tab.Accounts -> AccountsScreen(vm) { openAccount = it }
                else -> ConflictsScreen(vm)
            }
        }
    }
}

@Composable
fun LoginScreen(vm: CarnetViewModel) {
    var server by remember { mutableStateOf("https://") }
    var email by remember { mutableStateOf("") }
    var password by remember { mutableStateOf("") }
    val error by vm.error.collectAsState()
    Column(Modifier.fillMaxSize().padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineMedium)
        OutlinedTextField(server, { server = it }, label = { Text(stringResource(R.string.server)) })
        OutlinedTextField(email, { email = it }, label = { Text(stringResource(R.string.email)) })
        OutlinedTextField(password, { password = it }, label = { Text(stringResource(R.string.password)) })
        Button({ vm.login(server, email, password) }) { Text(stringResource(R.string.login)) }
        error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
}

@Composable
fun SyncIndicator(vm: CarnetViewModel) {
    val status by vm.status.collectAsState()
    val s = status ?: return
    val phase = when (s.phase) {
        SyncPhase.OFFLINE -> stringResource(R.string.sync_offline)
        SyncPhase.CONNECTING -> stringResource(R.string.sync_connecting)
        SyncPhase.SYNCING -> stringResource(R.string.sync_syncing)
        SyncPhase.UP_TO_DATE -> stringResource(R.string.sync_up_to_date)
    }
    Row(Modifier.fillMaxWidth().padding(8.dp), horizontalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(phase)
        if (s.pending > 0u) Text(stringResource(R.string.pending, s.pending.toInt()))
        if (s.rejected.isNotEmpty()) {
            Text(stringResource(R.string.rejected, s.rejected.size), color = MaterialTheme.colorScheme.error)
        }
    }
}

/** Reloads [load] now and whenever the SDK reports a change. */
@Composable
fun <T> rememberLive(vm: CarnetViewModel, key: Any?, load: suspend Carnet.() -> T): T? {
    var value by remember(key) { mutableStateOf<T?>(null) }
    val carnet by vm.carnet.collectAsState()
    LaunchedEffect(carnet, key) {
        val c = carnet ?: return@LaunchedEffect
        value = runCatching { c.load() }.getOrNull()
        c.changes.collect { value = runCatching { c.load() }.getOrNull() }
    }
    return value
}

@Composable
fun MyDayScreen(vm: CarnetViewModel, open: (String) -> Unit) {
    val day: MyDay = rememberLive(vm, Unit) { myDay() } ?: return
    LazyColumn {
        item { Text(stringResource(R.string.visits_today), style = MaterialTheme.typography.titleMedium) }
        items(day.visits) { v -> Text("${v.account} — ${v.subject}", Modifier.clickable { open(v.accountId) }.padding(8.dp)) }
        item { Text(stringResource(R.string.my_day), style = MaterialTheme.typography.titleMedium) }
        if (day.todo.isEmpty()) item { Text(stringResource(R.string.nothing_due)) }
        items(day.todo) { t ->
            val late = if (t.overdue) " · ${stringResource(R.string.overdue)} (${t.daysLate} j)" else ""
            Text("${t.due} ${t.account} — ${t.subject}$late", Modifier.clickable { open(t.accountId) }.padding(8.dp))
        }
    }
}

@Composable
fun AccountsScreen(vm: CarnetViewModel, open: (String) -> Unit) {
    var query by remember { mutableStateOf("") }
    val hits: List<AccountSummary> = rememberLive(vm, query) { searchAccounts(query, 200) } ?: emptyList()
    Column {
        OutlinedTextField(query, { query = it }, label = { Text(stringResource(R.string.search)) }, modifier = Modifier.fillMaxWidth())
        LazyColumn {
            items(hits) { a ->
                val contact = a.matchedContact?.let { " ($it)" } ?: ""
                Text("${a.name}$contact · ${a.postcode.orEmpty()} ${a.city.orEmpty()}", Modifier.clickable { open(a.id) }.padding(10.dp))
            }
        }
    }
}

@Composable
fun AccountScreen(vm: CarnetViewModel, id: String, back: () -> Unit) {
    val file: AccountFile = rememberLive(vm, id) { accountFile(id) } ?: return
    var subject by remember { mutableStateOf("") }
    var outcome by remember { mutableStateOf("") }
    var quoteId by remember { mutableStateOf<String?>(null) }
    LazyColumn {
        item {
            TextButton(back) { Text(stringResource(R.string.back)) }
            Text(file.account.name, style = MaterialTheme.typography.headlineSmall)
            Text(listOfNotNull(file.account.postcode, file.account.city, file.account.phone).joinToString(" · "))
        }
        item { Text(stringResource(R.string.contacts), style = MaterialTheme.typography.titleMedium) }
        items(file.contacts) { c -> Text("${c.name} ${c.role.orEmpty()} ${c.mobile ?: c.phone ?: ""}") }
        item { Text(stringResource(R.string.deals), style = MaterialTheme.typography.titleMedium) }
        items(file.deals) { d -> Text("${d.title} · ${d.stage} · ${money(d.amountCents, d.currency)}") }
        item { Text(stringResource(R.string.actions), style = MaterialTheme.typography.titleMedium) }
        items(file.actions) { a -> Text("${a.due.orEmpty()} ${a.actionType} — ${a.subject} ${if (a.doneOn != null) "✓" else ""}") }
        item { Text(stringResource(R.string.notes), style = MaterialTheme.typography.titleMedium) }
        items(file.notes) { n -> Text(n.body) }
        item {
            Text(stringResource(R.string.visit_report), style = MaterialTheme.typography.titleMedium)
            OutlinedTextField(subject, { subject = it }, label = { Text(stringResource(R.string.subject)) })
            OutlinedTextField(outcome, { outcome = it }, label = { Text(stringResource(R.string.outcome)) }, minLines = 3)
            Button({
                vm.run({ logVisit(id, VisitReport(subject = subject, outcome = outcome)) }) { subject = ""; outcome = "" }
            }) { Text(stringResource(R.string.save)) }
        }
        item {
            Text(stringResource(R.string.quotes), style = MaterialTheme.typography.titleMedium)
            file.quotes.forEach { q -> Text("${q.number} · ${q.status} · ${money(q.totals.grossCents, q.currency)}") }
            val q = quoteId
            if (q == null) {
                Button({ vm.run({ createQuote(id, NewQuote()) }) { quoteId = it } }) { Text(stringResource(R.string.new_quote)) }
            } else {
                QuoteEditor(vm, q)
            }
        }
    }
}

@Composable
fun QuoteEditor(vm: CarnetViewModel, quoteId: String) {
    val quote: Quote = rememberLive(vm, quoteId) { quote(quoteId) } ?: return
    var label by remember { mutableStateOf("") }
    var qty by remember { mutableStateOf("1") }
    var price by remember { mutableStateOf("") }
    Column {
        Text(quote.number)
        quote.lines.forEach { l -> Text("${l.label} × ${l.qty} = ${money(l.netCents, quote.currency)}") }
        OutlinedTextField(label, { label = it }, label = { Text(stringResource(R.string.label)) })
        OutlinedTextField(qty, { qty = it }, label = { Text(stringResource(R.string.qty)) })
        OutlinedTextField(price, { price = it }, label = { Text(stringResource(R.string.unit_price)) })
        Button({
            vm.run({ addQuoteLine(quoteId, NewQuoteLine(qty = qty, label = label, unitPrice = price)) }) { label = ""; price = "" }
        }) { Text(stringResource(R.string.add_line)) }
        Text("${stringResource(R.string.total_net)} ${money(quote.totals.netCents, quote.currency)}")
        Text("${stringResource(R.string.total_gross)} ${money(quote.totals.grossCents, quote.currency)}")
    }
}

@Composable
fun ConflictsScreen(vm: CarnetViewModel) {
    val conflicts: List<Conflict> = rememberLive(vm, Unit) { conflicts() } ?: emptyList()
    val scope = rememberCoroutineScope()
    LazyColumn {
        items(conflicts) { c ->
            Text("${c.record} · ${c.field}", style = MaterialTheme.typography.titleMedium)
            c.values.forEach { v ->
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    Text("${v.value} — ${v.author.orEmpty()}")
                    TextButton({ scope.launch { vm.run({ resolveConflict(c, v.value) }) } }) { Text(stringResource(R.string.keep)) }
                }
            }
        }
    }
}

private fun money(cents: Long, currency: String): String =
    java.text.NumberFormat.getCurrencyInstance(Locale.FRANCE).apply {
        this.currency = java.util.Currency.getInstance(currency)
    }.format(cents / 100.0)
