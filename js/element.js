// <ferry-files>: the custom element every Ferry page uses, the standalone
// app's included. The wasm defines it when it starts (src/element.rs calls
// `defineFerryFiles`); an element put in the page before or after that is
// upgraded either way. Each element is an instance of its own: its shadow
// root holds its styles and its view, so the host's CSS can't reach in and
// Ferry's can't leak out. Removing the element unmounts its instance.
//
// Settings are attributes without the `data-` prefix, or the same-named
// properties in camelCase (`apiUrl` for `api-url`), which set the
// attribute. A change of a setting mounts the instance anew; `folder`
// navigates, `theme` only restyles.
//
// `tokenProvider` (a property only: a function is no attribute) hands the
// host page's tokens over: `async ({ forceRefresh }) => ({ idToken,
// accessToken })`. Once an element has one, it shows no sign-in form and
// stores no token; clearing it (`null`) or `signOut()` ends the session
// until a provider is set again.

const SETTINGS = [
  "api-url",
  "websocket-url",
  "region",
  "user-pool-id",
  "user-pool-client-id",
  "identity-endpoint",
  "auth-mode",
  "hosted-ui-url",
  "token-storage",
  "config-url",
  "environment",
  "routing",
];

const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// Every attribute that is also a property: the settings, `folder`, and
// `theme` (only styles read it).
const REFLECTED = [...SETTINGS, "folder", "theme"];

// Ferry's stylesheet, which each shadow root links: the release build
// (`cargo xtask build-web`) writes its hashed name, relative to this file,
// in place of the placeholder. Under `trunk serve` the page links it.
const STYLESHEET = "ferry:stylesheet";

function stylesheet() {
  if (!STYLESHEET.startsWith("ferry:")) {
    return new URL(STYLESHEET, import.meta.url).href;
  }
  return document.querySelector('link[rel="stylesheet"][href*="ferry"]')?.href ?? "";
}

/// Defines `<ferry-files>` once. `mount(element, root)` mounts an instance
/// into `root` (a node in the element's shadow root) and returns it.
export function defineFerryFiles(mount) {
  if (customElements.get("ferry-files")) {
    return;
  }

  class FerryFiles extends HTMLElement {
    static observedAttributes = [...SETTINGS, "folder"];
    #link;
    #provider = null;
    // Whether the host ever handed a provider over: then the instance
    // waits for one rather than offering Ferry's own sign-in.
    #provided = false;

    connectedCallback() {
      // A property a framework set before this class was defined sits on
      // the element itself: hand it to the setter (which sets the
      // attribute) so it isn't lost.
      for (const property of [...REFLECTED.map(camel), "tokenProvider"]) {
        if (Object.prototype.hasOwnProperty.call(this, property)) {
          const value = this[property];
          delete this[property];
          this[property] = value;
        }
      }
      if (!this.shadowRoot) {
        this.attachShadow({ mode: "open" });
        this.#link = document.createElement("link");
        this.#link.rel = "stylesheet";
        // As the page's own link asks for it (and as a portal on another
        // origin must), so the browser fetches it once.
        this.#link.crossOrigin = "anonymous";
        // Fetched once, from the browser's cache for every other element.
        this.#link.href = stylesheet();
      }
      this.#mount();
    }

    disconnectedCallback() {
      this.#unmount();
    }

    attributeChangedCallback(name, before, after) {
      if (!this.instance || before === after) {
        return;
      }
      if (name === "folder") {
        this.instance.showFolder(after ?? "");
      } else {
        // Another backend, pool or routing: a new instance.
        this.#unmount();
        this.#mount();
      }
    }

    get tokenProvider() {
      return this.#provider;
    }

    set tokenProvider(provider) {
      if (provider !== null && provider !== undefined && typeof provider !== "function") {
        throw new TypeError(
          "tokenProvider must be a function: async ({ forceRefresh }) => ({ idToken, accessToken })",
        );
      }
      const before = this.#provided;
      this.#provider = provider ?? null;
      this.#provided ||= this.#provider !== null;
      if (!this.instance) {
        return;
      }
      if (before) {
        // Handed over again, or cleared (which ends the session).
        this.instance.setTokenProvider(this.#provider);
      } else if (this.#provider) {
        // An instance with Ferry's own sign-in: one that takes the host's
        // tokens instead (and never reads a stored session) replaces it.
        this.#unmount();
        this.#mount();
      }
    }

    /// Ends the session: with a provider, until one is set again; else as
    /// Ferry's own "Sign out" does.
    signOut() {
      this.instance?.signOut();
    }

    /// Shows `folder` (`""` is Home).
    navigate(folder) {
      this.instance?.showFolder(String(folder ?? ""));
    }

    /// Reads the folder shown again.
    refresh() {
      this.instance?.refresh();
    }

    /// Uploads `files` (an array or a FileList of `File`s) into the folder
    /// shown.
    upload(files) {
      this.instance?.upload(Array.from(files ?? []));
    }

    #mount() {
      if (this.instance || !this.isConnected) {
        return;
      }
      const root = document.createElement("div");
      root.className = "ferry-root";
      this.shadowRoot.replaceChildren(this.#link, root);
      this.instance = mount(this, root, this.#provider, this.#provided);
    }

    #unmount() {
      const instance = this.instance;
      this.instance = undefined;
      // Stops every request, socket, timer and worker of the instance.
      instance?.free();
      this.shadowRoot?.replaceChildren();
    }
  }

  for (const name of REFLECTED) {
    Object.defineProperty(FerryFiles.prototype, camel(name), {
      get() {
        return this.getAttribute(name);
      },
      set(value) {
        if (value === null || value === undefined) {
          this.removeAttribute(name);
        } else {
          this.setAttribute(name, String(value));
        }
      },
    });
  }
  customElements.define("ferry-files", FerryFiles);
}
