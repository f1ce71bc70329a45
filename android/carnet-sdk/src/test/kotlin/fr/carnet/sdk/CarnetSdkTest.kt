package fr.carnet.sdk

import fr.carnet.ffi.CarnetException
import fr.carnet.ffi.NewAccount
import fr.carnet.ffi.NewAction
import fr.carnet.ffi.NewContact
import fr.carnet.ffi.NewDeal
import fr.carnet.ffi.NewQuote
import fr.carnet.ffi.NewQuoteLine
import fr.carnet.ffi.SyncPhase
import fr.carnet.ffi.VisitReport
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.time.LocalDate
import java.time.YearMonth

class CarnetSdkTest {

    @Test
    fun `offline edits through Kotlin are saved, reported and survive a reopen`() = runBlocking<Unit> {
        val dir = tempDir("carnet-offline-")
        val today = LocalDate.now().toString()
        val accountId: String
        Carnet.createLocal(dir.path, "rep@example.fr", "Acme SARL", "Rep Test").use { carnet ->
            accountId = carnet.createAccount(
                NewAccount(name = "Boulangerie Martin", postcode = "75011", city = "Paris", phone = "01 43 55 66 77"),
            )
            val contact = carnet.addContact(accountId, NewContact(name = "Jeanne Martin", role = "Gérante"))
            val deal = carnet.addDeal(accountId, NewDeal(title = "Four mixte", amount = "12 500", contact = contact))
            carnet.addAction(accountId, NewAction(actionType = "call", subject = "Rappeler", due = today))
            carnet.logVisit(
                accountId,
                VisitReport(
                    subject = "Présentation gamme",
                    outcome = "Intéressée par le four, devis demandé",
                    contact = contact,
                    deal = deal,
                    followUp = NewAction(actionType = "visit", subject = "Remise du devis", due = today),
                ),
            )
            carnet.addNote(accountId, "Parking difficile le matin")
            val quote = carnet.createQuote(accountId, NewQuote(deal = deal, contact = contact))
            carnet.addQuoteLine(quote, NewQuoteLine(qty = "1", label = "Four mixte", unitPrice = "10000", vatRate = "20"))
            carnet.addQuoteLine(quote, NewQuoteLine(qty = "2", label = "Formation", unitPrice = "250,50", vatRate = "20"))
            val q = carnet.quote(quote)
            assertEquals(1_050_100L, q.totals.netCents)
            assertEquals(210_020L, q.totals.vatCents)
            assertEquals(1_260_120L, q.totals.grossCents)
            assertTrue(q.provisional)
            val order = carnet.acceptQuote(quote)

            val file = carnet.accountFile(accountId)
            assertEquals("Boulangerie Martin", file.account.name)
            assertEquals(listOf("Jeanne Martin"), file.contacts.map { it.name })
            // Accepting the quote won its deal, for the order's amount.
            assertEquals(1_050_100L, file.deals.single().amountCents)
            assertEquals("gagne", file.deals.single().stage)
            assertEquals(3, file.actions.size)
            val visit = file.actions.single { it.actionType == "visit" && it.doneOn != null }
            assertEquals("Intéressée par le four, devis demandé", visit.outcome)
            assertEquals(listOf(order), file.orders.map { it.id })
            assertEquals("accepted", file.quotes.single().status)

            val day = carnet.myDay()
            assertEquals(setOf("Rappeler", "Remise du devis"), day.todo.map { it.subject }.toSet())
            // The same list as a PDF made on the device, read back with poppler.
            val todoPdf = kotlin.io.path.createTempFile("actions", ".pdf").toFile()
            todoPdf.writeBytes(carnet.todoPdf())
            val todoText = ProcessBuilder("pdftotext", "-layout", todoPdf.path, "-").start().inputStream.bufferedReader().readText()
            assertTrue(todoText.contains("Rappeler") && todoText.contains("Remise du devis"), todoText)
            assertEquals(listOf("Remise du devis"), day.visits.map { it.subject })

            val pipeline = carnet.pipeline()
            assertEquals(0u, pipeline.openCount)
            assertEquals(0L, pipeline.openAmountCents)
            val variance = carnet.variance(YearMonth.now().toString())
            assertEquals(1_050_100L, variance.actualCents)
            assertEquals(1u, variance.orders)

            assertEquals(listOf(accountId), carnet.searchAccounts("boulang").map { it.id })
            assertEquals("Jeanne Martin", carnet.searchAccounts("jeanne").single().matchedContact)
            assertTrue(carnet.history(accountId).any { e -> e.changes.any { it.path == "account/name" } })
        }
        // Everything was flushed before each call returned: a new client
        // on the same directory reads it all back.
        Carnet.open(dir.path).use { again ->
            val file = again.accountFile(accountId)
            assertEquals("01 43 55 66 77", file.account.phone)
            assertEquals(1, file.notes.size)
            assertEquals(1, file.orders.size)
        }
    }

