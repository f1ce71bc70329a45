package fr.carnet.sdk

import fr.carnet.ffi.AccountFile
import fr.carnet.ffi.AccountSummary
import fr.carnet.ffi.AccountToCheck
import fr.carnet.ffi.ActionType
import fr.carnet.ffi.CarnetClient
import fr.carnet.ffi.CarnetException
import fr.carnet.ffi.ChangeListener
import fr.carnet.ffi.Commission
import fr.carnet.ffi.Conflict
import fr.carnet.ffi.Dashboard
import fr.carnet.ffi.DuplicateHit
import fr.carnet.ffi.Forecast
import fr.carnet.ffi.HistoryEntry
import fr.carnet.ffi.LibraryDoc
import fr.carnet.ffi.LoginInfo
import fr.carnet.ffi.Me
import fr.carnet.ffi.MyDay
import fr.carnet.ffi.NewAccount
import fr.carnet.ffi.NewAction
import fr.carnet.ffi.NewContact
import fr.carnet.ffi.NewDeal
import fr.carnet.ffi.NewQuote
import fr.carnet.ffi.NewQuoteLine
import fr.carnet.ffi.OutboxEmail
import fr.carnet.ffi.Pipeline
import fr.carnet.ffi.Product
import fr.carnet.ffi.Quote
import fr.carnet.ffi.Stage
import fr.carnet.ffi.SyncStatus
import fr.carnet.ffi.SyncStatusListener
import fr.carnet.ffi.TargetReport
import fr.carnet.ffi.TodoItem
import fr.carnet.ffi.VisitReport
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.withContext
import kotlinx.coroutines.channels.BufferOverflow

/**
 * Carnet for Kotlin apps: a rep's store, its sync, and flows for screens.
 *
 * Every call is a suspend function that runs off the caller's thread (the
 * store is local and fast, but a UI thread must never touch the disk), and
 * sync runs on the library's own threads. Errors are [CarnetException]s
 * with a `reason` and a French `reasonFr` for people.
 */
