#!/usr/bin/env bash
# swarmd on a real network: 12 swarmd processes on Linux inside a network
# namespace this suite creates (unshare -n; loopback only, with multicast
# on), so no packet can leave the machine.  Checks: discovery and
# convergence (every node sees every other), the operator's tools (list,
# NERT ask, black box), a signed queen command obeyed by all while forged
# ones (outsider and insider) are refused, the maze module, kill -9 and
# restart of 4 nodes (they rejoin with a larger incarnation, nobody honest
# banned), and through swarm-hub a partition into two halves that each
# node notices, then healing, convergence again and a command obeyed
# under loss, duplication and reordering, with a pcap of the traffic.
# Every wait is bounded; only the processes started here are ended, by PID.
set -u
B=${BUILD:-build}

. tests/tools/loopback-netns.sh
loopback_netns swarmd "$@"
W=$(mktemp -d "${TMPDIR:-/tmp}/swarmd-test.XXXXXX")
export B W
python3 - <<'PY'
import collections, os, re, signal, struct, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/tools")
from suitelib import Results, wait_until
import suitelib

B, W = os.environ["B"], os.environ["W"]
# the pheromone wire version, as net/pheromone.h has it (the first byte of
# every packet the hub relays)
WIRE = int(re.search(r"PHEROMONE_VERSION\s*=\s*(\d+)", open("net/pheromone.h").read()).group(1))
CTL, SWARMD, HUB = f"{B}/host/swarm-ctl", f"{B}/host/swarmd", f"{B}/host/swarm-hub"
N, KILLED = 12, 4
K = f"{W}/keys"
procs = {}          # name -> Popen, every process this test started
result = Results()

def ctl(*args, timeout=20):
    r = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        print(f"--- swarm-ctl {' '.join(args)} failed: {r.stderr.strip()}")
    return r

ctl("init", K)
ctl("init", f"{W}/forged")                      # a queen key nobody trusts
ids = {}
for i in range(N):
    ids[f"n{i}"] = ctl("node", K, f"n{i}").stdout.strip()
rogue_id = ctl("node", K, "rogue").stdout.strip()   # a certified insider gone bad
honest = set(ids.values())

def start(name, extra):
    os.makedirs(f"{W}/{name}", exist_ok=True)
    if os.path.exists(f"{W}/{name}/status"):
        os.unlink(f"{W}/{name}/status")             # no stale view from an earlier life
    log = open(f"{W}/{name}/log", "a")
    procs[name] = subprocess.Popen([SWARMD, "--key", f"{K}/{name}.key", "--queen", f"{K}/queen.pub",
                                    "--swarm-key", f"{K}/swarm.key", "--state", f"{W}/{name}",
                                    "--name", name, "--maze", "7", "--duration", "400", *extra],
                                   stderr=log, stdout=log)

def stop(name, sig=signal.SIGTERM):
    suitelib.stop(procs, name, sig)

def status(name):
    try:
        text = open(f"{W}/{name}/status").read()
    except OSError:
        return {}
    st = {"view": {}, "marks": []}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "member" and len(f) >= 3:
            st["view"][f[1]] = f[2]
        elif f[0] == "mark":
            st["marks"].append(" ".join(f[1:]))
        else:
            st[f[0]] = " ".join(f[1:])
    return st

def alive_view(name):
    return {i for i, s in status(name).get("view", {}).items() if s == "alive"}

def converged(names, expect=None):
    """Every node lists exactly the expected others, all alive (none suspect)."""
    for n in names:
        want = (expect(n) if expect else {ids[m] for m in names}) - {ids[n]}
        view = status(n).get("view", {})
        if set(view) != want or alive_view(n) != want:
            return False
    return True

def blackbox_events(name):
    try:
        img = open(f"{W}/{name}/blackbox", "rb").read()
    except OSError:
        return []
    count = struct.unpack(">I", img[24:28])[0]
    return [struct.unpack(">QBBHIIIHH", img[28 + 28 * k: 56 + 28 * k]) for k in range(count)]

def honest_banned():
    bad = []
    for n in ids:
        for ev in blackbox_events(n):
            if ev[1] == 5 and f"{ev[5]:08x}" in honest:      # SE_BLACKLIST about an honest id
                bad.append((n, f"{ev[5]:08x}"))
    return bad

PH_NAMES = {1: "HELLO", 2: "DATA", 3: "ALARM", 4: "QUEEN_CMD", 5: "REBIRTH", 6: "DIE", 7: "STATE",
            8: "MODULE", 9: "PING", 10: "ACK", 11: "PING_REQ", 12: "PULL", 13: "SUSPECT", 14: "ALIVE"}