    @Test
    fun `a twin is named before creating it, and key fields are confirmed in one call`() = runBlocking<Unit> {
        val dir = tempDir("carnet-quality-")
        Carnet.createLocal(dir.path, "rep@example.fr", "Acme SARL", "Rep Test").use { carnet ->
            val martin = carnet.createAccount(
                NewAccount(name = "Boulangerie Martin", postcode = "75011", phone = "01 43 55 66 77"),
            )
            carnet.addContact(martin, NewContact(name = "Jeanne Martin", role = "Gérante"))
            val hits = carnet.duplicatesOf(NewAccount(name = "BOULANGERIE MARTIN SARL", postcode = "75011"))
            assertEquals(listOf(martin), hits.map { it.accountId })
            assertEquals("name_postcode", hits[0].reason)
            assertEquals("même nom et code postal", hits[0].reasonLabel)
            val byPhone = carnet.duplicatesOf(NewAccount(name = "Autre", phone = "+33 1 43 55 66 77"))
            assertEquals("même téléphone", byPhone.single().reasonLabel)
            assertTrue(carnet.duplicatesOf(NewAccount(name = "Boulangerie Martin", postcode = "69003")).isEmpty())

            // Entered today: nothing to check yet.
            assertTrue(carnet.accountsToCheck().isEmpty())
            carnet.verifyAccount(martin, listOf("phone", "roles"))
            val file = carnet.accountFile(martin)
            assertEquals(LocalDate.now().toString(), file.account.verifiedPhone)
            assertEquals(LocalDate.now().toString(), file.contacts.single().verifiedRole)
            assertEquals(null, file.account.verifiedEmail)
            val e = assertThrows<CarnetException.Invalid> { carnet.verifyAccount(martin, listOf("pointure")) }
            assertTrue(e.message!!.contains("pointure"))
        }
    }

    @Test
    fun `refused input surfaces as a typed Kotlin exception and writes nothing`() = runBlocking<Unit> {
        Carnet.createLocal(tempDir("carnet-errors-").path, "rep@example.fr", "Acme SARL").use { carnet ->
            val id = carnet.createAccount(NewAccount(name = "Garage Dupont"))
            val bad = assertThrows<CarnetException.Invalid> {
                runBlocking { carnet.createAccount(NewAccount(name = "Mauvais SIRET", siret = "12345678901234")) }
            }
            assertTrue(bad.reasonFr.contains("SIRET", ignoreCase = true), bad.reasonFr)
            assertTrue(bad.userMessage(english = true).isNotBlank())
            assertEquals(listOf(id), carnet.searchAccounts().map { it.id })

            val status = assertThrows<CarnetException.Invalid> {
                runBlocking { carnet.setAccountField(id, "status", "bogus") }
            }
            assertTrue(status.reasonFr.isNotBlank())
            assertEquals("prospect", carnet.accountFile(id).account.status)

            assertThrows<CarnetException.NotFound> { runBlocking { carnet.accountFile("not-a-document") } }
            assertThrows<CarnetException.Invalid> { runBlocking { carnet.variance("2026-13") } }
            // Not linked to a server: a typed error, not a crash.
            assertThrows<CarnetException.NotLoggedIn> { runBlocking { carnet.syncNow() } }
        }
        Carnet.open(tempDir("carnet-empty-").path).use { empty ->
            assertFalse(empty.isLoggedIn)
            assertThrows<CarnetException.NotLoggedIn> { runBlocking { empty.searchAccounts() } }
        }
    }

