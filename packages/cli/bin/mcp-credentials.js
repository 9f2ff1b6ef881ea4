#!/usr/bin/env node
// The `mcp-credentials` launcher. It lives outside dist/ because npm links a package's bin only
// when the file exists at install time: a bin pointing into dist/ would not be linked by a
// `npm ci` on a fresh checkout. It runs the built program, dist/bin.js.
import("../dist/bin.js").catch((error) => {
  const message = String(error?.message ?? error).split("\n")[0]
  if (error?.code === "ERR_MODULE_NOT_FOUND" && message.includes("dist/bin.js")) {
    console.error("mcp-credentials: not built yet: run `npm run build` at the repository root first")
  } else {
    console.error(`mcp-credentials: cannot start: ${message}`)
  }
  process.exitCode = 1
})
