import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { createServer as createNetServer } from "node:net"
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assertBuilt, BIN, isOneLine, LAUNCHER, run, runInProcess, tempDir } from "./helpers.js"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

/** Every command and group, each with its own --help. */
const commands = [
  ["keys"],
  ["keys", "generate"],
  ["keys", "rotate"],
  ["keys", "k8s"],
  ["keys", "clean"],
  ["token"],
  ["token", "mint"],
  ["doctor"],
  ["vault"],
  ["vault", "list"],
  ["vault", "revoke"]
]
const leaves = commands.filter((c) => !commands.some((o) => o.length > c.length && c.every((w, i) => o[i] === w)))

describe.concurrent("mcp-credentials", () => {
  const tmp = tempDir()
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)

  it("--version through the package bin: an executable launcher of dist/bin.js, both with a node shebang", async () => {
    assert.deepStrictEqual(pkg.bin, { "mcp-credentials": "./bin/mcp-credentials.js" })
    assert.isTrue(readFileSync(BIN, "utf8").startsWith("#!/usr/bin/env node\n"))
    assert.isTrue(readFileSync(LAUNCHER, "utf8").startsWith("#!/usr/bin/env node\n"))
    assert.notStrictEqual(statSync(LAUNCHER).mode & 0o111, 0)
    const r = await run(["--version"], { bin: LAUNCHER })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout.trim(), pkg.version)
    assert.strictEqual(r.stderr, "")
  })

  it("--help: the root lists every command, without ANSI escapes when piped; every command and group has its own", async () => {
    const root = await run(["--help"])
    assert.strictEqual(root.code, 0)
    assert.notInclude(root.stdout, "\u001b[")
    for (const c of leaves) assert.include(root.stdout, `- ${c.join(" ")}`)
    // each command's own help, in process (the binary's help parsing is the root's, above)
    for (const c of commands) {
      const r = await runInProcess([...c, "--help"])
      const what = `${c.join(" ")} --help: ${r.stderr}`
      assert.strictEqual(r.code, 0, what)
      assert.include(r.stdout, `$ ${c[c.length - 1]}`, what)
      assert.match(r.stdout, /DESCRIPTION\n\n\S.{10,}/, what)
    }
  })

  it("shell completions (bash; zsh and fish are the same built-in)", async () => {
    const r = await run(["--completions", "bash"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "mcp-credentials")
    assert.include(r.stdout, "complete -F")
  })

  it("an unknown command, an unknown option, a bad or missing value: one line on stderr, exit 2, nothing on stdout", async () => {
    const results = await Promise.all([
      run(["nope"]),
      run(["keys", "rotate", "--use", "both"]),
      run(["keys", "clean", "--dir"]),
      runInProcess(["keys", "generate", "--nope"])
    ])
    for (const r of results) {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.strictEqual(r.stdout, "")
      assert.isTrue(isOneLine(r.stderr), r.stderr)
    }
  })

  it("fix: a parse error never repeats an argument's value (a mistyped --redis-url, a stray positional), only an option's name", async () => {
    const secret = "CANARYCLIPW77"
    const results = await Promise.all([
      runInProcess(["vault", "list", "--store", "redis", `--redis_url=redis://:${secret}@127.0.0.1:1/0`]),
      runInProcess(["keys", "generate", `redis://:${secret}@127.0.0.1:1/0`]),
      // a quote inside the value, and a value over two lines
      runInProcess(["vault", "list", "--store", "redis", `--redis_url=redis://:pa'ss-${secret}@127.0.0.1:1/0`]),
      runInProcess(["keys", "generate", `line one\n${secret}`])
    ])
    for (const r of results) {
      assert.strictEqual(r.code, 2, r.stderr)
      assert.notInclude(r.stderr + r.stdout, secret)
      assert.include(r.stderr, "Received unknown argument")
    }
    assert.include(results[0]!.stderr, "'--redis_url=…'")
  })

  it("npx mcp-credentials --help at the repository root, through the workspace's bin link", async () => {
    const link = join(ROOT, "node_modules", ".bin", "mcp-credentials")
    assert.isTrue(lstatSync(link).isSymbolicLink(), `${link} is not linked: run npm ci at the repository root`)
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile("npx", ["--no", "--", "mcp-credentials", "--help"], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
    )
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "USAGE")
    assert.include(r.stdout, "- vault list")
  })

  it("the launcher without dist/ outside a source checkout: one line, exit 1", async () => {
    const dir = join(tmp.dir, "installed")
    mkdirSync(join(dir, "bin"), { recursive: true })
    cpSync(LAUNCHER, join(dir, "bin", "mcp-credentials.js"))
    cpSync(fileURLToPath(new URL("../package.json", import.meta.url)), join(dir, "package.json"))
    const r = await run(["--help"], { bin: join(dir, "bin", "mcp-credentials.js") })
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "mcp-credentials: not built")
  })

  it("the launcher in a checkout as npm ci leaves it (no dist/ anywhere): builds with tsc -b, then runs", async () => {
    // a copy of the workspace: every package's sources, the repository's node_modules linked in
    const root = join(tmp.dir, "checkout")
    mkdirSync(join(root, "node_modules", "@mcp-credentials"), { recursive: true })
    cpSync(join(ROOT, "tsconfig.base.json"), join(root, "tsconfig.base.json"))
    for (const name of readdirSync(join(ROOT, "packages"))) {
      const from = join(ROOT, "packages", name)
      if (!existsSync(join(from, "tsconfig.json"))) continue
      for (const part of ["package.json", "tsconfig.json", "src", ...(name === "cli" ? ["bin"] : [])]) {
        cpSync(join(from, part), join(root, "packages", name, part), { recursive: true })
      }
      symlinkSync(join(root, "packages", name), join(root, "node_modules", "@mcp-credentials", name))
    }
    for (const entry of readdirSync(join(ROOT, "node_modules"))) {
      if (entry !== "@mcp-credentials") symlinkSync(join(ROOT, "node_modules", entry), join(root, "node_modules", entry))
    }
    const launcher = join(root, "packages", "cli", "bin", "mcp-credentials.js")
    assert.isFalse(existsSync(join(root, "packages", "cli", "dist")))

    const first = await run(["--version"], { bin: launcher, timeout: 240_000 })
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(first.stdout.trim(), pkg.version)
    assert.isTrue(isOneLine(first.stderr), first.stderr)
    assert.include(first.stderr, "building it once with `tsc -b`")
    assert.isTrue(existsSync(join(root, "packages", "cli", "dist", "bin.js")))
    assert.isTrue(existsSync(join(root, "packages", "core", "dist", "index.js")))
  }, 300_000)
})