    @Test
    fun `login and sync against a real carnet-server`() = runBlocking<Unit> {
        TestServer().use { server ->
            Carnet.open(tempDir("carnet-rep-").path).use { carnet ->
                val wrong = assertThrows<CarnetException.Refused> {
                    runBlocking { carnet.login(server.url, ALICE, "not the password", "test") }
                }
                assertTrue(wrong.reasonFr.isNotBlank())
                assertFalse(carnet.isLoggedIn)

                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Pixel de test")
                carnet.syncNow()
                val accounts = carnet.searchAccounts(limit = 1000)
                assertTrue(accounts.isNotEmpty(), "alice's territory arrives")
                assertEquals(SyncPhase.UP_TO_DATE, carnet.syncStatus.phase)
                assertEquals(0u, carnet.syncStatus.pending)

                val target = accounts.first()
                carnet.setAccountField(target.id, "phone", "01 02 03 04 05")
                val created = carnet.createAccount(NewAccount(name = "Nouveau client Kotlin", postcode = "75002", city = "Paris"))
                assertEquals(2u, carnet.syncStatus.pending)
                carnet.syncNow()
                assertEquals(0u, carnet.syncStatus.pending)
                assertNotNull(carnet.syncStatus.lastAck)

                // The manager, on another device, sees both edits.
                val marc = Cli()
                marc.login(server.url, MARC)
                marc.run("sync")
                assertTrue(marc.run("account", "show", target.id, "--json").contains("01 02 03 04 05"))
                assertTrue(marc.run("account", "show", created, "--json").contains("Nouveau client Kotlin"))
            }
        }
    }

    @Test
    fun `a person erased on the server leaves the app's store, and its offline edit of the file survives`() = runBlocking<Unit> {
        TestServer().use { server ->
            val dir = tempDir("carnet-rep-")
            Carnet.open(dir.path).use { carnet ->
                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Pixel de test")
                carnet.syncNow()
                val target = carnet.searchAccounts(limit = 1000).first()
                val zoe = carnet.addContact(target.id, NewContact(name = "Zoé Quérard", email = "zoe.querard@exemple.fr"))
                carnet.syncNow()
                // Offline, an edit of the file; meanwhile the admin erases her.
                carnet.addNote(target.id, "Commande prévue en janvier")
                server.admin("erase", zoe)
                carnet.syncNow()
                val file = carnet.accountFile(target.id)
                assertTrue(file.contacts.none { it.id == zoe }, "she is gone")
                assertTrue(file.notes.any { it.body == "Commande prévue en janvier" }, "the offline note is kept")
                assertEquals(0u, carnet.syncStatus.pending, "the replayed note reached the server")
                val needles = listOf("Quérard", "querard").map { it.toByteArray(Charsets.UTF_8) }
                val holders = dir.walk().filter { it.isFile }.filter { f ->
                    val bytes = f.readBytes()
                    needles.any { n -> (0..bytes.size - n.size).any { i -> n.indices.all { bytes[i + it] == n[it] } } }
                }.toList()
                assertEquals(emptyList<java.io.File>(), holders, "no file of the app's store names her")
            }
        }
    }

    @Test
    fun `a quote leaves only with its legal mentions, and its status reads in French`() = runBlocking<Unit> {
        TestServer().use { server ->
            Carnet.open(tempDir("carnet-quote-").path).use { carnet ->
                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Tablette devis")
                carnet.syncNow()
                val line = NewQuoteLine(qty = "2", label = "Révision", unitPrice = "80", vatRate = "20")
                // A new client without an address: refused, with the list.
                val bare = carnet.createAccount(NewAccount(name = "Client sans adresse", postcode = "75002", city = "Paris"))
                val refused = carnet.createQuote(bare)
                carnet.addQuoteLine(refused, line)
                assertTrue(carnet.quoteMissingMentions(refused).any { it.contains("adresse complète du client") })
                val err = assertThrows<CarnetException.Invalid> { runBlocking { carnet.sendQuote(refused) } }
                assertTrue(err.reasonFr.contains("il manque"), err.reasonFr)
                assertEquals("brouillon", carnet.quote(refused).statusLabel)
                // A demo client has them all (the demo company too): sent.
                val client = carnet.searchAccounts(limit = 1000).first { it.id != bare }.id
                val quote = carnet.createQuote(client)
                carnet.addQuoteLine(quote, line)
                assertEquals(emptyList<String>(), carnet.quoteMissingMentions(quote))
                carnet.sendQuote(quote)
                val sent = carnet.quote(quote)
                assertEquals("sent", sent.status)
                assertEquals("envoyé", sent.statusLabel)
                // Its PDF, made on the device, read back with poppler.
                val pdf = kotlin.io.path.createTempFile("devis", ".pdf").toFile()
                pdf.writeBytes(carnet.quotePdf(quote))
                val text = ProcessBuilder("pdftotext", "-layout", pdf.path, "-").start().inputStream.bufferedReader().readText()
                assertTrue(text.contains("DEVIS N° ${sent.number}"), text)
                assertTrue(text.contains("Révision"), text)
                // Revised: v1 stays readable and linked; v2 is accepted.
                val v2 = carnet.reviseQuote(quote)
                assertEquals("superseded", carnet.quote(quote).status)
                assertEquals(quote, carnet.quote(v2).revises)
                assertEquals(2L, carnet.quote(v2).revision)
                // Accepted: its order and the customer file, as PDFs too.
                val order = carnet.acceptQuote(v2)
                pdf.writeBytes(carnet.orderPdf(order))
                val orderText = ProcessBuilder("pdftotext", "-layout", pdf.path, "-").start().inputStream.bufferedReader().readText()
                assertTrue(orderText.contains("BON DE COMMANDE N°"), orderText)
                pdf.writeBytes(carnet.accountPdf(client))
                val fileText = ProcessBuilder("pdftotext", "-layout", pdf.path, "-").start().inputStream.bufferedReader().readText()
                assertTrue(fileText.contains("Dossier client"), fileText)
                assertTrue(fileText.contains(sent.number), fileText)
                carnet.syncNow()
                assertEquals(0u, carnet.syncStatus.pending)
            }
        }
    }

