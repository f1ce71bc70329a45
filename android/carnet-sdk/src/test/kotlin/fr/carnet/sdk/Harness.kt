package fr.carnet.sdk

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/** The directory with the host-built `carnet` and `carnet-server` binaries. */
val binDir: File = File(System.getProperty("carnet.bin.dir") ?: error("carnet.bin.dir not set"))

const val DEMO_PASSWORD = "carnet-demo"
const val ALICE = "alice@demo.carnet.fr"
const val MARC = "marc@demo.carnet.fr"
const val ADMIN = "admin@demo.carnet.fr"

fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile().also { it.deleteOnExit() }

/**
 * A real `carnet-server` on loopback: a new demo tenant on a free port, or
 * (given [existing] data and a [listen] address) the same server restarted.
 */
class TestServer(existing: File? = null, listen: String = "127.0.0.1:0", mailPort: Int? = null) : AutoCloseable {
    val data: File = existing ?: tempDir("carnet-server-")
    private val process: Process
    val url: String

    init {
        val exe = File(binDir, "carnet-server")
        check(exe.canExecute()) { "missing $exe: build it with cargo build -p carnet-server" }
        var command = if (existing == null) "demo" else "serve"
        if (mailPort != null) {
            // The demo tenant, its outbox sent to a mail server on loopback.
            if (existing == null) admin(exe, "demo", "--no-serve")
            admin(
                exe, "mail", "set", "--host", "127.0.0.1", "--port", "$mailPort", "--security", "none",
                "--from", "Démo Carnet <devis@demo.example>", "--retry-secs", "1",
            )
            command = "serve"
        }
        process = ProcessBuilder(exe.path, "--data", data.path, command, "--listen", listen)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val reader = process.inputStream.bufferedReader()
        var found: String? = null
        while (found == null) {
            val line = reader.readLine() ?: error("carnet-server exited before listening")
            if (line.startsWith("listening on ")) found = line.removePrefix("listening on ").trim()
        }
        url = found
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread { reader.lineSequence().forEach { } }.apply { isDaemon = true }.start()
    }

    /** An admin command on this server's data (through the running server). */
    fun admin(vararg args: String) = admin(File(binDir, "carnet-server"), *args)

    private fun admin(exe: File, vararg args: String) {
        val p = ProcessBuilder(listOf(exe.path, "--data", data.path) + args)
            .redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "carnet-server ${args.toList()}: $out" }
    }

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/**
 * A real SMTP server on loopback: the repository's `tests/smtp/sink.py` on
 * Debian's aiosmtpd, storing each message it accepts as a `.eml` file.
 */
class MailSink : AutoCloseable {
    val dir: File = tempDir("carnet-sink-")
    private val process: Process
    val port: Int

    init {
        val script = File("../../tests/smtp/sink.py").canonicalFile
        check(script.exists()) { "missing $script" }
        process = ProcessBuilder("/usr/bin/python3", script.path, dir.path)
            .redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = process.inputStream.bufferedReader().readLine() ?: error("the SMTP sink did not start")
        port = line.removePrefix("listening ").trim().toInt()
    }

    /** The stored messages, in order. */
    fun messages(): List<String> =
        (dir.listFiles { f -> f.name.endsWith(".eml") } ?: emptyArray()).sortedBy { it.name }.map { it.readText() }

    /** Waits (up to [seconds]) for at least [n] messages. */
    fun waitFor(n: Int, seconds: Long = 20): List<String> {
        val deadline = System.nanoTime() + seconds * 1_000_000_000
        while (messages().size < n && System.nanoTime() < deadline) Thread.sleep(50)
        return messages()
    }

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** The `carnet` CLI on its own store: a second device. */
class Cli(val store: File = tempDir("carnet-cli-")) {
    fun run(vararg args: String, stdin: String? = null): String {
        val exe = File(binDir, "carnet")
        val p = ProcessBuilder(listOf(exe.path, "--store", store.path) + args).start()
        if (stdin != null) p.outputStream.bufferedWriter().use { it.write(stdin) } else p.outputStream.close()
        val out = p.inputStream.bufferedReader().readText()
        val err = p.errorStream.bufferedReader().readText()
        check(p.waitFor(120, TimeUnit.SECONDS)) { "carnet ${args.toList()} timed out" }
        check(p.exitValue() == 0) { "carnet ${args.toList()} failed: $err" }
        return out.trim()
    }

    fun login(url: String, email: String) {
        run("login", url, "--email", email, "--password-stdin", stdin = "$DEMO_PASSWORD\n")
    }
}
