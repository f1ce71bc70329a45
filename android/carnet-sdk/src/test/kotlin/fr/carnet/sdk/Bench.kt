package fr.carnet.sdk

// Benchmark of the Kotlin SDK on the JVM, through JNA and the wrapper's
// suspend functions (so every figure includes the FFI crossing and the
// dispatch to Dispatchers.IO), on the core benchmark's portfolio.
//
//   scripts/bench-kotlin      (builds release binaries, then runs this)
//
// Prints a Markdown table with the Rust-native figures of the same run
// (bench-core, the `carnet` CLI) beside the Kotlin ones, as a ratio.

import kotlinx.coroutines.runBlocking
import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.random.Random

private const val RUNS = 200
private const val OPENS = 7

private fun millis(nanos: Long) = nanos / 1e6

private fun percentile(xs: List<Double>, p: Double): Double {
    val s = xs.sorted()
    return s[((s.size - 1) * p).toInt()]
}

private inline fun timed(block: () -> Unit): Double {
    val t = System.nanoTime()
    block()
    return millis(System.nanoTime() - t)
}

private fun run(vararg cmd: String): String {
    val p = ProcessBuilder(*cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    val out = p.inputStream.bufferedReader().readText()
    check(p.waitFor(30, TimeUnit.MINUTES) && p.exitValue() == 0) { "${cmd.toList()} failed" }
    return out
}

fun main() = runBlocking {
    val accounts = System.getProperty("carnet.bench.accounts")?.toInt() ?: 5000
    val rows = mutableListOf<String>()
    println("# Kotlin SDK benchmark ($accounts accounts, JVM ${System.getProperty("java.version")})")

    // ----- local store: the core benchmark's portfolio ------------------
    val store = tempDir("carnet-bench-store-")
    store.deleteRecursively()
    val core = run(File(binDir, "bench-core").path, "--accounts", "$accounts", "--keep", store.path)
    println("\n## bench-core (Rust, same run)\n")
    println(core.trim())
    fun coreP99(metric: String): String =
        core.lines().firstOrNull { it.startsWith("| $metric") }?.split("|")?.getOrNull(2)?.trim() ?: "?"

    val opens = (1..OPENS).map {
        var c: Carnet? = null
        val ms = timed { c = Carnet.open(store.path) }
        c!!.shutdown()
        c!!.close()
        ms
    }
    val carnet = Carnet.open(store.path)
    val ids = carnet.searchAccounts("", 100_000).map { it.id }
    check(ids.size == accounts) { "expected $accounts accounts, found ${ids.size}" }
    val rnd = Random(7)
    val words = carnet.searchAccounts("", 100_000).map { it.name.split(" ").first().take(4) }
    // Warm up the JIT and the library.
    val week = java.time.LocalDate.now().plusDays(7).toString()  // as bench-core
    repeat(50) { carnet.todo(week); carnet.searchAccounts(words[rnd.nextInt(words.size)]); carnet.accountFile(ids[rnd.nextInt(ids.size)]) }
    val todo = (1..RUNS).map { timed { carnet.todo(week) } }
    val myDay = (1..RUNS).map { timed { carnet.myDay() } }
    val search = (1..RUNS).map { timed { carnet.searchAccounts(words[rnd.nextInt(words.size)], 50) } }
    val file = (1..RUNS).map { timed { carnet.accountFile(ids[rnd.nextInt(ids.size)]) } }
    carnet.shutdown()
    carnet.close()

    fun row(name: String, xs: List<Double>, target: String, rust: String) {
        rows += "| $name | %.1f ms | %.1f ms | $rust | $target |".format(percentile(xs, 0.5), percentile(xs, 0.99))
    }
    row("open (5,000-account store)", opens, "≤ 500 ms", coreP99("open"))
    row("to-do list, next 7 days", todo, "p99 ≤ 30 ms", coreP99("todo"))
    row("my day (to-do + visits)", myDay, "p99 ≤ 30 ms", "—")
    row("search by name", search, "p99 ≤ 30 ms", coreP99("name search"))
    row("account file", file, "p99 ≤ 30 ms", coreP99("account file"))

    // ----- full sync from a fresh store -----------------------------------
    TestServer().use { server ->
        // The admin uploads (the portfolio writes catalog products, which a
        // rep may not) and a fresh admin device pulls everything.
        val upload = run(File(binDir, "bench-upload").path, server.url, ADMIN, DEMO_PASSWORD, "--accounts", "$accounts")
        println("\n$upload".trimEnd())
        val kotlinSync = (1..3).map {
            val c = Carnet.open(tempDir("carnet-bench-sync-").path)
            c.login(server.url, ADMIN, DEMO_PASSWORD, "bench")
            val ms = timed { c.syncNow() }
            val n = c.searchAccounts("", 100_000).size
            check(n >= accounts) { "synced $n accounts, expected at least $accounts" }
            c.shutdown()
            c.close()
            ms
        }
        val cliSync = (1..3).map {
            val cli = Cli()
            cli.login(server.url, ADMIN)
            timed { cli.run("sync") }
        }
        val k = percentile(kotlinSync, 0.5)
        val r = percentile(cliSync, 0.5)
        rows += "| full sync, fresh store (median of 3) | %.0f ms | max %.0f ms | CLI process %.0f ms (Kotlin/CLI %.2f×) | ≤ 5 s |"
            .format(k, kotlinSync.max(), r, k / r)
    }

    println("\n## Kotlin SDK through JNA (same run)\n")
    println("| operation | median | p99 | Rust in the same run (p99 / CLI) | target |")
    println("|---|---|---|---|---|")
    rows.forEach(::println)
}