    @Test
    fun `a quote emailed offline from Kotlin leaves after sync and its outcome comes back`() = runBlocking<Unit> {
        MailSink().use { sink ->
            TestServer(mailPort = sink.port).use { server ->
                Carnet.open(tempDir("carnet-mail-").path).use { carnet ->
                    carnet.login(server.url, ALICE, DEMO_PASSWORD, "Tablette e-mail")
                    carnet.syncNow()
                    val client = carnet.searchAccounts(limit = 1000).first().id
                    val quote = carnet.createQuote(client)
                    carnet.addQuoteLine(quote, NewQuoteLine(qty = "1", label = "Étude Kotlin", unitPrice = "300", vatRate = "20"))
                    // Offline: queued on the device, nothing has left.
                    val id = carnet.emailQuote(quote, "client@example.com", "Bonjour depuis la tablette.")
                    val queued = carnet.outbox().first { it.id == id }
                    assertEquals("queued", queued.status)
                    assertEquals("en attente d'envoi", queued.statusLabel)
                    assertEquals("sent", carnet.quote(quote).status)
                    assertTrue(sink.messages().isEmpty())
                    carnet.syncNow()
                    val got = sink.waitFor(1)
                    assertEquals(1, got.size)
                    assertTrue(got[0].contains("Message-ID: <$id@demo.example>"), got[0])
                    assertTrue(got[0].contains("Bonjour depuis la tablette."), got[0])
                    assertTrue(got[0].contains("Content-Type: application/pdf"), got[0])
                    // The outcome comes back with the next syncs.
                    var sent = queued
                    val deadline = System.nanoTime() + 20_000_000_000
                    while (sent.status == "queued" && System.nanoTime() < deadline) {
                        kotlinx.coroutines.delay(200)
                        carnet.syncNow()
                        sent = carnet.outbox().first { it.id == id }
                    }
                    assertEquals("sent", sent.status)
                    assertEquals("envoyé", sent.statusLabel)
                    assertEquals("<$id@demo.example>", sent.messageId)
                    // A contact who refused prospecting email: refused here.
                    val paul = carnet.addContact(client, NewContact(name = "Paul Refus", email = "paul@example.com"))
                    carnet.setContactField(paul, "consent_email", "non")
                    val err = assertThrows<CarnetException.Invalid> {
                        runBlocking { carnet.emailQuote(quote, "paul@example.com") }
                    }
                    assertTrue(err.reasonFr.contains("Paul Refus") && err.reasonFr.contains("a refusé"), err.reasonFr)
                    assertEquals(1, sink.messages().size)
                }
            }
        }
    }

