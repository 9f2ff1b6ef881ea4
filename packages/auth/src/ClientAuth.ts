/**
 * Client-side auth for connecting an MCP SDK `Client` to a protected MCP server (the seed's
 * `BearerAuth` and `OAuth` client helpers), built on the SDK's own client auth: spread the result
 * into the options of `StreamableHTTPClientTransport`.
 *
 * ```ts
 * new StreamableHTTPClientTransport(url, ClientAuth.bearer(Redacted.make(token)))
 * new StreamableHTTPClientTransport(url, ClientAuth.clientCredentials({ clientId, clientSecret, issuer }))
 * ```
 *
 * Secrets stay `Redacted` until the header of the outgoing request is built. The SDK's types are
 * declared here by shape (`FetchLike`, `AuthProvider`), so neither this module nor its type
 * declarations need `@modelcontextprotocol/sdk`; the results are what its transport takes.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"

/**
 * The SDK's `FetchLike`: what `StreamableHTTPClientTransport` takes as `fetch`.
 *
 * @since 0.1.0
 * @category models
 */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>

/**
 * OAuth tokens as the SDK's client stores them (its `OAuthTokens`).
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthTokens {
  access_token: string
  token_type: string
  id_token?: string | undefined
  expires_in?: number | undefined
  scope?: string | undefined
  refresh_token?: string | undefined
  issuer?: string | undefined
}

/**
 * The client-credentials provider, by the shape of the SDK's `OAuthClientProvider` (what
 * `StreamableHTTPClientTransport` takes as `authProvider`): the SDK drives it on a 401.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthProvider {
  readonly redirectUrl: undefined
  readonly clientMetadata: {
    client_name: string
    redirect_uris: Array<string>
    grant_types: Array<string>
    token_endpoint_auth_method: string
    scope?: string
  }
  clientInformation(): { client_id: string; issuer: string }
  tokens(): OAuthTokens | undefined
  saveTokens(tokens: OAuthTokens): void
  redirectToAuthorization(): void
  saveCodeVerifier(): void
  codeVerifier(): string
  prepareTokenRequest(scope?: string): URLSearchParams
  addClientAuthentication(headers: Headers, params: URLSearchParams): void
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void
}

/**
 * Where the bearer token comes from: a fixed token, or a function called for every request
 * (a token that rotates).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenSource =
  | Redacted.Redacted<string>
  | (() => Redacted.Redacted<string> | Promise<Redacted.Redacted<string>>)

/**
 * Transport options that send `Authorization: Bearer <token>` on every request the transport
 * makes (POST, the GET stream, DELETE). A server that refuses the token makes `connect` or the
 * call fail with the SDK's `UnauthorizedError`; nothing is retried. A token that cannot be an
 * HTTP header value (CR, LF, NUL or another control character, a character above U+00FF) fails
 * the request before it is sent, with an error that does not quote the token.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bearer = (
  token: TokenSource,
  options: { readonly fetch?: FetchLike | undefined } = {}
): { readonly fetch: FetchLike } => {
  const base: FetchLike = options.fetch ?? ((url, init) => fetch(url, init))
  return {
    fetch: async (url, init) => {
      const secret = typeof token === "function" ? await token() : token
      // trailing whitespace (a token read from a file with its newline) is dropped, as `Headers`
      // does; anything else a header cannot carry is refused here, because `Headers.set` would
      // throw an error that quotes the whole value
      const value = trimEndHttpWhitespace(`Bearer ${Redacted.value(secret)}`)
      if (HEADER_UNSAFE.test(value)) {
        throw new Error("bearer: the token contains characters that cannot be sent in an HTTP header")
      }
      const headers = new Headers(init?.headers)
      headers.set("authorization", value)
      return base(url, { ...init, headers })
    }
  }
}

/**
 * Options of `clientCredentials`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCredentialsOptions {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /**
   * The issuer of the authorization server this client is registered with. The credentials are
   * sent only to it: a server that advertises another authorization server is refused.
   */
  readonly issuer: string
  readonly scopes?: ReadonlyArray<string> | undefined
  /** Default `client_secret_basic`. */
  readonly authMethod?: "client_secret_basic" | "client_secret_post" | undefined
  readonly clientName?: string | undefined
}