def txlog_types(names):
    """Pheromones each node logged sending (--txlog) so far, counted by type."""
    count = {}
    for n in names:
        try:
            for line in open(f"{W}/{n}/tx"):
                k = PH_NAMES.get(int(line.split()[0]), line.split()[0])
                count[k] = count.get(k, 0) + 1
        except OSError:
            pass
    return collections.defaultdict(int, count)

def rate(names, window=5.0):
    """Mean bytes sent and received per node per second over a window."""
    def snap():
        return {n: [int(status(n).get(k, 0)) for k in ("tx_bytes", "rx_bytes", "uptime_ms")] for n in names}
    a = snap()
    time.sleep(window)
    b = snap()
    tx = [(b[n][0] - a[n][0]) * 1000 / max(1, b[n][2] - a[n][2]) for n in names]
    rx = [(b[n][1] - a[n][1]) * 1000 / max(1, b[n][2] - a[n][2]) for n in names]
    return sum(tx) / len(tx), sum(rx) / len(rx)

try:
    names = list(ids)
    # a certificate past its expiry is refused at start
    ctl("node", K, "expired", "--seconds", "1")
    time.sleep(1.5)
    os.makedirs(f"{W}/expired", exist_ok=True)
    r = subprocess.run([SWARMD, "--key", f"{K}/expired.key", "--queen", f"{K}/queen.pub",
                        "--swarm-key", f"{K}/swarm.key", "--state", f"{W}/expired", "--duration", "5"],
                       capture_output=True, text=True, timeout=20)
    result("swarmd_refuses_expired_certificate", r.returncode == 1 and "certificate refused" in r.stderr,
           r.stderr.strip())
    # ---------------------------------------------------------------- multicast
    t0 = time.time()
    for k, n in enumerate(names):
        start(n, ["--ctl", f"127.0.0.1:{7900 + k}", "--ctl-pub", f"{K}/ctl.pub"])
    t = wait_until(lambda: converged(names), 40)
    result("swarmd_discover_converge", t is not None, "not every node saw every other in 40 s")
    if t is not None:
        print(f"--- figure: {N} nodes converged (every node sees every other) {time.time() - t0:.1f} s after the first start")

    out = ctl("list", K, "--seconds", "3").stdout
    listed = set(re.findall(r"^([0-9a-f]{8}) ", out, re.M))
    result("swarmd_ctl_list", listed == honest, f"listed {len(listed)} of {N}")

    out = ctl("ask", K, f"{K}/n3.pub", "127.0.0.1:7903", "status").stdout
    result("swarmd_ctl_ask_over_nert", f"id {ids['n3']}" in out and f"members {N - 1}" in out, out[:200])
    out = ctl("ask", K, f"{K}/n3.pub", "127.0.0.1:7903", "blackbox").stdout
    result("swarmd_ctl_blackbox_over_nert", f"node {ids['n3']}" in out and "admitted" in out, out[:200])
    # an operator key the node does not know gets no answer
    ctl("init", f"{W}/other-op")
    r = ctl("ask", f"{W}/other-op", f"{K}/n3.pub", "127.0.0.1:7903", "status")
    result("swarmd_ctl_refuses_unknown_operator", r.returncode != 0 and "id " not in r.stdout)

    ctl("command", K, "mark", "genuine-1")
    t = wait_until(lambda: all("genuine-1" in status(n)["marks"] for n in names), 15)
    result("swarmd_queen_command_obeyed", t is not None,
           f"{sum('genuine-1' in status(n)['marks'] for n in names)} of {N} obeyed")
    # forged: a certificate by a queen key nobody trusts (outsider), and an
    # insider's genuine certificate with a command signed by the wrong queen
    ctl("command", K, "mark", "forged-outsider", "--queen-key", f"{W}/forged/queen.key")
    ctl("command", K, "mark", "forged-insider", "--queen-key", f"{W}/forged/queen.key", "--as", f"{K}/rogue.key")
    ctl("command", K, "mark", "genuine-2")
    t = wait_until(lambda: all("genuine-2" in status(n)["marks"] for n in names), 15)
    # The black box reaches the disk once a second, so its evidence of the
    # refusals is waited for (by elapsed time), not read at once.
    def rejects():
        return {n: {(ev[1], ev[3]) for ev in blackbox_events(n)} for n in names}
    logged = lambda code: all((8, code) in r for r in rejects().values())   # SE_REJECT
    wait_until(lambda: logged(10) and logged(6), 10)     # SEC_BAD_CERT, SEC_BAD_SIGNATURE
    saw_cert, saw_sig = logged(10), logged(6)
    forged = [n for n in names if any(m.startswith("forged") for m in status(n)["marks"])]
    result("swarmd_forged_commands_refused", t is not None and not forged and saw_cert and saw_sig,
           f"obeyed forged: {forged}, bad-cert logged everywhere {saw_cert}, bad-signature {saw_sig}")

    t = wait_until(lambda: all(status(n).get("maze") == "solved" for n in names), 60)
    result("swarmd_maze_solved_by_all", t is not None)

    tx, rx = rate(names)
    print(f"--- figure: multicast, steady state, {N} nodes: {tx:.0f} bytes sent and {rx:.0f} received per node per second")

    # kill -9 and restart: the nodes come back with a larger incarnation
    victims = names[:KILLED]
    for n in victims:
        stop(n, signal.SIGKILL)
    survivors = names[KILLED:]
    t = wait_until(lambda: converged(survivors), 40)
    result("swarmd_kill_detected", t is not None, "survivors still list the killed nodes")
    if t is not None:
        print(f"--- figure: {KILLED} killed nodes declared dead by every survivor in {t:.1f} s")
    t0 = time.time()
    for k, n in enumerate(victims):
        start(n, ["--ctl", f"127.0.0.1:{7900 + k}", "--ctl-pub", f"{K}/ctl.pub"])
    t = wait_until(lambda: converged(names), 40)
    incs = [status(n).get("incarnation") for n in victims]
    result("swarmd_restart_rejoin", t is not None and all(i == "2" for i in incs),
           f"converged {t is not None}, incarnations {incs}")
    if t is not None:
        print(f"--- figure: restarted nodes rejoined, all converged {time.time() - t0:.1f} s after the restart")
    ctl("command", K, "mark", "after-restart")
    t = wait_until(lambda: all("after-restart" in status(n)["marks"] for n in names), 15)
    result("swarmd_restarted_obey_commands", t is not None)
    bad = honest_banned()
    result("swarmd_no_honest_ban_multicast", not bad, str(bad))
    for n in names:
        stop(n)

    # ---------------------------------------------------------------- through swarm-hub
    pcap = f"{W}/hub.pcap"
    hublog = open(f"{W}/hub.log", "w")
    procs["hub"] = subprocess.Popen([HUB, "--listen", "127.0.0.1:7800", "--control", "127.0.0.1:7801",
                                     "--pcap", pcap, "--seed", "3", "--duration", "400"],
                                    stderr=hublog, stdout=hublog)
    time.sleep(0.3)
    port = {n: 7600 + k for k, n in enumerate(names)}
    t0 = time.time()
    for n in names:
        start(n, ["--bind", f"127.0.0.1:{port[n]}", "--hub", "127.0.0.1:7800",
                  "--txlog", f"{W}/{n}/tx"])
    t = wait_until(lambda: converged(names), 40)
    result("swarmd_hub_converge", t is not None)
    if t is not None:
        print(f"--- figure: through the hub, {N} nodes converged {time.time() - t0:.1f} s after the first start")
    left, right = names[:N // 2], names[N // 2:]
    r = ctl("hub", "127.0.0.1:7801", "partition", *[str(port[n]) for n in left], "/",
            *[str(port[n]) for n in right])
    side = lambda n: {ids[m] for m in (left if n in left else right)}
    t = wait_until(lambda: converged(names, side), 40)
    result("swarmd_partition_noticed", r.returncode == 0 and t is not None,
           "nodes did not drop the other half")
    if t is not None:
        print(f"--- figure: partition noticed by every node in {t:.1f} s")
    ctl("hub", "127.0.0.1:7801", "heal")
    t = wait_until(lambda: converged(names), 40)
    result("swarmd_heal_converge", t is not None)
    if t is not None:
        print(f"--- figure: after healing, converged again in {t:.1f} s")
    for knob, v in (("loss", "0.1"), ("dup", "0.05"), ("reorder", "0.1"), ("delay", "2"), ("jitter", "3")):
        ctl("hub", "127.0.0.1:7801", "set", knob, v)
    sent = ctl("command", K, "mark", "lossy-1", "--hub", "127.0.0.1:7800").stdout.split()
    t = wait_until(lambda: all("lossy-1" in status(n)["marks"] for n in names), 20)
    result("swarmd_command_obeyed_under_loss", t is not None)
    time.sleep(3)
    t = wait_until(lambda: converged(names), 20)
    result("swarmd_stays_converged_under_loss", t is not None)
    stats = ctl("hub", "127.0.0.1:7801", "stats").stdout.strip()
    print(f"--- hub: {stats}")
    bad = honest_banned()
    result("swarmd_no_honest_ban_hub", not bad, str(bad))
    sent_before = txlog_types(names)
    tx, rx = rate(names)
    sent_after = txlog_types(names)
    print(f"--- figure: through the hub at 10 % loss, {N} nodes: {tx:.0f} bytes sent and {rx:.0f} received per node per second")
    print("--- figure: pheromones sent per node per second in that window, by type: " +
          ", ".join(f"{k} {(sent_after[k] - sent_before[k]) / (5.0 * N):.1f}"
                    for k in sorted(sent_after, key=lambda k: sent_before[k] - sent_after[k])))
    # Repairs after the partition healed: a node asks (PULL) only for what
    # it would take.  Asking for copies behind their author's replay
    # window drew repairs that were refused as replays and asked for again
    # at every HELLO: four PULLs per node per second, against one HELLO.
    pulls, hellos = (sent_after[k] - sent_before[k] for k in ("PULL", "HELLO"))
    result("swarmd_hub_pulls_below_heartbeats", pulls <= hellos,
           f"{pulls} PULLs against {hellos} HELLOs in the window")
    for n in names:
        stop(n)
    stop("hub")
    data = open(pcap, "rb").read()
    recs, off = 0, 24
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8: off + 12])[0]
        ok_rec = off + 16 + incl <= len(data) and data[off + 16] == 0x45 and data[off + 16 + 28] == WIRE
        if not ok_rec:
            break
        recs, off = recs + 1, off + 16 + incl
    result("swarm_hub_pcap", data[:4] == b"\xd4\xc3\xb2\xa1" and recs > 100 and off == len(data),
           f"{recs} records, parsed {off} of {len(data)} bytes")
    # The Wireshark dissector (tools/wireshark/exoswarm.lua) on the hub's
    # capture: every frame is a pheromone it dissects, none is malformed,
    # and each frame's header fields are what some node logged sending
    # (--txlog), or swarm-ctl's command ("sent mark from ID seq N").
    lua = "tools/wireshark/exoswarm.lua"
    fields = ["frame.number", "exoswarm.type", "exoswarm.sender", "exoswarm.seq", "exoswarm.ttl",
              "exoswarm.hops", "exoswarm.payload_len"]
    try:
        ts = subprocess.run(["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-T", "fields",
                             "-E", "separator=,", *sum((["-e", x] for x in fields), [])],
                            capture_output=True, text=True, timeout=300)
        bad = subprocess.run(["tshark", "-n", "-r", pcap, "-X", f"lua_script:{lua}", "-Y",
                              "_ws.malformed || exoswarm.malformed || !exoswarm"],
                             capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        ts = bad = None
    if ts is None or ts.returncode:
        result("swarm_dissector_tshark", False, "tshark missing or failed (tools/deps.sh installs it)"
               + ("" if ts is None else ": " + ts.stderr.strip()[-300:]))
    else:
        logged = set()
        for n in names:
            for line in open(f"{W}/{n}/tx"):
                t, snd, seq, ttl, hops, plen = line.split()
                logged.add((int(t), int(snd, 16), int(seq), int(ttl), int(hops), int(plen)))
        ctl_id = (int(sent[3], 16), int(sent[5])) if len(sent) >= 6 else None
        frames = [l.split(",") for l in ts.stdout.splitlines() if l.strip()]
        unmatched, types = [], set()
        for fr in frames:
            try:
                got = tuple(int(x, 0) for x in fr[1:])
            except ValueError:
                unmatched.append(fr)
                continue
            types.add(got[0])
            if got not in logged and not (got[0] == 4 and got[1:3] == ctl_id):
                unmatched.append(fr)
        nbad = len([l for l in bad.stdout.splitlines() if l.strip()])
        result("swarm_dissector_every_frame", len(frames) == recs and nbad == 0,
               f"{len(frames)} frames of {recs}, {nbad} malformed or not dissected")
        result("swarm_dissector_fields_match_senders", frames and not unmatched,
               f"{len(unmatched)} of {len(frames)} frames match no sender's log, e.g. {unmatched[:3]}")
        print(f"--- dissector: {len(frames)} frames, pheromone types {sorted(types)}")
finally:
    for name in list(procs):
        stop(name, signal.SIGKILL)
    for n in sorted(procs):
        if n != "hub":
            os.system(f"tail -n 5 {W}/{n}/log | sed 's/^/   {n}| /'")
sys.exit(1 if result.fails else 0)
PY
rc=$?
[ $rc -eq 0 ] && rm -rf "$W"
exit $rc
