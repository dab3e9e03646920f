// Northwind, the example portal: its own router (history.pushState, one
// view per path), its own sign-in (session.js), and two <ferry-files>
// elements, one per view, that take the portal's tokens and tell it what
// happens inside them.
//
// The portal owns its URL. The elements use `routing="none"`, so Ferry
// never writes it (no fragment, ever); the portal follows `ferry-navigate`
// into `?folder=` and hands folders back with `navigate()` when the URL
// changes (back, forward, a link). Both elements stay in the page, the
// other view only hidden, so an upload in one goes on when the router
// shows the other. Signing out ends their sessions (`signOut()`); the next
// sign-in hands them the provider again.

import { PortalSession } from "./session.js";

/// Ferry's origin, written into the page when the portal is built.
const FERRY = document.querySelector('meta[name="ferry-url"]').content.replace(/\/+$/, "");

/// The portal's views that embed Ferry: the path, the folder shown when the
/// URL names none, and what the portal calls it.
const ROUTES = {
  files: { path: "/files", home: "", title: "My files" },
  reports: { path: "/reports", home: "Reports", title: "Team reports" },
};

const $ = (id) => document.getElementById(id);

/// The view and folder `url` names (`route` null for a path the portal
/// doesn't have).
function parse(url) {
  const entry = Object.entries(ROUTES).find(([, route]) => route.path === url.pathname);
  if (!entry) {
    return { key: null, folder: null };
  }
  const [key, route] = entry;
  const folder = new URLSearchParams(url.search).get("folder");
  return { key, folder: folder ?? route.home };
}

/// The portal's URL for `folder` in view `key`.
function href(key, folder) {
  const route = ROUTES[key];
  if (folder === route.home) {
    return route.path;
  }
  return `${route.path}?folder=${folder.split("/").map(encodeURIComponent).join("/")}`;
}

/// Per view, once someone has signed in: its element and the folder it
/// shows.
const mounted = new Map();
/// The portal's session, once Ferry's settings are read.
let session = null;
/// Who is signed in, or null.
let username = null;

/// What the view shows, from the URL and who is signed in.
function render() {
  if (location.pathname === "/") {
    history.replaceState(null, "", ROUTES.files.path);
  }
  const signedIn = username !== null;
  const { key, folder } = parse(location);
  $("sign-in").hidden = !session || signedIn;
  document.querySelector("aside").hidden = !signedIn;
  for (const name of Object.keys(ROUTES)) {
    $(name).hidden = !signedIn || name !== key;
  }
  $("not-found").hidden = !signedIn || key !== null;
  for (const link of document.querySelectorAll("nav a")) {
    if (signedIn && link.dataset.route === key) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
  document.title = `${signedIn ? (ROUTES[key]?.title ?? "Page not found") : "Sign in"} · Northwind`;
  const shown = signedIn && key && mounted.get(key);
  if (shown && shown.folder !== folder) {
    // Back, forward or a link: the element follows the URL. (It sends no
    // `ferry-navigate` for a folder the host asked for.)
    shown.folder = folder;
    customElements.whenDefined("ferry-files").then(() => shown.element.navigate(folder));
  }
}

/// Goes to `url` in the portal: a new history entry, then the view.
function go(url) {
  history.pushState(null, "", url);
  render();
}

/// The elements, when someone signs in: one per view, each given the token
/// provider before it is in the page (so it never offers Ferry's own
/// sign-in) and its first folder as an attribute. After a sign-out, the
/// same elements are handed the provider again, at the URL's folder.
function mount() {
  const { key: current, folder } = parse(location);
  for (const [key, route] of Object.entries(ROUTES)) {
    const start = key === current ? folder : route.home;
    const shown = mounted.get(key);
    if (shown) {
      shown.element.tokenProvider = session.provider;
      shown.folder = start;
      customElements.whenDefined("ferry-files").then(() => shown.element.navigate(start));
      continue;
    }
    const element = document.createElement("ferry-files");
    element.setAttribute("config-url", `${FERRY}/config.json`);
    element.setAttribute("routing", "none");
    element.setAttribute("folder", start);
    element.dataset.route = key;
    element.tokenProvider = session.provider;
    $(key).querySelector(".slot").append(element);
    mounted.set(key, { element, folder: start });
  }
}

function signedIn(name) {
  username = name;
  $("account").textContent = `Signed in as ${name}`;
  $("sign-out").hidden = false;
  $("sign-in-form").reset();
  mount();
  render();
}

async function signOut() {
  for (const { element } of mounted.values()) {
    // Ends the element's session: its socket closes and what it held is
    // cleared. Without a provider, it can't ask the ended session either.
    element.signOut?.();
    element.tokenProvider = null;
  }
  username = null;
  $("account").textContent = "";
  // What the portal showed of the session goes with it.
  $("recent").replaceChildren();
  $("recent-empty").hidden = false;
  for (const line of document.querySelectorAll(".selection")) {
    line.textContent = "";
  }
  $("sign-out").hidden = true;
  await session.signOut();
  $("status").textContent = "You are signed out.";
  render();
  $("username").focus();
}

/// The portal's sign-in form: username and password, then, when the pool
/// asks, one more field (a new password, an authenticator code).
function wireSignIn() {
  const form = $("sign-in-form");
  const button = $("sign-in-button");
  const error = $("sign-in-error");
  let answering = null;
  const ask = ({ kind }) =>
    new Promise((resolve) => {
      const newPassword = kind === "newPassword";
      $("answer-label").textContent = newPassword ? "New password" : "Authenticator code";
      $("answer").type = newPassword ? "password" : "text";
      $("answer").autocomplete = newPassword ? "new-password" : "one-time-code";
      $("more").hidden = false;
      button.disabled = false;
      answering = resolve;
      $("answer").focus();
    });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    if (answering) {
      const answer = answering;
      answering = null;
      answer($("answer").value);
      return;
    }
    try {
      signedIn(await session.signIn($("username").value.trim(), $("password").value, ask));
      $("status").textContent = "";
    } catch (failure) {
      error.textContent = failure?.message ?? String(failure);
    } finally {
      button.disabled = false;
      $("more").hidden = true;
      $("answer").value = "";
    }
  });
}