/**
 * Transport options for machine-to-machine access (OAuth client credentials): on the server's
 * 401 the SDK discovers the authorization server from the protected-resource metadata (RFC 9728),
 * requests a token for the server's resource (RFC 8707), and retries; a token the server later
 * refuses (expired) is replaced the same way. An expired token is not sent at all.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientCredentials = (options: ClientCredentialsOptions): { readonly authProvider: AuthProvider } => ({
  authProvider: new ClientCredentialsProvider(options)
})

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/** A character an HTTP field value cannot hold (RFC 9110 §5.5: visible ASCII, obs-text, SP and HTAB only). */
const HEADER_UNSAFE = /[^\t\x20-\x7E\x80-\xFF]/

/** Without trailing SP, HTAB, CR, LF (as `Headers` normalizes a value). */
const trimEndHttpWhitespace = (value: string): string => {
  let end = value.length
  while (end > 0 && " \t\r\n".includes(value[end - 1]!)) end--
  return value.slice(0, end)
}

class ClientCredentialsProvider implements AuthProvider {
  #tokens: OAuthTokens | undefined
  #expiresAt: number | undefined
  readonly #options: ClientCredentialsOptions
  readonly #metadata: AuthProvider["clientMetadata"]

  constructor(options: ClientCredentialsOptions) {
    this.#options = options
    const method = options.authMethod ?? "client_secret_basic"
    this.#metadata = {
      client_name: options.clientName ?? "mcp-credentials client",
      redirect_uris: [],
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: method,
      ...(options.scopes !== undefined && options.scopes.length > 0 ? { scope: options.scopes.join(" ") } : {})
    }
  }

  get redirectUrl(): undefined {
    return undefined
  }

  get clientMetadata(): AuthProvider["clientMetadata"] {
    return this.#metadata
  }

  // No secret here: it is added by `addClientAuthentication`, at the request.
  clientInformation(): { client_id: string; issuer: string } {
    return { client_id: this.#options.clientId, issuer: this.#options.issuer }
  }

  tokens(): OAuthTokens | undefined {
    if (this.#expiresAt !== undefined && Date.now() >= this.#expiresAt) return undefined
    return this.#tokens
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens
    // renewed a little early (10 s, or half the lifetime for tokens that live under 20 s), so a
    // token is never sent in its last seconds and never dropped before its first use
    this.#expiresAt = typeof tokens.expires_in === "number" && tokens.expires_in > 0
      ? Date.now() + (tokens.expires_in - Math.min(10, tokens.expires_in / 2)) * 1000
      : undefined
  }

  redirectToAuthorization(): void {
    throw new Error("client credentials: there is no interactive authorization")
  }

  saveCodeVerifier(): void {}

  codeVerifier(): string {
    throw new Error("client credentials: there is no code verifier")
  }

  prepareTokenRequest(scope?: string): URLSearchParams {
    const params = new URLSearchParams({ grant_type: "client_credentials" })
    if (scope) params.set("scope", scope)
    return params
  }

  addClientAuthentication = (headers: Headers, params: URLSearchParams): void => {
    const secret = Redacted.value(this.#options.clientSecret)
    if ((this.#options.authMethod ?? "client_secret_basic") === "client_secret_post") {
      params.set("client_id", this.#options.clientId)
      params.set("client_secret", secret)
      return
    }
    const user = encodeURIComponent(this.#options.clientId)
    headers.set("authorization", `Basic ${Buffer.from(`${user}:${encodeURIComponent(secret)}`).toString("base64")}`)
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "tokens") {
      this.#tokens = undefined
      this.#expiresAt = undefined
    }
  }
}
