#!/usr/bin/env bash
# The live web dashboard (tools/swarm-dash) in headless Chromium: a swarm of
# 6 swarmd processes relayed by swarm-hub inside a network namespace this
# suite creates (unshare -n; loopback only, so neither the nodes nor the
# browser can reach any other address), the dashboard on 127.0.0.1, and
# Chromium driven over the DevTools protocol on a pipe
# (--remote-debugging-pipe).  Checks: the page loads with Debian's d3 and
# draws every node, link and byte rate; a queen command's spread and a
# forged command's rejects appear; after a kill -9 the same page (never
# reloaded) shows the node down and then dead; the hub's counters show,
# and a partition and its healing show as links going and coming back,
# each within a bound of elapsed time.  A DNS-rebound Host is refused.
# Only the processes started here are ended, by PID.
set -u
B=${BUILD:-build}

. tests/tools/loopback-netns.sh
loopback_netns swarm_dash "$@"
W=$(mktemp -d "${TMPDIR:-/tmp}/swarm-dash-test.XXXXXX")
export B W
python3 - <<'PY'
import importlib.machinery, importlib.util, json, os, re, signal, shutil, subprocess, sys
import threading, time, urllib.error, urllib.request
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/tools")
from suitelib import Results, wait_until
import suitelib

B, W = os.environ["B"], os.environ["W"]
CTL, SWARMD, HUB, DASH = f"{B}/host/swarm-ctl", f"{B}/host/swarmd", f"{B}/host/swarm-hub", "tools/swarm-dash"
N = 6
K, STATE = f"{W}/keys", f"{W}/state"
URL = "http://127.0.0.1:7880"
procs = {}
result = Results()

def ctl(*args):
    r = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30)
    if r.returncode:
        print(f"--- swarm-ctl {' '.join(args)} failed: {r.stderr.strip()}")
    return r

def stop(name, sig=signal.SIGTERM):
    suitelib.stop(procs, name, sig)

class Browser:
    """Headless Chromium spoken to over the DevTools protocol on fds 3 and 4."""

    def __init__(self, exe, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # out of the way of 3 and 4, which the child's redirections assign
        to_r, from_w = (self.high(fd) for fd in (to_r, from_w))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-dev-shm-usage", "about:blank"]
        self.log = open(f"{W}/chromium.log", "w")
        self.p = subprocess.Popen(["bash", "-c", f'exec "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-',
                                   "chromium", exe, *flags], pass_fds=(to_r, from_w),
                                  stdout=self.log, stderr=self.log)
        os.close(to_r)
        os.close(from_w)
        self.next_id, self.replies, self.cond = 0, {}, threading.Condition()
        threading.Thread(target=self.reader, daemon=True).start()
        self.session = None

    @staticmethod
    def high(fd):
        import fcntl
        new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return new

    def reader(self):
        buf = b""
        while True:
            chunk = os.read(self.from_r, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                m = json.loads(msg)
                if "id" in m:
                    with self.cond:
                        self.replies[m["id"]] = m
                        self.cond.notify_all()

    def call(self, method, params=None, session=True, timeout=60):
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.replies, timeout=timeout):
                raise TimeoutError(f"no answer to {method} in {timeout} s")
            m = self.replies.pop(mid)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m["result"]

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)

# What the page shows, read from its DOM.
PAGE = r"""JSON.stringify({
  pictures: +(document.body.getAttribute('data-pictures') || 0),
  d3: typeof d3 === 'object' ? d3.version : null,
  marker: window.__dashMarker || null,
  rows: Array.from(document.querySelectorAll('#nodes tbody tr')).map(function (tr) {
    return { id: tr.getAttribute('data-key'), cls: tr.getAttribute('class'),
             cells: Array.from(tr.cells).map(function (c) { return c.textContent; }) }; }),
  circles: Array.from(document.querySelectorAll('#graph g.node')).map(function (g) {
    return { id: g.getAttribute('data-id'), cls: g.getAttribute('class'),
             placed: /translate\(\d/.test(g.getAttribute('transform') || '') }; }),
  links: document.querySelectorAll('#graph line').length,
  attacks: Array.from(document.querySelectorAll('#attacks tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (c) { return c.textContent; }); }),
  hub: Array.from(document.querySelectorAll('#hub tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (c) { return c.textContent; }); }),
  spread: Array.from(document.querySelectorAll('#spread tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (c) { return c.textContent; }); })
})"""