class Carnet private constructor(
    /** The generated client, for anything the wrapper does not cover. */
    val client: CarnetClient,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    companion object {
        /** Opens (or prepares, before [login]) the store in [dataDir]. */
        suspend fun open(dataDir: String, io: CoroutineDispatcher = Dispatchers.IO): Carnet =
            withContext(io) { Carnet(CarnetClient(dataDir), io) }

        /** A store that never syncs (trial, demo); [user] is its admin. */
        suspend fun createLocal(
            dataDir: String,
            user: String,
            company: String,
            name: String? = null,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): Carnet = withContext(io) {
            Carnet(CarnetClient.createLocal(dataDir, user, name, company), io)
        }
    }

    private suspend fun <T> local(block: CarnetClient.() -> T): T = withContext(io) { client.block() }

    val isLoggedIn: Boolean get() = client.isLoggedIn()

    suspend fun login(server: String, email: String, password: String, deviceName: String): LoginInfo =
        client.login(server, email, password, deviceName)

    suspend fun me(): Me = local { me() }

    // ----- settings ---------------------------------------------------------

    suspend fun stages(): List<Stage> = local { stages() }
    suspend fun actionTypes(): List<ActionType> = local { actionTypes() }
    suspend fun vatRates(): List<String> = local { vatRates() }
    suspend fun products(): List<Product> = local { products() }

    // ----- customer files ---------------------------------------------------

    suspend fun searchAccounts(query: String = "", limit: Int = 50): List<AccountSummary> =
        local { searchAccounts(query, limit.coerceAtLeast(0).toUInt()) }

    suspend fun accountFile(accountId: String): AccountFile = local { accountFile(accountId) }
    suspend fun createAccount(account: NewAccount): String = local { createAccount(account) }
    /** Files this device holds that [account] would duplicate: warn before [createAccount], offline too. */
    suspend fun duplicatesOf(account: NewAccount): List<DuplicateHit> = local { duplicatesOf(account) }
    /** Confirms key fields are still right (`address`, `phone`, `email`, `roles`; all when empty). */
    suspend fun verifyAccount(accountId: String, fields: List<String> = emptyList()) =
        local { verifyAccount(accountId, fields) }
    /** My files with key fields not verified for over a year, visits planned first. */
    suspend fun accountsToCheck(limit: Int = 50): List<AccountToCheck> = local { accountsToCheck(limit.toUInt()) }
    suspend fun setAccountField(accountId: String, field: String, value: String) =
        local { setAccountField(accountId, field, value) }
    suspend fun addContact(accountId: String, contact: NewContact): String = local { addContact(accountId, contact) }
    suspend fun setContactField(contactId: String, field: String, value: String) =
        local { setContactField(contactId, field, value) }
    suspend fun addDeal(accountId: String, deal: NewDeal): String = local { addDeal(accountId, deal) }
    suspend fun setDealField(dealId: String, field: String, value: String) = local { setDealField(dealId, field, value) }
    suspend fun addAction(accountId: String, action: NewAction): String = local { addAction(accountId, action) }
    suspend fun setActionField(actionId: String, field: String, value: String) =
        local { setActionField(actionId, field, value) }
    suspend fun completeAction(actionId: String, outcome: String? = null, on: String? = null) =
        local { completeAction(actionId, outcome, on) }
    suspend fun logVisit(accountId: String, visit: VisitReport): String = local { logVisit(accountId, visit) }
    suspend fun addNote(accountId: String, body: String): String = local { addNote(accountId, body) }

    // ----- quotes and orders --------------------------------------------------

    suspend fun createQuote(accountId: String, quote: NewQuote = NewQuote()): String =
        local { createQuote(accountId, quote) }
    suspend fun addQuoteLine(quoteId: String, line: NewQuoteLine): String = local { addQuoteLine(quoteId, line) }
    suspend fun quote(quoteId: String): Quote = local { quote(quoteId) }
    suspend fun setQuoteStatus(quoteId: String, status: String) = local { setQuoteStatus(quoteId, status) }
    /** Returns the new order's id. */
    suspend fun acceptQuote(quoteId: String): String = local { acceptQuote(quoteId) }
    /** Revises the quote: a new draft with its lines, linked to it (which reads "superseded"). */
    suspend fun reviseQuote(quoteId: String): String = local { reviseQuote(quoteId) }
    /**
     * Marks the quote sent once it carries every legal mention; otherwise
     * throws [CarnetException.Invalid] listing what is missing (French in `reasonFr`).
     */
    suspend fun sendQuote(quoteId: String) = local { sendQuote(quoteId) }
    /** The quote as a PDF made on the device, offline (French unless [english]). */
    suspend fun quotePdf(quoteId: String, english: Boolean = false): ByteArray = local { quotePdf(quoteId, english) }
    /**
     * Emails the quote, its PDF attached: the quote is marked sent (legal
     * mentions checked) and the message waits in the outbox, offline too;
     * the server sends it after the next sync and the outcome comes back
     * in [outbox]. A recipient who refused prospecting email throws
     * `CarnetException.Invalid`. Returns the message's id.
     */
    suspend fun emailQuote(
        quoteId: String,
        to: String,
        message: String = "",
        english: Boolean = false,
        attachments: List<String> = emptyList(),
    ): String = local { emailQuote(quoteId, to, message, attachments, english) }
    /** The library documents pushed for this user, with their file once downloaded. */
    suspend fun library(): List<LibraryDoc> = local { library() }
    /** Downloads the library documents not on the device yet (SHA-256 checked); returns how many. */
    suspend fun fetchLibrary(): Int = client.fetchLibrary().toInt()
    /** The outbox: every message of the files on this device, newest first. */
    suspend fun outbox(): List<OutboxEmail> = local { outbox() }
    /** An order as a PDF ("bon de commande") made on the device (French unless [english]). */
    suspend fun orderPdf(orderId: String, english: Boolean = false): ByteArray = local { orderPdf(orderId, english) }
    /** A customer file as a PDF to print ("dossier client") made on the device. */
    suspend fun accountPdf(accountId: String, english: Boolean = false): ByteArray = local { accountPdf(accountId, english) }
    /** What the quote still lacks before it can be sent, in French (empty: ready). */
    suspend fun quoteMissingMentions(quoteId: String): List<String> = local { quoteMissingMentions(quoteId) }

    // ----- reports ----------------------------------------------------------------

    suspend fun myDay(): MyDay = local { myDay() }
    suspend fun todo(until: String? = null, everyone: Boolean = false): List<TodoItem> = local { todo(until, everyone) }
    /** The to-do list as a PDF made on the device (French unless [english]). */
    suspend fun todoPdf(until: String? = null, everyone: Boolean = false, english: Boolean = false): ByteArray =
        local { todoPdf(until, everyone, english) }
    suspend fun pipeline(everyone: Boolean = false): Pipeline = local { pipeline(everyone) }
    suspend fun forecast(months: Int = 6, everyone: Boolean = false): Forecast =
        local { forecast(months.coerceAtLeast(1).toUInt(), everyone) }
    suspend fun variance(period: String, user: String? = null): TargetReport = local { variance(period, user) }
    suspend fun commission(period: String, user: String? = null): Commission = local { commission(period, user) }
    /** The dashboard of [period] for [scope]: `null`/`"me"`, `"everyone"`, or a user's email. */
    suspend fun dashboard(period: String, scope: String? = null): Dashboard = local { dashboard(period, scope) }

    // ----- conflicts and history ------------------------------------------------

    suspend fun conflicts(): List<Conflict> = local { conflicts() }
    suspend fun resolveConflict(conflict: Conflict, value: String) =
        local { resolveConflict(conflict.doc, conflict.path, value) }
    suspend fun history(accountId: String): List<HistoryEntry> = local { history(accountId) }

    // ----- sync --------------------------------------------------------------------

    /** Syncs and returns once up to date; throws [CarnetException.Network] offline. */
    suspend fun syncNow() = client.syncNow()

    fun startBackgroundSync() = client.startBackgroundSync()
    suspend fun stopBackgroundSync() = client.stopBackgroundSync()

    /** Stops sync and releases the store; later calls throw [CarnetException.NotLoggedIn]. */
    suspend fun shutdown() = client.shutdown()

    /** From the platform's connectivity callback: retry now. */
    fun networkAvailable() = client.networkAvailable()

    val syncStatus: SyncStatus get() = client.syncStatus()

    suspend fun revert(docId: String) = local { revert(docId) }

    /**
     * The sync indicator: the current status at once, then every change.
     * Conflated: a slow collector sees the latest status, never a backlog.
     */
    val syncStatusFlow: Flow<SyncStatus> = callbackFlow {
        val id = client.addSyncStatusListener(object : SyncStatusListener {
            override fun onStatus(status: SyncStatus) {
                trySend(status)
            }
        })
        awaitClose { client.removeListener(id) }
    }.conflate()

    /**
     * Ids of customer files that changed (edited here or arriving from the
     * server), for refreshing the screens showing them.
     */
    val changes: Flow<List<String>> = callbackFlow {
        val id = client.addChangeListener(object : ChangeListener {
            override fun onChanged(docs: List<String>) {
                trySend(docs)
            }
        })
        awaitClose { client.removeListener(id) }
    }.buffer(256, BufferOverflow.DROP_OLDEST)

    override fun close() = client.close()
}

/** The message to show: French first, English with [english]. */
fun CarnetException.userMessage(english: Boolean = false): String = when (this) {
    is CarnetException.Invalid -> if (english) reason else reasonFr
    is CarnetException.NotFound -> if (english) reason else reasonFr
    is CarnetException.NotLoggedIn -> if (english) reason else reasonFr
    is CarnetException.Storage -> if (english) reason else reasonFr
    is CarnetException.Network -> if (english) reason else reasonFr
    is CarnetException.Refused -> if (english) reason else reasonFr
    is CarnetException.Protocol -> if (english) reason else reasonFr
    is CarnetException.Listener -> if (english) reason else reasonFr
}