    @Test
    fun `library documents for the rep download and open offline`() = runBlocking<Unit> {
        TestServer().use { server ->
            val file = kotlin.io.path.createTempFile("tarifs", ".pdf").toFile()
            file.writeBytes("%PDF-1.7 tarifs Kotlin".toByteArray())
            server.admin("library", "add", file.path, "--title", "Tarifs 2027")
            val lyon = kotlin.io.path.createTempFile("lyon", ".pdf").toFile()
            lyon.writeBytes("%PDF-1.7 Lyon".toByteArray())
            server.admin("library", "add", lyon.path, "--title", "Salon de Lyon", "--territory", "Lyon")
            Carnet.open(tempDir("carnet-lib-").path).use { carnet ->
                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Tablette documents")
                carnet.syncNow()
                val docs = carnet.library()
                assertEquals(listOf("Tarifs 2027"), docs.map { it.title })
                assertEquals(null, docs[0].localPath)
                assertEquals(1, carnet.fetchLibrary())
                assertEquals(0, carnet.fetchLibrary())
                val path = carnet.library()[0].localPath
                assertNotNull(path)
                assertEquals("%PDF-1.7 tarifs Kotlin", java.io.File(path!!).readText())
                // With background sync on, a new document arrives and is
                // downloaded by itself.
                carnet.startBackgroundSync()
                val brochure = kotlin.io.path.createTempFile("brochure", ".pdf").toFile()
                brochure.writeBytes("%PDF-1.7 brochure".toByteArray())
                server.admin("library", "add", brochure.path, "--title", "Brochure")
                var arrived: String? = null
                val deadline = System.nanoTime() + 20_000_000_000
                while (arrived == null && System.nanoTime() < deadline) {
                    kotlinx.coroutines.delay(200)
                    arrived = carnet.library().firstOrNull { it.title == "Brochure" }?.localPath
                }
                carnet.stopBackgroundSync()
                assertNotNull(arrived, "the brochure was not downloaded in the background")
                assertEquals("%PDF-1.7 brochure", java.io.File(arrived!!).readText())
            }
        }
    }

    @Test
    fun `the manager's dashboard works offline against the demo's targets`() = runBlocking<Unit> {
        TestServer().use { server ->
            Carnet.open(tempDir("carnet-marc-").path).use { carnet ->
                carnet.login(server.url, MARC, DEMO_PASSWORD, "Tablette")
                carnet.syncNow()
                val last = java.time.YearMonth.now(java.time.ZoneOffset.UTC).minusMonths(1).toString()
                val dash = carnet.dashboard(last, ALICE)
                val orders = dash.figures.first { it.indicator == "orders_value" }
                assertEquals("money", orders.unit)
                // The demo sets Alice 20,000.00 a month; the actual is what
                // the variance report (another path) counts.
                assertEquals(2_000_000L, orders.target)
                assertEquals(carnet.variance(last, ALICE).actualCents, orders.actual)
                assertEquals(orders.actual - 2_000_000L, orders.variance)
                assertEquals(12, dash.chart.size)
                assertEquals(last, dash.chart.last().period)
            }
        }
    }

    @Test
    fun `a listener receives a change made by a second client`() = runBlocking<Unit> {
        TestServer().use { server ->
            Carnet.open(tempDir("carnet-live-").path).use { carnet ->
                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Tablette")
                carnet.syncNow()
                val target = carnet.searchAccounts(limit = 1).single()

                carnet.startBackgroundSync()
                withTimeout(30_000) { carnet.syncStatusFlow.first { it.phase == SyncPhase.UP_TO_DATE && it.background } }

                val other = Cli()
                other.login(server.url, ALICE)
                other.run("sync")
                val changed = this@runBlocking.async {
                    withTimeout(30_000) { carnet.changes.first { target.id in it } }
                }
                kotlinx.coroutines.delay(200) // the collector is subscribed
                other.run("account", "set", target.id, "city", "Vincennes")
                other.run("sync")
                changed.await()
                assertEquals("Vincennes", carnet.accountFile(target.id).account.city)

                // And the other way: an edit here leaves at once on the live
                // connection, without a sync call.
                carnet.setAccountField(target.id, "phone", "06 11 22 33 44")
                withTimeout(30_000) { carnet.syncStatusFlow.first { it.pending == 0u && it.phase == SyncPhase.UP_TO_DATE } }
                other.run("sync")
                assertTrue(other.run("account", "show", target.id, "--json").contains("06 11 22 33 44"))

                carnet.stopBackgroundSync()
                assertEquals(SyncPhase.OFFLINE, carnet.syncStatus.phase)
                assertFalse(carnet.syncStatus.background)
            }
        }
    }

