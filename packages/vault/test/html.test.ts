/**
 * The form's HTML without a browser (browser.test.ts checks the same payloads in Chromium): every
 * interpolated value is escaped, the guide's Markdown is rendered without raw HTML and sanitised.
 */
import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import { CredentialsPage, CredentialsProvider } from "../src/index.js"
import * as Html from "../src/internal/html.js"

const payload = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

describe("credential page HTML", () => {
  it("labels, hints, values, messages and the user's name are escaped", () => {
    const provider = CredentialsProvider.make({
      name: "x",
      title: payload,
      variables: { pat: { label: payload, hint: payload, type: "password" }, notes: { type: "textarea", hint: payload, required: false } }
    })
    const html = Html.formPage("nonce", provider, `/submit?t=${payload}`, payload, payload, {
      values: { notes: payload, pat: "never-shown" },
      fieldErrors: { pat: payload },
      error: payload
    })
    assert.notInclude(html, "<script>")
    assert.notInclude(html, "<img")
    assert.notInclude(html, payload)
    assert.notInclude(html, `"><script`)
    assert.notInclude(html, "never-shown") // a password field is never refilled
    assert.include(html, "&#34;&#62;&#60;script&#62;alert(1)&#60;&#47;script&#62;")
    assert.strictEqual((html.match(/<script/gi) ?? []).length, 0)
  })

  it("fix: a variable's name is escaped in the field's id and label too", () => {
    const provider = CredentialsProvider.make({ name: "x", variables: { [payload]: { type: "string" } } })
    const html = Html.formPage("nonce", provider, "/submit", "csrf", "user", {})
    assert.notInclude(html, payload)
    assert.strictEqual((html.match(/<script/gi) ?? []).length, 0)
    assert.strictEqual((html.match(/<img/gi) ?? []).length, 0)
  })

  it("fix: CredentialsPage.router checks its providers: an invalid one throws its ProviderConfigError when the router is built", () => {
    const options = { baseUrl: "https://mcp.example", oidc: { issuer: "https://idp.example", clientId: "c", clientSecret: Redacted.make("s") } }
    for (const [provider, field] of [
      [CredentialsProvider.make({ name: "Bad Name", variables: { pat: {} } }), "name"],
      [CredentialsProvider.make({ name: "x", variables: {} }), "variables"],
      [CredentialsProvider.make({ name: "x", variables: { [payload]: {} } }), `variables.${payload}`],
      [CredentialsProvider.make({ name: "x", variables: { pat: {} }, timeout: "10 millis" }), "timeout"],
      // fix: a credential that expires before the call that asked for it (or its retry) can read it
      [CredentialsProvider.make({ name: "x", variables: { pat: {} }, ttl: 0 }), "ttl"],
      [CredentialsProvider.make({ name: "x", variables: { pat: {} }, ttl: "5 seconds" }), "ttl"]
    ] as const) {
      let thrown: unknown
      try {
        CredentialsPage.router({ ...options, providers: [provider] })
      } catch (e) {
        thrown = e
      }
      assert.strictEqual((thrown as { _tag?: string })?._tag, "ProviderConfigError", field)
      assert.strictEqual((thrown as { field?: string }).field, field)
    }
    CredentialsPage.router({ ...options, providers: [CredentialsProvider.make({ name: "jira", variables: { pat: {} } })] })
    // a short-lived credential, shorter than the link lives, is fine
    CredentialsPage.router({ ...options, providers: [CredentialsProvider.make({ name: "jira", variables: { pat: {} }, ttl: "2 minutes" })] })
  })

  it("fix: variable names are any field name (base-url, api.key), as the seed allows; __proto__ is refused", () => {
    const options = { baseUrl: "https://mcp.example", oidc: { issuer: "https://idp.example", clientId: "c", clientSecret: Redacted.make("s") } }
    const provider = CredentialsProvider.make({ name: "jira", variables: { "base-url": { type: "url" }, "api.key": {}, toString: {} } })
    CredentialsPage.router({ ...options, providers: [provider] })
    const html = Html.formPage("nonce", provider, "/submit", "csrf", "user", {})
    assert.include(html, 'name="base-url"')
    assert.include(html, 'name="api.key"')
    // an inherited member is no value (it rendered Object.prototype.toString's source)
    assert.notInclude(html, "native code")
    for (const name of ["__proto__", "-x", ".x", "a b", "a/b", ""]) {
      let thrown: unknown
      try {
        CredentialsPage.router({ ...options, providers: [CredentialsProvider.make({ name: "x", variables: { [name]: {} } })] })
      } catch (e) {
        thrown = e
      }
      assert.strictEqual((thrown as { _tag?: string })?._tag, "ProviderConfigError", name)
    }
  })

  it("the guide: no raw HTML, no javascript: links, no images or iframes; Markdown still renders", () => {
    const out = Html.renderGuide([
      "# Title <script>alert(1)</script>",
      "<img src=x onerror=alert(2)><iframe src=https://evil.example></iframe>",
      "[a](javascript:alert(3)) [b](https://ok.example) ![i](https://img.example/x.png)",
      "**bold** `code`"
    ].join("\n\n"))
    assert.include(out, "<h1>Title &lt;script&gt;alert(1)&lt;/script&gt;</h1>")
    assert.notInclude(out, "<script")
    assert.notInclude(out, "<img")
    assert.notInclude(out, "<iframe")
    assert.notInclude(out, 'href="javascript:')
    assert.include(out, '<a href="https://ok.example" rel="noopener noreferrer" target="_blank">b</a>')
    assert.include(out, "<strong>bold</strong>")
  })

  it("security headers: CSP without script and without framing, no referrer, no caching", () => {
    const h = Html.headers("abc")
    assert.strictEqual(h["content-security-policy"], "default-src 'none'; style-src 'nonce-abc'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    assert.strictEqual(h["referrer-policy"], "no-referrer")
    assert.strictEqual(h["cache-control"], "no-store")
  })
})

describe("the pages' own-path check (where a sign-in returns to)", () => {
  it("fix: only a path under the base path on our own origin; never one a browser reads as another host", async () => {
    const { ownPath } = await import("../src/internal/pageSession.js")
    for (const base of ["/credentials", ""]) {
      assert.strictEqual(ownPath(base, `${base}/jira/start?t=abc`), `${base}/jira/start?t=abc`)
      for (
        const bad of [
          "//evil.example/x",
          "/\\evil.example/x",
          `${base}/\\evil.example`,
          "/\t/evil.example/x",
          `${base}/\n/evil.example`,
          "https://evil.example/credentials/x",
          ...(base === "" ? [] : [`${base}/../../x`, "/other/path"]),
          ""
        ]
      ) {
        assert.strictEqual(ownPath(base, bad), `${base}/`, JSON.stringify(bad))
      }
    }
  })
})
