#!/usr/bin/env bash
# swarmd in ExoSwarm guests: three VMs (TCG), each running build/user/swarmd
# (the same source as the Linux swarmd, linked by tools/exo-cc) with its key
# files carried in by tools/exo-run --file, on one Ethernet link (QEMU
# socket netdevs joined through the group 230.0.0.1 on the loopback of a
# network namespace this suite creates: nothing leaves it) with static
# addresses.  Checks, each within a bound of elapsed time: every node
# admits every other; a queen command signed on the host by swarm-ctl
# (command --out) and put on the link from the host side as an Ethernet
# frame is obeyed by all, while one signed by a queen key nobody trusts is
# refused; a guest whose VM is ended (QEMU's monitor: quit) is declared
# dead by the other two.  The guests' logs are read live from the serial
# file exo-run keeps in its temporary directory (TMPDIR is set per guest).
# Only the processes started here are ended, by PID.
set -u
B=${BUILD:-build}

. tests/tools/loopback-netns.sh
loopback_netns swarmd_guests "$@"
W=$(mktemp -d "${TMPDIR:-/tmp}/swarmd-guests.XXXXXX")
export B W
python3 - <<'PY'
import glob, os, random, re, signal, socket, struct, subprocess, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/tools")
from suitelib import Results, wait_until

B, W = os.environ["B"], os.environ["W"]
CTL, SWARMD = f"{B}/host/swarm-ctl", f"{B}/user/swarmd"
N, VICTIM = 3, "n2"
K = f"{W}/keys"
GROUP, GPORT = "239.255.77.1", 7700           # swarmd's multicast group on the guests' link
LINK = ("230.0.0.1", 40000 + random.randrange(20000))   # QEMU's frames, on the loopback
LIFE = 420                                    # seconds a guest may live at most (EXO_RUN_TIMEOUT)
procs, logs, klogs = {}, {}, {}
seen = {}                                     # (guest, log line) -> seconds after T0 it was first read
T0 = time.time()
result = Results()

def ctl(*args):
    r = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30)
    if r.returncode:
        print(f"--- swarm-ctl {' '.join(args)} failed: {r.stderr.strip()}")
    return r

def ip(k):
    return f"192.168.77.{k + 1}"

def boot(k):
    """Start guest n<k>: swarmd with its node key, the queen's public key and the swarm key."""
    name = f"n{k}"
    os.makedirs(f"{W}/{name}", exist_ok=True)
    qemu = (f"-netdev socket,id=s0,mcast={LINK[0]}:{LINK[1]},localaddr=127.0.0.1 "
            f"-device virtio-net-pci,netdev=s0,disable-legacy=on,mac=52:54:00:12:34:{k + 1:02x} "
            f"-monitor unix:{W}/{name}.mon,server=on,wait=off")
    env = dict(os.environ, TMPDIR=f"{W}/{name}", EXO_RUN_TIMEOUT=str(LIFE), EXO_RUN_QEMU_ARGS=qemu,
               EXO_RUN_CMDLINE="loglevel=6")   # the kernel's clock calibration in kernel.log
    out = open(f"{W}/{name}.out", "w")
    procs[name] = subprocess.Popen(
        ["tools/exo-run", "-e", f"EXO_IP={ip(k)}/24",
         "--file", f"{K}/{name}.key:/etc/swarm/node.key",
         "--file", f"{K}/queen.pub:/etc/swarm/queen.pub",
         "--file", f"{K}/swarm.key:/etc/swarm/swarm.key",
         SWARMD, "--key", "/etc/swarm/node.key", "--queen", "/etc/swarm/queen.pub",
         "--swarm-key", "/etc/swarm/swarm.key", "--state", "/var/lib/swarmd",
         "--bind", f"{ip(k)}:7701", "--group", f"{GROUP}:{GPORT}", "--name", name,
         "--duration", str(LIFE - 20)],
        env=env, stdout=out, stderr=subprocess.STDOUT)

