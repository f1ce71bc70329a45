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
class TestServer(existing: File? = null, listen: String = "127.0.0.1:0") : AutoCloseable {
    val data: File = existing ?: tempDir("carnet-server-")
    private val process: Process
    val url: String

    init {
        val exe = File(binDir, "carnet-server")
        check(exe.canExecute()) { "missing $exe: build it with cargo build -p carnet-server" }
        val command = if (existing == null) "demo" else "serve"
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