describe("signals", () => {
  it.live("fix: Ctrl-C (SIGINT) or SIGTERM during a command exits 130, not 0", () =>
    Effect.promise(async () => {
      // a "Redis" that accepts connections and never answers: the command waits on it
      const silent = createNetServer((socket) => socket.on("error", () => undefined))
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
      const port = (silent.address() as { port: number }).port
      try {
      // both at once (the command exits once the store's connection attempt gives up, ~10 s)
      await Promise.all((["SIGINT", "SIGTERM"] as const).map(async (signal) => {
        const child = spawn(process.execPath, [BIN, "vault", "list", "--store", "redis"], {
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            REDIS_URL: `redis://127.0.0.1:${port}`,
            MCP_CREDENTIALS_ENCRYPTION_KEY: randomBytes(32).toString("base64")
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
        let stdout = ""
        child.stdout.on("data", (d) => (stdout += String(d)))
        // started (modules loaded, the signal handlers installed) and still waiting on the store
        await new Promise((r) => setTimeout(r, 3000))
        assert.isNull(child.exitCode, "still waiting on the store")
        child.kill(signal)
        const code = await exited
        assert.strictEqual(code, 130, signal)
        assert.notInclude(stdout, "No credentials stored")
      }))
      } finally {
        silent.close()
      }
    }), 30_000)
})

describe("command groups", () => {
  it("fix: a group without its subcommand is a usage error (exit 2, one line naming the subcommands), as the seed's CLI", async () => {
    for (const [args, named] of [
      [[], "keys, token, doctor, vault"],
      [["keys"], "generate, rotate, k8s, clean"],
      [["token"], "mint"],
      [["vault"], "list, revoke"]
    ] as const) {
      const r = await run(args)
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.strictEqual(r.stdout, "")
      assert.isTrue(isOneLine(r.stderr), r.stderr)
      assert.include(r.stderr, named)
      assert.include(r.stderr, "--help")
    }
  }, 60_000)
})