def c_names(src, enum_header, enum_name, array_fn):
    """A C name table of blackbox.c as {number: name}, numbering from the enum's header."""
    body = re.search(r"enum " + enum_name + r" \{(.*?)\};", open(enum_header).read(), re.S).group(1)
    nums, k = {}, 0
    for line in body.splitlines():
        m = re.match(r"\s*([A-Z_]+)\s*(?:=\s*(\d+))?,", line)
        if m:
            k = int(m.group(2)) if m.group(2) else k + 1
            nums[m.group(1)] = k
    fn = re.search(array_fn + r"\(.*?\{(.*?)\};", src, re.S).group(1)
    return {nums[a]: b for a, b in re.findall(r"\[([A-Z_]+)\] = \"([a-z-]+)\"", fn)}

try:
    # ---------------------------------------------------------------- tool
    loader = importlib.machinery.SourceFileLoader("swarm_dash", DASH)
    spec = importlib.util.spec_from_loader("swarm_dash", loader)
    dash = importlib.util.module_from_spec(spec)
    loader.exec_module(dash)
    src = open("user/swarmd/blackbox.c").read()
    kinds = c_names(src, "net/swarm.h", "swarm_event_kind", "bb_kind_name")
    secs = c_names(src, "net/sentinel.h", "sec_event", "bb_sec_name")
    result("swarm_dash_names_match_blackbox", kinds == dash.BB_KINDS and secs == dash.BB_SECS,
           f"C {kinds} {secs}")
    r = subprocess.run([DASH, "--state", W, "--listen", "0.0.0.0:7881"], capture_output=True,
                       text=True, timeout=30)
    result("swarm_dash_refuses_non_loopback", r.returncode != 0 and "127.0.0.0/8" in r.stderr,
           r.stderr.strip())

    # ---------------------------------------------------------------- swarm
    ctl("init", K)
    ctl("init", f"{W}/forged")
    ids = {f"n{i}": ctl("node", K, f"n{i}").stdout.strip() for i in range(N)}
    port = {n: 7600 + k for k, n in enumerate(ids)}
    procs["hub"] = subprocess.Popen([HUB, "--listen", "127.0.0.1:7800", "--control", "127.0.0.1:7801",
                                     "--duration", "300"], stdout=open(f"{W}/hub.log", "w"),
                                    stderr=subprocess.STDOUT)
    time.sleep(0.3)
    for n in ids:
        os.makedirs(f"{STATE}/{n}")
        procs[n] = subprocess.Popen([SWARMD, "--key", f"{K}/{n}.key", "--queen", f"{K}/queen.pub",
                                     "--swarm-key", f"{K}/swarm.key", "--state", f"{STATE}/{n}",
                                     "--name", n, "--duration", "300", "--bind", f"127.0.0.1:{port[n]}",
                                     "--hub", "127.0.0.1:7800"],
                                    stdout=open(f"{STATE}/{n}/log", "w"), stderr=subprocess.STDOUT)
    procs["dash"] = subprocess.Popen([DASH, "--state", STATE, "--listen", "127.0.0.1:7880",
                                      "--hub", "127.0.0.1:7801"],
                                     stdout=open(f"{W}/dash.log", "w"), stderr=subprocess.STDOUT)

    def picture():
        try:
            with urllib.request.urlopen(URL + "/state.json", timeout=5) as f:
                return json.load(f)
        except OSError:
            return {}

    def all_alive(pic):
        nodes = pic.get("nodes", [])
        return (len(nodes) == N and {n["id"] for n in nodes} == set(ids.values()) and
                all(n["up"] and n["membership"] == "alive" and n["seen_alive"] == N - 1 for n in nodes))
    t = wait_until(lambda: all_alive(picture()), 60)
    result("swarm_dash_state_json", t is not None, json.dumps(picture())[:300])
    # DNS rebinding: a page of another site whose name now resolves to
    # 127.0.0.1 asks with its own name in Host; the swarm's picture must
    # not be handed to it
    codes = []
    for host in ("rebind.example:7880", "rebind.example", "localhost.rebind.example:7880"):
        req = urllib.request.Request(URL + "/state.json", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as f:
                codes.append(f.status)
        except urllib.error.HTTPError as e:
            codes.append(e.code)
    result("swarm_dash_refuses_rebinding", codes == [403] * 3, f"answered {codes}")

    # ---------------------------------------------------------------- browser
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        result("swarm_dash_chromium", False, "chromium missing (tools/deps.sh installs it)")
        raise SystemExit
    br = Browser(exe, f"{W}/profile")
    t0 = time.time()
    br.open(URL + "/")
    page = lambda: json.loads(br.eval(PAGE) or "{}")

    def shows_all(p):
        rows = {r["id"]: r for r in p.get("rows", [])}
        circles = {c["id"]: c for c in p.get("circles", [])}
        return (set(rows) == set(ids.values()) and set(circles) == set(ids.values()) and
                all(r["cls"] == "up alive" for r in rows.values()) and
                all(c["placed"] for c in circles.values()) and p["links"] == N * (N - 1) // 2)
    t = wait_until(lambda: shows_all(page()), 90)
    p = page()
    result("swarm_dash_page_shows_nodes", t is not None and (p.get("d3") or "").startswith("3."),
           f"d3 {p.get('d3')}, {len(p.get('rows', []))} rows, {len(p.get('circles', []))} circles, "
           f"{p.get('links')} links: {p.get('rows')}")
    if t is not None:
        print(f"--- figure: page loaded and drew all {N} nodes {time.time() - t0:.1f} s after Chromium started")
    br.eval("window.__dashMarker = 'same-page'")
    # every node's byte rates (columns tx B/s, rx B/s), from its counters
    traffic = lambda p: len(p.get("rows", [])) == N and all(
        r["cells"][7].isdigit() and r["cells"][8].isdigit() and int(r["cells"][8]) > 0
        for r in p["rows"])
    t = wait_until(lambda: traffic(page()), 30)
    result("swarm_dash_shows_traffic", t is not None, str([r["cells"][7:9] for r in page().get("rows", [])]))

    ctl("command", K, "mark", "dash-1", "--hub", "127.0.0.1:7800")
    ctl("command", K, "mark", "dash-forged", "--queen-key", f"{W}/forged/queen.key", "--hub", "127.0.0.1:7800")
    spread_ok = lambda p: [f"{N} / {N}"] == [s[1] for s in p.get("spread", []) if s[0] == "dash-1"]
    forged_shown = lambda p: any(a[0] == "bad-cert" and int(a[1]) >= N for a in p.get("attacks", []))
    t = wait_until(lambda: spread_ok(page()), 30)
    result("swarm_dash_shows_spread", t is not None, str(page().get("spread")))
    t = wait_until(lambda: forged_shown(page()), 30)
    p = page()
    result("swarm_dash_shows_attacks", t is not None and
           not any(s[0] == "dash-forged" for s in p.get("spread", [])), str(p.get("attacks")))

    # ---------------------------------------------------------------- a death
    victim = "n2"
    before = page()["pictures"]
    t0 = time.time()
    stop(victim, signal.SIGKILL)
    row = lambda p: next((r for r in p.get("rows", []) if r["id"] == ids[victim]), None)
    circle = lambda p: next((c for c in p.get("circles", []) if c["id"] == ids[victim]), None)
    down = wait_until(lambda: (lambda p: row(p) and row(p)["cls"].startswith("down") and
                               "down" in circle(p)["cls"].split())(page()), 20)
    dead = wait_until(lambda: (lambda p: row(p) and row(p)["cls"] == "down dead")(page()), 45)
    p = page()
    others = [r for r in p.get("rows", []) if r["id"] != ids[victim]]
    result("swarm_dash_shows_node_down", down is not None and p.get("marker") == "same-page" and
           p["pictures"] > before, f"row {row(p)}, marker {p.get('marker')}")
    result("swarm_dash_shows_node_dead", dead is not None and
           all(r["cls"] == "up alive" for r in others), f"row {row(p)}, others {others}")
    if down is not None and dead is not None:
        print(f"--- figure: after kill -9 the open page showed the node down within {down:.1f} s "
              f"and dead (no live node lists it) within {down + dead:.1f} s")

    # ---------------------------------------------------------------- the hub
    hub = lambda p: {r[0]: int(r[1]) for r in p.get("hub", []) if r[1].isdigit()}
    p = page()
    result("swarm_dash_shows_hub", hub(p).get("received", 0) > 0 and hub(p).get("delivered", 0) > 0,
           str(p.get("hub")))
    left, right = ["n0", "n1", "n3"], ["n4", "n5"]     # n2 is dead
    t0 = time.time()
    ctl("hub", "127.0.0.1:7801", "partition", *[str(port[n]) for n in left], "/", *[str(port[n]) for n in right])
    t = wait_until(lambda: (lambda p: p["links"] == 3 + 1 and hub(p).get("cut", 0) > 0)(page()), 45)
    p = page()
    result("swarm_dash_shows_partition", t is not None, f"{p['links']} links, hub {p.get('hub')}")
    if t is not None:
        print(f"--- figure: partition 3 / 2: the page showed only the links within each half after {t:.1f} s")
    ctl("hub", "127.0.0.1:7801", "heal")
    t = wait_until(lambda: page()["links"] == 5 * 4 // 2, 45)
    result("swarm_dash_shows_heal", t is not None, f"{page()['links']} links")
    if t is not None:
        print(f"--- figure: healed: all 10 links back on the page after {t:.1f} s")
    br.close()
finally:
    for name in list(procs):
        stop(name, signal.SIGKILL)
sys.exit(1 if result.fails else 0)
PY
rc=$?
[ $rc -eq 0 ] && rm -rf "$W"
exit $rc