    @Test
    fun `edits made while the server is down are kept and sent later`() = runBlocking<Unit> {
        val server = TestServer()
        val dir = tempDir("carnet-down-")
        val id: String
        Carnet.open(dir.path).use { carnet ->
            carnet.login(server.url, ALICE, DEMO_PASSWORD, "Téléphone")
            carnet.syncNow()
            id = carnet.searchAccounts(limit = 1).single().id
            server.close()
            carnet.setAccountField(id, "website", "https://exemple.fr")
            val offline = assertThrows<CarnetException.Network> { runBlocking { carnet.syncNow() } }
            assertTrue(offline.reasonFr.isNotBlank())
            assertEquals(1u, carnet.syncStatus.pending)
            assertEquals(SyncPhase.OFFLINE, carnet.syncStatus.phase)
        }
        // Same data directory, same port: the server is back.
        TestServer(server.data, server.url.removePrefix("http://")).use { back ->
            Carnet.open(dir.path).use { carnet ->
                assertEquals(1u, carnet.syncStatus.pending)
                carnet.syncNow()
                assertEquals(0u, carnet.syncStatus.pending)
                val marc = Cli()
                marc.login(back.url, MARC)
                marc.run("sync")
                assertTrue(marc.run("account", "show", id, "--json").contains("https://exemple.fr"))
            }
        }
    }

    @Test
    fun `concurrent edits show as a conflict that Kotlin resolves`() = runBlocking<Unit> {
        TestServer().use { server ->
            Carnet.open(tempDir("carnet-conflict-").path).use { carnet ->
                carnet.login(server.url, ALICE, DEMO_PASSWORD, "Tablette")
                carnet.syncNow()
                val target = carnet.searchAccounts(limit = 1).single()
                val other = Cli()
                other.login(server.url, ALICE)
                other.run("sync")

                // Both write the same field without seeing each other.
                carnet.setAccountField(target.id, "phone", "01 11 11 11 11")
                other.run("account", "set", target.id, "phone", "02 22 22 22 22")
                other.run("sync")
                carnet.syncNow()

                val conflict = carnet.conflicts().single { it.doc == target.id && it.field == "phone" }
                assertEquals(setOf("01 11 11 11 11", "02 22 22 22 22"), conflict.values.map { it.value }.toSet())
                assertTrue(conflict.values.all { it.author == ALICE })
                assertEquals(1u, carnet.accountFile(target.id).conflicts)

                carnet.resolveConflict(conflict, "02 22 22 22 22")
                assertTrue(carnet.conflicts().none { it.doc == target.id })
                carnet.syncNow()
                other.run("sync")
                assertTrue(other.run("conflicts", "--json").let { !it.contains(target.id) })
                assertTrue(other.run("account", "show", target.id, "--json").contains("02 22 22 22 22"))
            }
        }
    }

    @Test
    fun `background sync goes offline when the server dies and delivers edits once it is back`() = runBlocking<Unit> {
        val server = TestServer()
        Carnet.open(tempDir("carnet-reconnect-").path).use { carnet ->
            carnet.login(server.url, ALICE, DEMO_PASSWORD, "Téléphone")
            carnet.syncNow()
            val id = carnet.searchAccounts(limit = 1).single().id
            carnet.startBackgroundSync()
            withTimeout(30_000) { carnet.syncStatusFlow.first { it.phase == SyncPhase.UP_TO_DATE } }

            server.close()
            val down = withTimeout(30_000) { carnet.syncStatusFlow.first { it.phase == SyncPhase.OFFLINE } }
            assertTrue(down.background, "still trying in the background")
            assertNotNull(down.lastError)
            carnet.setAccountField(id, "city", "Montreuil")
            assertEquals(1u, carnet.syncStatus.pending)

            TestServer(server.data, server.url.removePrefix("http://")).use { back ->
                carnet.networkAvailable()
                withTimeout(30_000) { carnet.syncStatusFlow.first { it.phase == SyncPhase.UP_TO_DATE && it.pending == 0u } }
                assertEquals(null, carnet.syncStatus.lastError)
                val marc = Cli()
                marc.login(back.url, MARC)
                marc.run("sync")
                assertTrue(marc.run("account", "show", id, "--json").contains("Montreuil"))
            }
            carnet.stopBackgroundSync()
        }
    }
}
