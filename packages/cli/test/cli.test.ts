import { assert, beforeAll, describe, it } from "@effect/vitest"
import { readFileSync, statSync } from "node:fs"
import { assertBuilt, BIN, isOneLine, LAUNCHER, run } from "./helpers.js"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

describe.concurrent("mcp-credentials", () => {
  beforeAll(assertBuilt)

  it("--version; the package bin is an executable launcher of dist/bin.js, which starts with a node shebang", async () => {
    assert.deepStrictEqual(pkg.bin, { "mcp-credentials": "./bin/mcp-credentials.js" })
    assert.isTrue(readFileSync(BIN, "utf8").startsWith("#!/usr/bin/env node\n"))
    assert.isTrue(readFileSync(LAUNCHER, "utf8").startsWith("#!/usr/bin/env node\n"))
    assert.notStrictEqual(statSync(LAUNCHER).mode & 0o111, 0)
    const [viaLauncher, direct] = await Promise.all([run(["--version"], { bin: LAUNCHER }), run(["--version"])])
    assert.strictEqual(viaLauncher.code, 0, viaLauncher.stderr)
    assert.strictEqual(viaLauncher.stdout.trim(), pkg.version)
    assert.strictEqual(direct.stdout.trim(), pkg.version)
  })

  it("--help on the root (listing every command) and on a command of each group, without ANSI escapes when piped", async () => {
    const commands = [["keys", "generate"], ["keys", "rotate"], ["keys", "k8s"], ["keys", "clean"], ["token", "mint"], ["doctor"]]
    // one leaf of each group (every leaf is listed on the root's help; each is a Command.make with a description)
    const sampled = [["keys", "k8s"], ["token", "mint"], ["doctor"]]
    const [root, ...results] = await Promise.all([run(["--help"]), ...sampled.map((c) => run([...c, "--help"]))])
    assert.strictEqual(root!.code, 0)
    assert.notInclude(root!.stdout, "\u001b[")
    for (const c of commands) assert.include(root!.stdout, `- ${c.join(" ")}`)
    for (const [i, c] of sampled.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 0, `${c.join(" ")}: ${r.stderr}`)
      assert.include(r.stdout, "USAGE", c.join(" "))
      assert.include(r.stdout, "DESCRIPTION", c.join(" "))
    }
  })

  it("shell completions (bash; zsh and fish are the same built-in)", async () => {
    const shells = ["bash"]
    const results = await Promise.all(shells.map((shell) => run(["--completions", shell])))
    for (const [i, shell] of shells.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 0, shell)
      assert.include(r.stdout, "mcp-credentials", shell)
    }
  })

  it("an unknown command or option: one line on stderr, exit 2, nothing on stdout", async () => {
    const cases = [["nope"], ["keys", "generate", "--nope"]]
    const results = await Promise.all(cases.map((args) => run(args)))
    for (const [i, args] of cases.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 2, args.join(" "))
      assert.strictEqual(r.stdout, "")
      assert.isTrue(isOneLine(r.stderr), `${args.join(" ")}: ${r.stderr}`)
    }
  })
})
