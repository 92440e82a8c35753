#!/usr/bin/env bash
# Moving and multiple adversaries (issue 13, point 6): every attack
# scenario of tools/swarm-sim with 4 adversary nodes that each re-attach
# every second at a random new place in the mesh under a new link address
# (outsiders: a random honest node's; insiders: by turns a fresh address of
# their own with the same identity, and an honest node's with a fresh
# certified identity), at 10 % and 30 % loss, on seeds the other suites do
# not use, and on a lan.  The targets: nothing forged or replayed taken
# (`accepted`, which counts a moved adversary that got anything past a
# node that had banned it as `ban_escapes` too), no honest node banned, no
# false death, flood-rotate held to one author's budget per node, no
# frozen key.  The simulator is deterministic for a seed and
# single-threaded: the runs go as parallel jobs (SWARM_TEST_JOBS, default
# the number of CPUs); the larger sweeps are in make bench
# (net/sim/bench.sh).  Uses the ASan/UBSan build.
set -u
B=${BUILD:-build}
export SIM=$B/host/swarm-sim JOBS=${SWARM_TEST_JOBS:-$(nproc)}
python3 - <<'PY'
import concurrent.futures, json, os, subprocess, sys, time

SIM, JOBS = os.environ["SIM"], int(os.environ["JOBS"])
MOVING = ["--adversaries", "4", "--adversary-move", "1"]
OUTSIDER = {"replay", "forge", "spoof-frame", "stale-frame"}
ALL = ["replay", "forge", "fake-queen", "flood", "sybil", "eclipse", "spoof-frame",
       "stale-frame", "flood-rotate", "kv-poison", "rejoin"]


def target(attack):
    """The checks every run of this attack must pass, as (name, predicate)."""
    t = [("accepted", lambda m: m["accepted"] == 0),
         ("ban_escapes", lambda m: m["ban_escapes"] == 0),
         ("honest_banned", lambda m: m["honest_banned"] == 0),
         ("false_dead", lambda m: m["false_dead"] == 0),
         ("moved", lambda m: m["moves"] > 0 and m["adversaries"] == 4)]
    if attack == "flood-rotate":
        t.append(("budget", lambda m: 0 < m["flood_max"] <= m["budget"]))
    if attack == "kv-poison":
        t.append(("frozen", lambda m: m["frozen"] == 0))
    if attack not in OUTSIDER and attack != "rejoin":   # insiders came back as new identities
        t.append(("fresh_identities", lambda m: m["identities"] > m["adversaries"]))
    return t


def runs():
    """(name, attack, extra flags) of every run."""
    for loss, seed in (("0.1", 21), ("0.3", 22)):
        for a in ALL:
            # the store's last writes need more than 10 s to reach everyone at 30 % loss
            dur = ["--duration", "20"] if a == "kv-poison" else []
            yield (f"adv4_moving_{a}_loss{loss}_seed{seed}", a,
                   ["--nodes", "60", "--topology", "mesh", "--loss", loss, "--seed", str(seed)] + dur)
    for a in ("spoof-frame", "stale-frame", "flood-rotate", "fake-queen", "sybil", "kv-poison"):
        yield (f"adv4_moving_{a}_mesh200_seed23", a,
               ["--nodes", "200", "--topology", "mesh", "--loss", "0.1", "--seed", "23"])
    for a in ("spoof-frame", "flood-rotate", "replay", "eclipse"):
        yield (f"adv4_moving_{a}_lan100_seed24", a,
               ["--nodes", "100", "--topology", "lan", "--loss", "0.1", "--seed", "24"])


def run(item):
    name, attack, args = item
    cmd = [SIM, "--scenario", "attack", "--attack", attack] + args + MOVING
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    try:
        m = json.loads(lines[-1])
        missed = [n for n, ok in target(attack) if not ok(m)]
    except (IndexError, ValueError, KeyError) as e:
        m, missed = None, [f"no metrics ({e}; exit {out.returncode}): {out.stderr[-500:]}"]
    return name, " ".join(cmd[1:]), m, missed


start, failed = time.time(), 0
with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
    for name, cmd, m, missed in pool.map(run, list(runs())):
        print(f"--- {name}: {cmd} -> {json.dumps(m) if m else ''}")
        if missed:
            failed += 1
            print(f"FAIL {name}: missed {', '.join(missed)}")
        else:
            print(f"PASS {name}")
print(f"--- 41-swarm-adversaries: {time.time() - start:.0f} s")
sys.exit(1 if failed else 0)
PY
