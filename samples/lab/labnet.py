#!/usr/bin/env python3
"""wireblame trace lab: namespaces, wire, probe, peers and captures.

Topology (all addresses exist only inside the two namespaces):

  netns wbl-cli                    root namespace                  netns wbl-srv
  10.77.0.1/24  [wblc0] <==TAP==> wire.py (chrt -f 50) <==TAP==> [wbls0]  10.77.0.2/24
  02:77:00:00:00:01              delay/rate/queue/drops           02:77:00:00:00:02

Every process started is recorded with its PID and stopped by PID.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NS_C, NS_S = "wbl-cli", "wbl-srv"
TAP_C, TAP_S = "wblc0", "wbls0"
IP_C, IP_S = "10.77.0.1", "10.77.0.2"
MAC_C, MAC_S = "02:77:00:00:00:01", "02:77:00:00:00:02"
RUN = "/tmp/wbl-lab"
PIDFILE = os.path.join(RUN, "pids")
PY = sys.executable


def sh(cmd, check=True, ns=None, capture=True, timeout=120):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("command failed: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r


def log(*a):
    print("[lab]", *a, file=sys.stderr, flush=True)


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, cmd, ns=None, name="", **kw):
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        p = subprocess.Popen(cmd, **kw)
        self.procs.append((name, p))
        os.makedirs(RUN, exist_ok=True)
        with open(PIDFILE, "a") as f:
            f.write("%d %s\n" % (p.pid, name))
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=5):
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    def stop_all(self):
        for name, p in reversed(self.procs):
            self.stop(p)
        self.procs = []


ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
ALLOWED_ORIG = os.path.join(RUN, "allowed_cc.orig")


def allow_cubic():
    """Namespaces may only pick a default congestion control from the host's
    allowed list.  This host allows "reno bbr"; add cubic for the run (the
    original list is saved and put back by restore_allowed_cc)."""
    cur = open(ALLOWED_CC).read().split()
    if "cubic" in cur:
        return
    os.makedirs(RUN, exist_ok=True)
    if not os.path.exists(ALLOWED_ORIG):
        with open(ALLOWED_ORIG, "w") as f:
            f.write(" ".join(cur))
    with open(ALLOWED_CC, "w") as f:
        f.write(" ".join(cur + ["cubic"]))


def restore_allowed_cc():
    if os.path.exists(ALLOWED_ORIG):
        with open(ALLOWED_CC, "w") as f:
            f.write(open(ALLOWED_ORIG).read().strip())
        os.remove(ALLOWED_ORIG)


def cleanup_stale():
    """Stop processes recorded by an earlier (crashed) run, remove namespaces."""
    if os.path.exists(PIDFILE):
        for ln in open(PIDFILE):
            try:
                pid = int(ln.split()[0])
            except (ValueError, IndexError):
                continue
            try:
                cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
            except OSError:
                continue
            # only kill if it still looks like one of ours
            if any(x in cmdline for x in (b"wire.py", b"peer_server.py", b"peer_client.py",
                                          b"dns_server.py", b"tcpdump", b"nginx", b"curl", b"wbl-lab")):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os.remove(PIDFILE)
    for ns in (NS_C, NS_S):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for tap in (TAP_C, TAP_S):
        subprocess.run(["ip", "link", "del", tap], capture_output=True)
    subprocess.run(["rm", "-rf", "/etc/netns/" + NS_C, "/etc/netns/" + NS_S])


class Lab:
    def __init__(self, name, wire_cfg, sysctl_cli=None, sysctl_srv=None):
        self.name = name
        self.wire_cfg = wire_cfg
        self.sysctl_cli = sysctl_cli or {}
        self.sysctl_srv = sysctl_srv or {}
        self.procs = Procs()
        self.dir = os.path.join(RUN, name)
        subprocess.run(["rm", "-rf", self.dir])
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.wirelog = os.path.join(self.dir, "wire.log")

    # ---- setup / teardown -------------------------------------------------
    def up(self):
        cleanup_stale()
        for ns in (NS_C, NS_S):
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "set", "lo", "up"], ns=ns)
            base = {"net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1,
                    "net.ipv4.tcp_no_metrics_save": 1,
                    # this host defaults to bbr; the lab uses the common Linux default
                    "net.ipv4.tcp_congestion_control": "cubic"}
            base.update(self.sysctl_cli if ns == NS_C else self.sysctl_srv)
            for k, v in base.items():
                sh(["sysctl", "-q", "-w", "%s=%s" % (k, v)], ns=ns)
        cfgp = os.path.join(self.dir, "wire.json")
        json.dump(self.wire_cfg, open(cfgp, "w"), indent=1)
        ready = os.path.join(self.dir, "wire.ready")
        self.wire = self.procs.start(
            ["chrt", "-f", "50", PY, os.path.join(HERE, "wire.py"), "--tap-client", TAP_C,
             "--tap-server", TAP_S, "--config", cfgp, "--ready", ready, "--log", self.wirelog],
            name="wire")
        for _ in range(100):
            if os.path.exists(ready):
                break
            if self.wire.poll() is not None:
                raise RuntimeError("wire.py died")
            time.sleep(0.05)
        else:
            raise RuntimeError("wire.py not ready")
        for tap, ns, ip, mac, pip, pmac in ((TAP_C, NS_C, IP_C, MAC_C, IP_S, MAC_S),
                                            (TAP_S, NS_S, IP_S, MAC_S, IP_C, MAC_C)):
            sh(["ip", "link", "set", tap, "netns", ns])
            sh(["ip", "link", "set", tap, "address", mac, "mtu", "1500"], ns=ns)
            sh(["ip", "addr", "add", ip + "/24", "dev", tap], ns=ns)
            sh(["ip", "link", "set", tap, "up"], ns=ns)
            sh(["ip", "neigh", "replace", pip, "lladdr", pmac, "dev", tap, "nud", "permanent"], ns=ns)
        time.sleep(0.2)

    def down(self):
        self.procs.stop_all()
        for ns in (NS_C, NS_S):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["rm", "-rf", "/etc/netns/" + NS_C, "/etc/netns/" + NS_S])
        if os.path.exists(PIDFILE):
            os.remove(PIDFILE)

    # ---- path probe -------------------------------------------------------
    def probe(self, count=7):
        """ICMP echo through the wire: `count` single pings, each read from ping's
        summary line (microsecond resolution); RTT samples in ms."""
        samples = []
        for _ in range(count):
            r = sh(["ping", "-n", "-c", "1", "-W", "3", IP_S], ns=NS_C, check=False, timeout=10)
            m = re.search(r"= ([\d.]+)/", r.stdout)
            if m:
                samples.append(float(m.group(1)))
            time.sleep(0.1)
        return samples

    # ---- peers ------------------------------------------------------------
    def start_server(self, cmd, port=80, udp=False, name="server"):
        p = self.procs.start(cmd, ns=NS_S, name=name, stdout=open(os.path.join(self.dir, name + ".out"), "w"),
                             stderr=subprocess.STDOUT)
        flag = "-lunH" if udp else "-ltnH"
        for _ in range(100):
            r = sh(["ss", flag, "sport = :%d" % port], ns=NS_S, check=False)
            if r.stdout.strip():
                return p
            if p.poll() is not None:
                raise RuntimeError("server died: " + open(os.path.join(self.dir, name + ".out")).read())
            time.sleep(0.05)
        raise RuntimeError("server did not listen")

    def start_nginx(self, extra_http="", files=None):
        root = os.path.join(self.dir, "www")
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        for fn, size in (files or {}).items():
            p = os.path.join(root, fn.lstrip("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write((b"wireblame-lab-" * (size // 14 + 1))[:size])
            os.chmod(p, 0o644)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log %(d)s/nginx-access.log;
  client_body_temp_path %(d)s/tmp;
  proxy_temp_path %(d)s/tmp;
  fastcgi_temp_path %(d)s/tmp;
  uwsgi_temp_path %(d)s/tmp;
  scgi_temp_path %(d)s/tmp;
  default_type application/octet-stream;
  server_tokens off;
  %(extra)s
  server {
    listen %(ip)s:80;
    root %(root)s;
  }
}
""" % {"d": self.dir, "root": root, "ip": IP_S, "extra": extra_http})
        return self.start_server(["nginx", "-c", conf, "-p", self.dir], name="nginx")

    def peer_server(self, *args):
        return self.start_server([PY, os.path.join(HERE, "peer_server.py")] + list(args),
                                 name="peer_server")

    # ---- capture ----------------------------------------------------------
    def capture(self, side, path, snaplen=0):
        ns, tap = (NS_C, TAP_C) if side == "client" else (NS_S, TAP_S)
        # snaplen 0 would mean 262144 and, with --immediate-mode (TPACKET_V2),
        # only ~8 ring slots in the default buffer: bursts get dropped.  Frames
        # are at most 1514 bytes (MTU 1500), so 2048 loses nothing.
        snaplen = snaplen or 2048
        p = self.procs.start(["tcpdump", "-i", tap, "-w", path, "-s", str(snaplen), "-B", "16384", "-U",
                              "--immediate-mode", "-n", "-Z", "root"], ns=ns, name="tcpdump-" + side,
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        ev = threading.Event()
        p.lines = []

        def watch():
            for ln in p.stderr:
                p.lines.append(ln.strip())
                if "listening on" in ln:
                    ev.set()
        threading.Thread(target=watch, daemon=True).start()
        if not ev.wait(10):
            raise RuntimeError("tcpdump did not start")
        time.sleep(0.3)
        return p

    def stop_capture(self, p):
        """Stop tcpdump with SIGINT; return its statistics lines."""
        self.procs.stop(p, sig=signal.SIGINT)
        time.sleep(0.1)
        return [l for l in p.lines if "packets" in l]

    # ---- client -----------------------------------------------------------
    def client(self, cmd, timeout=120):
        p = self.procs.start(cmd, ns=NS_C, name="client", stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.procs.stop(p, sig=signal.SIGKILL)
            raise
        return p.returncode, out, err

    def peer_client(self, *args, timeout=120):
        return self.client([PY, os.path.join(HERE, "peer_client.py")] + list(args), timeout=timeout)

    def wire_events(self):
        if not os.path.exists(self.wirelog):
            return []
        return [json.loads(l) for l in open(self.wirelog) if l.strip()]