def log(name):
    """The guest's stderr (serial port 2) so far; kept once its VM is gone."""
    for f in glob.glob(f"{W}/{name}/tmp.*/err"):
        try:
            text = open(f, errors="replace").read()
        except OSError:
            continue
        if len(text) >= len(logs.get(name, "")):
            logs[name] = text
    for f in glob.glob(f"{W}/{name}/tmp.*/kernel.log"):
        try:
            klogs[name] = open(f, errors="replace").read()
        except OSError:
            pass
    for line in logs.get(name, "").splitlines():
        seen.setdefault((name, line), time.time() - T0)
    return logs.get(name, "")

def quit_vm(name):
    """End a guest's VM at once, as a power cut: 'quit' on its QEMU monitor."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(f"{W}/{name}.mon")
        s.sendall(b"quit\n")
        time.sleep(0.5)
    except OSError as e:
        print(f"--- monitor of {name}: {e}")
    finally:
        s.close()

def end_tree(name):
    """If a VM outlived its monitor: SIGTERM to exo-run and every process it
    started (found by parent PID; timeout passes it on to QEMU)."""
    kids = {}
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            f = open(st).read().rsplit(")", 1)[1].split()
            kids.setdefault(int(f[1]), []).append(int(st.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    tree, todo = [], [procs[name].pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += kids.get(p, [])
    for p in reversed(tree):
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass

def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s & 0xffff) + (s >> 16)
    return ~((s & 0xffff) + (s >> 16)) & 0xffff

def inject(payload, copies=3):
    """Put a UDP datagram to swarmd's group on the guests' link, as one more
    host there (192.168.77.254) would: an Ethernet frame into QEMU's group."""
    g = socket.inet_aton(GROUP)
    udp = struct.pack("!HHHH", 7799, GPORT, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0x4000, 1, 17, 0,
                      socket.inet_aton("192.168.77.254"), g)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    mac = bytes([1, 0, 0x5e, g[1] & 0x7f, g[2], g[3]])
    frame = mac + bytes.fromhex("5254001234fe") + b"\x08\x00" + hdr + udp
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    for i in range(copies):
        s.sendto(frame, LINK)
        time.sleep(0.2)
    s.close()

def signed(text, *extra):
    path = f"{W}/cmd-{text}.bin"
    ctl("command", K, "mark", text, "--out", path, *extra)
    return open(path, "rb").read() if os.path.exists(path) else b""

def wait_for(pred, limit, need):
    """Seconds until pred() held, or None after limit seconds or as soon as
    a guest of need has ended (its VM gone, or swarmd exited)."""
    t = wait_until(lambda: pred() or any(procs[n].poll() is not None for n in need), limit)
    return t if t is not None and pred() else None

def tsc_mhz(name):
    """The guest's TSC rate as its kernel last calibrated it (kernel.log)."""
    found = re.findall(r"time: tsc ([0-9.]+) MHz", klogs.get(name, ""))
    return float(found[-1]) if found else None

