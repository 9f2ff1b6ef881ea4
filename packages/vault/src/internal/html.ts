/**
 * The credential pages' HTML: every interpolated value escaped, the guide rendered by
 * markdown-it (raw HTML off) and sanitised, one nonce'd style block, no script at all.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import MarkdownIt from "markdown-it"
import sanitizeHtml from "sanitize-html"
import * as crypto from "node:crypto"
import type { CredentialsProvider, ResolvedVariable } from "../CredentialsProvider.js"

/** @internal */
export const escape = (s: string): string =>
  s.replace(/[&<>"'`=/]/g, (c) => `&#${c.charCodeAt(0)};`)

const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false })

/** @internal */
export const renderGuide = (source: string): string =>
  sanitizeHtml(markdown.render(source), {
    allowedTags: [
      "h1", "h2", "h3", "h4", "h5", "h6", "p", "a", "ul", "ol", "li", "strong", "em", "code", "pre",
      "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "del", "s"
    ],
    allowedAttributes: { a: ["href", "title", "rel", "target"], th: ["style"], td: ["style"] },
    allowedStyles: { th: { "text-align": [/^(left|right|center)$/] }, td: { "text-align": [/^(left|right|center)$/] } },
    allowedSchemes: ["https", "http", "mailto"],
    allowProtocolRelative: false,
    transformTags: {
      a: sanitizeHtml.simpleTransform("a", { rel: "noopener noreferrer", target: "_blank" })
    }
  })

/** The security headers of every page; `nonce` allows the one style block. */
/** @internal */
export const headers = (nonce: string): Record<string, string> => ({
  "content-security-policy": [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'"
  ].join("; "),
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  pragma: "no-cache",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY"
})

/** @internal */
export const newNonce = (): string => crypto.randomBytes(16).toString("base64")

/** A page as the response, with a fresh nonce and the security headers. @internal */
export const respond = (status: number, render: (nonce: string) => string) => {
  const nonce = newNonce()
  return HttpServerResponse.text(render(nonce), { status, headers: headers(nonce), contentType: "text/html; charset=utf-8" })
}

const style = `
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}.sub{color:#555}.guide{background:#f6f6f6;padding:.5rem 1rem;border-radius:6px;margin:1rem 0}
label{display:block;font-weight:600;margin-top:1rem}.req{color:#b00}input,textarea{width:100%;padding:.5rem;box-sizing:border-box;margin-top:.25rem}
.hint{color:#666;font-size:.9rem}.error{background:#fde8e8;color:#8a1010;padding:.5rem 1rem;border-radius:6px}
.field-error{color:#b00;font-size:.9rem}button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
.notice{background:#e8f4e8;color:#0d4d0d;padding:.5rem 1rem;border-radius:6px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ddd}td form{display:inline}td button{margin:0 0 0 .75rem;padding:.3rem .8rem}`

/** @internal */
export const page = (nonce: string, title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<meta name="referrer" content="no-referrer"><title>${escape(title)}</title><style nonce="${escape(nonce)}">${style}</style></head>` +
  `<body>${body}</body></html>`

/** @internal */
export const errorPage = (nonce: string, providerTitle: string | undefined, message: string): string =>
  page(
    nonce,
    providerTitle === undefined ? "Error" : `Error — ${providerTitle} Credentials`,
    `<h1>Error</h1><p class="error" id="error">${escape(message)}</p>`
  )

/**
 * The refusal of a link made for another user, with a link that signs the browser out of the
 * pages and in again (`PageSession.switchUserPath`). @internal
 */
export const wrongUserPage = (nonce: string, title: string, message: string, switchUser: string): string =>
  page(
    nonce,
    title,
    `<h1>Error</h1><p class="error" id="error">${escape(message)}</p>` +
      `<p><a id="switch-user" href="${escape(switchUser)}">Sign out and sign in as another user</a></p>`
  )

/** @internal */
export const successPage = (nonce: string, provider: CredentialsProvider): string =>
  page(
    nonce,
    `${provider.title} — Credentials Saved`,
    `<h1 id="saved">Credentials saved</h1><p>Your ${escape(provider.title)} credentials are stored encrypted on the MCP server. ` +
      `You can close this tab and return to your MCP client.</p>`
  )

const inputType = (v: ResolvedVariable) => (v.type === "password" ? "password" : v.type === "url" ? "url" : "text")

/** @internal */
export interface FormState {
  /** Values to show again (never for password fields). */
  readonly values?: Readonly<Record<string, string>>
  readonly fieldErrors?: Readonly<Record<string, string>>
  readonly error?: string | undefined
}

/** @internal */
export const formPage = (
  nonce: string,
  provider: CredentialsProvider,
  action: string,
  csrf: string,
  userLabel: string,
  state: FormState = {}
): string => {
  const fields = provider.variables.map((v) => {
    const id = `f-${escape(v.name)}`
    // own entries only: a variable named like an Object method (`toString`) has no inherited value
    const value = v.type === "password" || state.values === undefined || !Object.hasOwn(state.values, v.name)
      ? ""
      : state.values[v.name] ?? ""
    const required = v.required ? " required" : ""
    const hint = v.hint === "" ? "" : `<div class="hint">${escape(v.hint)}</div>`
    const err = state.fieldErrors !== undefined && Object.hasOwn(state.fieldErrors, v.name) ? state.fieldErrors[v.name] : undefined
    const fieldError = err === undefined ? "" : `<div class="field-error" role="alert">${escape(err)}</div>`
    const control = v.type === "textarea"
      ? `<textarea id="${id}" name="${escape(v.name)}" rows="5" placeholder="${escape(v.hint)}"${required}>${escape(value)}</textarea>`
      : `<input id="${id}" type="${inputType(v)}" name="${escape(v.name)}" value="${escape(value)}" placeholder="${escape(v.hint)}" autocomplete="off"${required}>`
    return `<label for="${id}">${escape(v.label)}${v.required ? ` <span class="req">*</span>` : ""}</label>${control}${hint}${fieldError}`
  }).join("")
  const guide = Option_getOrEmpty(provider.guide)
  return page(
    nonce,
    `${provider.title} — Enter Credentials`,
    `<h1>${escape(provider.title)} Credentials</h1>` +
      `<p class="sub">Signed in as <strong id="user">${escape(userLabel)}</strong>. ` +
      `Your credentials are stored encrypted on the MCP server and are never shown to the AI assistant.</p>` +
      (guide === "" ? "" : `<div class="guide" id="guide">${renderGuide(guide)}</div>`) +
      (state.error === undefined ? "" : `<p class="error" id="error" role="alert">${escape(state.error)}</p>`) +
      `<form method="post" action="${escape(action)}" id="credentials-form">` +
      `<input type="hidden" name="_csrf" value="${escape(csrf)}">${fields}` +
      `<button type="submit">Save credentials</button></form>`
  )
}

const Option_getOrEmpty = (o: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" }) =>
  o._tag === "Some" ? o.value : ""