/// The portal's own links move the router, not the browser.
function wireLinks() {
  document.addEventListener("click", (event) => {
    // Clicks inside an element's shadow root are retargeted to the element:
    // Ferry's own links are Ferry's.
    const link = event.target.closest?.("a[href]");
    if (
      !link ||
      link.origin !== location.origin ||
      event.button !== 0 ||
      event.metaKey || event.ctrlKey || event.shiftKey || event.altKey
    ) {
      return;
    }
    event.preventDefault();
    if (link.href !== location.href) {
      go(link.href);
    }
    document.querySelector("main section:not([hidden]) h1")?.focus();
  });
  addEventListener("popstate", render);
}

const SIGNED_OUT = {
  user: "signed out in Ferry",
  host: "signed out by the portal",
  providerFailed: "the portal couldn't give Ferry a session",
  expired: "the session expired",
};

/// What the elements tell the portal. The events bubble and are composed,
/// so one listener on the document hears every element; `target` is the
/// element.
function wireEvents() {
  const view = (event) => event.target.dataset?.route;
  document.addEventListener("ferry-navigate", (event) => {
    const key = view(event);
    const shown = mounted.get(key);
    if (!shown || shown.element !== event.target) {
      return;
    }
    shown.folder = event.detail.folder;
    if (parse(location).key === key) {
      go(href(key, event.detail.folder));
    }
  });
  document.addEventListener("ferry-selection-change", (event) => {
    const key = view(event);
    const files = event.detail.files.filter((entry) => entry.kind === "file");
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    $(`${key}-selection`).textContent = event.detail.files.length
      ? `${event.detail.files.length} selected (${files.length} files, ${bytes.toLocaleString("en")} bytes)`
      : "";
  });
  document.addEventListener("ferry-upload-complete", (event) => {
    const { name, folder, size, sha256 } = event.detail.file;
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = name;
    const where = document.createElement("span");
    where.textContent = ` in ${folder || "Home"}, ${size.toLocaleString("en")} bytes`;
    const digest = document.createElement("code");
    digest.textContent = `SHA-256 ${sha256 ?? "not computed"}`;
    item.append(title, where, document.createElement("br"), digest);
    $("recent").prepend(item);
    while ($("recent").children.length > 10) {
      $("recent").lastElementChild.remove();
    }
    $("recent-empty").hidden = true;
  });
  document.addEventListener("ferry-error", (event) => {
    const key = view(event);
    $("status").textContent = `${ROUTES[key]?.title ?? "Ferry"}: ${event.detail.message}`;
  });
  document.addEventListener("ferry-signed-out", (event) => {
    const key = view(event);
    if (mounted.has(key) && event.detail.reason !== "host" && username !== null) {
      $("status").textContent = `${ROUTES[key].title}: ${SIGNED_OUT[event.detail.reason] ?? event.detail.reason}.`;
    }
  });
}

async function start() {
  wireLinks();
  wireSignIn();
  wireEvents();
  $("sign-out").addEventListener("click", () => signOut());
  render();
  let config;
  try {
    const answer = await fetch(`${FERRY}/config.json`);
    if (!answer.ok) {
      throw new Error(`it answered ${answer.status}`);
    }
    config = await answer.json();
  } catch (failure) {
    $("status").textContent = `Ferry can't be reached at ${FERRY}: ${failure.message}`;
    return;
  }
  session = new PortalSession(config);
  const kept = await session.restore();
  if (kept) {
    signedIn(kept);
  } else {
    render();
    $("username").focus();
  }
}

start();