def bad_clocks(names):
    """Guests whose clock rate is off by over 1 % from the others' median
    (seen, before kernel/time.c counted the PIT's unseen wraps: 21,204 MHz
    against 2,596, a clock running that many times slow)."""
    rates = {n: tsc_mhz(n) for n in names}
    if None in rates.values():
        return {}
    med = sorted(rates.values())[len(rates) // 2]
    return {n: r for n, r in rates.items() if abs(r - med) > med / 100}

def obeyed(names, text):
    return [n for n in names if f"command mark '{text}'" in log(n)]

ctl("init", K)
ctl("init", f"{W}/forged")                    # a queen key nobody trusts
names = [f"n{k}" for k in range(N)]
ids = {n: ctl("node", K, n).stdout.strip() for n in names}
try:
    t0 = T0 = time.time()
    for k in range(N):
        boot(k)
    up = wait_for(lambda: all(f"up: {n}," in log(n) for n in names), 240, names)
    result("swarmd_guests_start", up is not None,
           f"up: {[n for n in names if f'up: {n},' in log(n)]} of {names}")
    if up is not None:
        print(f"--- figure: {N} guests booted and swarmd up {up:.1f} s after the first start")
    # Every guest's kernel calibrated its TSC at boot beside the image's
    # copy on a loaded host; a window the PIT wrapped in unseen once set
    # rates 2 to 28 times too high (kernel/time.c, fixed: unwrap), so the
    # guests' rates must agree.
    bad = bad_clocks(names)
    result("swarmd_guests_clocks_agree", up is not None and not bad,
           f"TSC rates {[tsc_mhz(n) for n in names]} MHz")

    def sees_all(n):
        return all(f"admitted {ids[m]}" in log(n) for m in names if m != n)
    t = wait_for(lambda: all(sees_all(n) for n in names), 120, names)
    result("swarmd_guests_discover", t is not None,
           "; ".join(f"{n} admitted {re.findall(r'admitted ([0-9a-f]{8})', log(n))}" for n in names))
    if t is not None:
        print(f"--- figure: every guest admitted every other {time.time() - t0:.1f} s after the first"
              f" start ({t:.1f} s after all were up)")

    cmd, t0 = signed("vm-genuine-1"), time.time()
    inject(cmd)
    t = wait_for(lambda: len(obeyed(names, "vm-genuine-1")) == N, 60, names)
    result("swarmd_guests_queen_command_obeyed", t is not None,
           f"obeyed by {obeyed(names, 'vm-genuine-1')}")
    if t is not None:
        print(f"--- figure: the queen command was obeyed by all {N} guests {time.time() - t0:.1f} s"
              " after its first copy was sent")
    inject(signed("vm-forged", "--queen-key", f"{W}/forged/queen.key"))
    inject(signed("vm-genuine-2"))
    t = wait_for(lambda: len(obeyed(names, "vm-genuine-2")) == N and
                 all("reject bad-cert" in log(n) for n in names), 60, names)
    forged = obeyed(names, "vm-forged")
    result("swarmd_guests_forged_command_refused", t is not None and not forged,
           f"obeyed forged: {forged}; rejected as bad-cert by "
           f"{[n for n in names if 'reject bad-cert' in log(n)]}")

    survivors = [n for n in names if n != VICTIM]
    log(VICTIM)
    quit_vm(VICTIM)
    print(f"--- {VICTIM}'s VM quit at {time.time() - T0:.1f} s")
    t = wait_for(lambda: all(f"dead {ids[VICTIM]}" in log(n) for n in survivors), 120, survivors)
    result("swarmd_guests_kill_detected", t is not None,
           f"declared dead by {[n for n in survivors if f'dead {ids[VICTIM]}' in log(n)]}")
    if t is not None:
        print(f"--- figure: the ended guest was declared dead by both others {t:.1f} s after its VM quit")
    # the state directory (made by swarmd), its incarnation file (fsync and
    # rename) and the status file and black box rewritten in it
    bad = [n for n in names if "cannot write" in log(n) or "incarnation 1," not in log(n)]
    result("swarmd_guests_state_files", not bad, f"state files failed in {bad}")
    wrong = [(n, m) for n in survivors for m in survivors if m != n and f"dead {ids[m]}" in log(n)]
    result("swarmd_guests_no_false_death", not wrong, f"live nodes declared dead: {wrong}")
finally:
    for n in names:
        log(n)
        if procs.get(n) and procs[n].poll() is None:
            quit_vm(n)
    for n in names:
        if n not in procs:
            continue
        try:
            procs[n].wait(timeout=30)
        except subprocess.TimeoutExpired:
            end_tree(n)
            procs[n].wait(timeout=30)
    for n in names:
        print(f"--- {n} ({ids.get(n)}): last lines of its log")
        for line in log(n).splitlines()[-12:]:
            print(f"   {n}| {line}   (read at {seen.get((n, line), 0):.1f} s)")
        for line in klogs.get(n, "").splitlines():
            if "time:" in line:           # the guest's clock rate, as its kernel measured it
                print(f"   {n} kernel| {line.strip()}")
        if result.fails:
            os.system(f"tail -n 15 {W}/{n}.out | sed 's/^/   {n} exo-run| /'")
sys.exit(1 if result.fails else 0)
PY
rc=$?
[ $rc -eq 0 ] && rm -rf "$W"
exit $rc
