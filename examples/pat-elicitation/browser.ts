/**
 * A scripted browser for the example: fetch with a cookie jar and manual redirects, which signs in
 * at oidc-provider's dev login/consent pages and submits the credential form. In real use this is
 * the user's browser.
 */
export interface Page {
  readonly status: number
  readonly url: string
  readonly body: string
}

const decode = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&").replace(/&quot;/g, '"')

const formAction = (html: string): string => {
  const m = /<form[^>]*action="([^"]*)"/.exec(html)
  if (m === null) throw new Error("the page has no form")
  return decode(m[1]!)
}

const hidden = (html: string, name: string): string => decode(new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "")

export class ScriptedBrowser {
  private readonly jar = new Map<string, Map<string, string>>()

  async request(url: string, form?: Record<string, string>): Promise<Page> {
    let target = new URL(url)
    let method = form === undefined ? "GET" : "POST"
    let body = form === undefined ? undefined : new URLSearchParams(form).toString()
    for (let hop = 0; hop < 20; hop++) {
      const headers: Record<string, string> = {}
      const cookies = this.jar.get(target.host)
      if (cookies !== undefined && cookies.size > 0) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ")
      if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded"
      const res = await fetch(target, { method, headers, ...(body !== undefined ? { body } : {}), redirect: "manual" })
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(";")
        const eq = pair!.indexOf("=")
        const jar = this.jar.get(target.host) ?? new Map<string, string>()
        const value = pair!.slice(eq + 1).trim()
        if (value === "" || /max-age=0/i.test(line)) jar.delete(pair!.slice(0, eq).trim())
        else jar.set(pair!.slice(0, eq).trim(), value)
        this.jar.set(target.host, jar)
      }
      const text = await res.text()
      const location = res.headers.get("location")
      if (res.status >= 300 && res.status < 400 && location !== null) {
        target = new URL(location, target)
        method = "GET"
        body = undefined
        continue
      }
      return { status: res.status, url: target.toString(), body: text }
    }
    throw new Error("too many redirects")
  }

  /** Opens `url`, signing in as `user` at the dev identity provider when asked. */
  async open(url: string, user: string): Promise<Page> {
    let page = await this.request(url)
    for (let step = 0; step < 4; step++) {
      if (page.body.includes('name="prompt" value="login"')) {
        page = await this.request(new URL(formAction(page.body), page.url).toString(), {
          prompt: "login",
          login: user,
          password: "demo"
        })
      } else if (page.body.includes('name="prompt" value="consent"')) {
        page = await this.request(new URL(formAction(page.body), page.url).toString(), { prompt: "consent" })
      } else {
        return page
      }
    }
    return page
  }

  /** Submits the credential form on `page`. */
  submit(page: Page, fields: Record<string, string>): Promise<Page> {
    return this.request(new URL(formAction(page.body), page.url).toString(), { _csrf: hidden(page.body, "_csrf"), ...fields })
  }
}

/** The text of a page's error paragraph, or its `<h1>`. */
export const headline = (page: Page): string =>
  decode(/id="error"[^>]*>([^<]*)</.exec(page.body)?.[1] ?? /<h1[^>]*>([^<]*)</.exec(page.body)?.[1] ?? "")
